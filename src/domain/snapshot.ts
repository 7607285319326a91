// Builds one window's drop summary: kernel drop sites (symbolized, classified, with hints), the
// counters the tracepoint cannot see, and a loss ladder by layer. Pure. The body is what
// `dropwatch-operator snapshot --json` prints and what the agent publishes as its node report.
import { classifyDrop, type ClassifiedBy } from './classify.js';
import type { CounterDiff, InterfaceDiff } from './counters.js';
import type { SiteCount } from './sites.js';
import { formatSymbol, hexAddress } from './symbols.js';
import { LAYERS, type DropSourceKind, type Layer, type Symbolized, type Capabilities } from './types.js';

export interface DropSiteOut {
  readonly symbol: string;
  readonly offset: number;
  readonly size: number;
  readonly module?: string;
  readonly address: string;
  readonly location: string;
  readonly reason: string;
  readonly layer: Layer;
  readonly classifiedBy: ClassifiedBy;
  readonly actionable: boolean;
  readonly count: number;
  readonly rate: number;
  readonly hint: string;
}

export interface LadderStep {
  readonly layer: Layer;
  readonly drops: number;
  readonly rate: number;
  /** Which view gave the figure: the tracepoint's events or the kernel counters (the larger wins). */
  readonly from: 'tracepoint' | 'counters' | 'none';
}

export interface InterfaceOut {
  readonly name: string;
  readonly rxPackets: number;
  readonly rxPacketsPerSecond: number;
  readonly drops: number;
  readonly dropsPerSecond: number;
  /** drops / (received + drops) x 100; 0 when nothing arrived. */
  readonly lossPercent: number;
  readonly counters: Readonly<Record<string, number>>;
  readonly counterReset: boolean;
}

export interface DropSnapshot {
  readonly kernel: { readonly release: string; readonly machine: string };
  readonly sources: {
    readonly drops: DropSourceKind;
    readonly reason: string;
    readonly counters: boolean;
    readonly ignoredReasons: readonly string[];
    readonly onlyReasons: readonly string[];
    readonly capabilities: Capabilities;
  };
  readonly window: { readonly start: string; readonly end: string; readonly seconds: number };
  readonly totals: { readonly drops: number; readonly dropsPerSecond: number; readonly kernelEvents: number; readonly actionableDropsPerSecond: number };
  readonly ladder: readonly LadderStep[];
  readonly drops: readonly DropSiteOut[];
  readonly interfaces: readonly InterfaceOut[];
  readonly softnet: { readonly dropped: number; readonly timeSqueeze: number; readonly flowLimit: number; readonly cpus: number };
  readonly snmp: Readonly<Record<string, number>>;
  readonly monitor: {
    readonly lostEvents: number;
    readonly parseErrors: number;
    readonly events: number;
    /** CPU seconds the monitor process used in this window (user + system). */
    readonly cpuSeconds: number;
    /** Resident memory of the monitor process at the end of the window. */
    readonly rssBytes: number;
  };
  /** What could not be read this window (e.g. a vanished interface); empty when all is well. */
  readonly problems: readonly { readonly code: string; readonly message: string }[];
}

export interface SnapshotInput {
  readonly kernel: { readonly release: string; readonly machine: string };
  readonly source: { readonly kind: DropSourceKind; readonly reason: string };
  readonly capabilities: Capabilities;
  readonly ignoredReasons: readonly string[];
  /** When non-empty, only these reasons were recorded; counters for other reasons are left out too. */
  readonly onlyReasons?: readonly string[];
  readonly startMs: number;
  readonly endMs: number;
  readonly sites: readonly SiteCount[];
  readonly symbolize: (address: bigint) => Symbolized;
  readonly counters?: CounterDiff;
  /** Counter files that could not be read (reported, never fatal). */
  readonly counterProblems?: readonly { readonly code: string; readonly message: string }[];
  readonly monitor: { readonly lostEvents: number; readonly parseErrors: number; readonly cpuSeconds?: number; readonly rssBytes?: number };
  /** Keep at most this many sites, by count (the rest are summed into the ladder only). */
  readonly maxSites?: number;
}

/** Counters that tell the same story as a drop reason, so an ignored reason is ignored in both views. */
const SNMP_LADDER: ReadonlyArray<readonly [string, Layer, string]> = [
  ['Ip.InHdrErrors', 'ip', 'IP_INHDR'],
  ['Ip.InAddrErrors', 'ip', 'IP_INADDRERRORS'],
  ['Ip.InDiscards', 'ip', 'NOMEM'],
  ['IpExt.InNoRoutes', 'ip', 'IP_INNOROUTES'],
  ['IpExt.InTruncatedPkts', 'ip', 'PKT_TOO_SMALL'],
  ['Udp.NoPorts', 'transport', 'NO_SOCKET'],
  ['Udp.InCsumErrors', 'transport', 'UDP_CSUM'],
  ['Udp.RcvbufErrors', 'socket', 'SOCKET_RCVBUFF'],
  ['Udp.MemErrors', 'socket', 'PROTO_MEM'],
  ['TcpExt.TCPBacklogDrop', 'socket', 'SOCKET_BACKLOG'],
  ['TcpExt.ListenDrops', 'socket', 'TCP_LISTEN_OVERFLOW'],
  ['TcpExt.PFMemallocDrop', 'socket', 'PFMEMALLOC'],
];

const rate = (n: number, seconds: number): number => (seconds > 0 ? round(n / seconds) : 0);
const round = (x: number): number => Math.round(x * 1000) / 1000;

// ethtool counters that count packets the NIC itself could not take (no buffer, PHY discards).
const NIC_ETHTOOL = /out_of_buf|no_?buf|discards_phy|rx_missed|no_dma/i;

/**
 * Packets lost in the NIC before an skb existed. Drivers mirror the same event into several of
 * rx_missed_errors, rx_fifo_errors, rx_over_errors and their own ethtool names, so the largest is
 * taken rather than the sum.
 */
function nicDrops(i: InterfaceDiff): number {
  let n = Math.max(i.rxMissedErrors, i.rxFifoErrors, i.rxOverErrors);
  for (const [name, v] of Object.entries(i.ethtool)) if (NIC_ETHTOOL.test(name)) n = Math.max(n, v);
  return n;
}

/** Turns one window of kernel sites and counter deltas into the published summary. */
export function buildSnapshot(input: SnapshotInput): DropSnapshot {
  const seconds = Math.max(0, (input.endMs - input.startMs) / 1000);
  const ignored = new Set(input.ignoredReasons);
  const only = new Set(input.onlyReasons ?? []);
  // A counter joins the ladder only if the drops it counts were not filtered out of the tracepoint.
  const wanted = (reason: string | undefined): boolean =>
    reason === undefined ? only.size === 0 : !ignored.has(reason) && (only.size === 0 || only.has(reason));

  const drops = input.sites
    .map((site): DropSiteOut => {
      const sym = input.symbolize(site.location);
      const c = classifyDrop(site.reason, sym.symbol);
      const out: DropSiteOut = {
        symbol: sym.symbol,
        offset: sym.offset,
        size: sym.size,
        address: hexAddress(site.location),
        location: formatSymbol(sym),
        reason: site.reason,
        layer: c.layer,
        classifiedBy: c.classifiedBy,
        actionable: c.actionable,
        count: site.count,
        rate: rate(site.count, seconds),
        hint: c.hint,
      };
      return sym.module ? { ...out, module: sym.module } : out;
    })
    .sort((a, b) => b.count - a.count || a.location.localeCompare(b.location));

  const tracepointByLayer = new Map<Layer, number>();
  for (const d of drops) tracepointByLayer.set(d.layer, (tracepointByLayer.get(d.layer) ?? 0) + d.count);

  const countersByLayer = new Map<Layer, number>();
  const addCounter = (layer: Layer, n: number) => countersByLayer.set(layer, (countersByLayer.get(layer) ?? 0) + n);
  const interfaces: InterfaceOut[] = [];
  const c = input.counters;
  if (c) {
    for (const i of c.interfaces) {
      if (wanted(undefined)) {
        addCounter('nic', nicDrops(i));
        addCounter('driver', i.rxDropped);
      }
      interfaces.push({
        name: i.name,
        rxPackets: i.rxPackets,
        rxPacketsPerSecond: i.rxPacketsPerSecond,
        drops: i.drops,
        dropsPerSecond: i.dropsPerSecond,
        lossPercent: i.lossPercent,
        counters: { rx_dropped: i.rxDropped, rx_missed_errors: i.rxMissedErrors, rx_fifo_errors: i.rxFifoErrors, rx_over_errors: i.rxOverErrors, ...i.ethtool },
        counterReset: i.reset,
      });
    }
    if (wanted('CPU_BACKLOG')) addCounter('backlog', c.softnet.dropped);
    for (const [name, layer, reason] of SNMP_LADDER) {
      const v = c.snmp[name];
      if (v !== undefined && wanted(reason)) addCounter(layer, v);
    }
  }

  const ladder = LAYERS.map((layer): LadderStep => {
    const t = tracepointByLayer.get(layer) ?? 0;
    const k = countersByLayer.get(layer) ?? 0;
    const n = Math.max(t, k);
    return { layer, drops: n, rate: rate(n, seconds), from: n === 0 ? 'none' : t >= k ? 'tracepoint' : 'counters' };
  });
  const total = ladder.reduce((a, s) => a + s.drops, 0);
  const kernelEvents = drops.reduce((a, d) => a + d.count, 0);
  const actionable = drops.filter((d) => d.actionable).reduce((a, d) => a + d.count, 0);

  return {
    kernel: input.kernel,
    sources: {
      drops: input.source.kind,
      reason: input.source.reason,
      counters: c !== undefined,
      ignoredReasons: [...input.ignoredReasons],
      onlyReasons: [...(input.onlyReasons ?? [])],
      capabilities: input.capabilities,
    },
    window: { start: new Date(input.startMs).toISOString(), end: new Date(input.endMs).toISOString(), seconds: round(seconds) },
    totals: { drops: total, dropsPerSecond: rate(total, seconds), kernelEvents, actionableDropsPerSecond: rate(actionable, seconds) },
    ladder,
    drops: input.maxSites === undefined ? drops : drops.slice(0, input.maxSites),
    interfaces,
    softnet: c ? { dropped: c.softnet.dropped, timeSqueeze: c.softnet.timeSqueeze, flowLimit: c.softnet.flowLimit, cpus: c.softnet.cpus } : { dropped: 0, timeSqueeze: 0, flowLimit: 0, cpus: 0 },
    snmp: c ? c.snmp : {},
    monitor: {
      lostEvents: input.monitor.lostEvents,
      parseErrors: input.monitor.parseErrors,
      events: kernelEvents,
      cpuSeconds: round(input.monitor.cpuSeconds ?? 0),
      rssBytes: input.monitor.rssBytes ?? 0,
    },
    problems: [...(input.counterProblems ?? [])].map((p) => ({ code: p.code, message: p.message })),
  };
}
