// Turns two cumulative counter snapshots into per-window deltas, rates and loss percentages. Pure:
// the agent's counter loop and the CLI feed it snapshots read by agent/sources/counters.ts.
import type { CounterSnapshot, InterfaceCounters, SoftnetRow } from './types.js';

/** The change of one cumulative counter between two reads. */
export interface CounterDelta {
  readonly delta: bigint;
  /** True when the counter went backwards (driver reload, interface re-created, 32-bit wrap). */
  readonly reset: boolean;
}

/**
 * Change of a cumulative counter. When it went backwards the counter was reset (or wrapped) in
 * between; the best estimate is then its current value, which counts from the reset.
 */
export function counterDelta(prev: bigint, cur: bigint): CounterDelta {
  return cur >= prev ? { delta: cur - prev, reset: false } : { delta: cur, reset: true };
}

/** The snmp/netstat counters kept in a diff: the ones that count receive-side drops. */
export const SNMP_DROP_COUNTERS: readonly string[] = [
  'Ip.InDiscards',
  'Ip.InHdrErrors',
  'Ip.InAddrErrors',
  'Ip.InUnknownProtos',
  'IpExt.InNoRoutes',
  'IpExt.InTruncatedPkts',
  'IpExt.InCsumErrors',
  'Udp.InErrors',
  'Udp.NoPorts',
  'Udp.RcvbufErrors',
  'Udp.InCsumErrors',
  'Udp.MemErrors',
  'TcpExt.ListenOverflows',
  'TcpExt.ListenDrops',
  'TcpExt.TCPBacklogDrop',
  'TcpExt.PFMemallocDrop',
  'TcpExt.TCPReqQFullDrop',
  'TcpExt.TCPOFODrop',
  'TcpExt.TCPZeroWindowDrop',
  'TcpExt.TCPRcvQDrop',
  'Ip6.InDiscards',
  'Ip6.InHdrErrors',
  'Ip6.InAddrErrors',
  'Ip6.InNoRoutes',
  'Udp6.InErrors',
  'Udp6.NoPorts',
  'Udp6.RcvbufErrors',
  'Udp6.MemErrors',
];

/** One interface's change over the window. Deltas are numbers: a window's change fits easily. */
export interface InterfaceDiff {
  readonly name: string;
  readonly rxPackets: number;
  readonly rxDropped: number;
  readonly rxMissedErrors: number;
  readonly rxFifoErrors: number;
  readonly rxOverErrors: number;
  /** Drop-like `ethtool -S` counters present in both reads. */
  readonly ethtool: Readonly<Record<string, number>>;
  /**
   * Packets the interface lost, counted as /proc/net/dev's "drop" column does:
   * rx_dropped + rx_missed_errors. FIFO/over errors and ethtool counters overlap with these on
   * most drivers, so they are reported but not added.
   */
  readonly drops: number;
  readonly rxPacketsPerSecond: number;
  readonly dropsPerSecond: number;
  /** drops / (rx_packets + drops) x 100; 0 when nothing arrived. */
  readonly lossPercent: number;
  /** True when any of this interface's counters went backwards. */
  readonly reset: boolean;
}

/** One CPU's softnet change. */
export interface SoftnetCpuDiff {
  readonly cpu: number;
  readonly processed: number;
  readonly dropped: number;
  readonly timeSqueeze: number;
  readonly flowLimit: number;
}

/** Softnet (per-CPU backlog) change, summed over CPUs and per CPU. */
export interface SoftnetDiff {
  readonly processed: number;
  readonly dropped: number;
  readonly timeSqueeze: number;
  readonly flowLimit: number;
  readonly droppedPerSecond: number;
  readonly timeSqueezePerSecond: number;
  /** CPUs present in both reads. */
  readonly cpus: number;
  readonly perCpu: readonly SoftnetCpuDiff[];
}

/** Everything that changed between two counter snapshots. */
export interface CounterDiff {
  readonly seconds: number;
  /** Interfaces present in both snapshots. */
  readonly interfaces: readonly InterfaceDiff[];
  readonly softnet: SoftnetDiff;
  /** Deltas of {@link SNMP_DROP_COUNTERS} present in both snapshots, keyed "Proto.Name". */
  readonly snmp: Readonly<Record<string, number>>;
  readonly snmpPerSecond: Readonly<Record<string, number>>;
  /** Counters that went backwards, e.g. "eth0.rxDropped", "softnet.cpu1.dropped", "Udp.NoPorts". */
  readonly resets: readonly string[];
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const perSecond = (n: number, seconds: number): number => (seconds > 0 ? round3(n / seconds) : 0);

/** Loss percentage: drops / (received + drops) x 100, rounded to 3 decimals; 0 when nothing arrived. */
export function lossPercent(received: number, drops: number): number {
  const total = received + drops;
  return total > 0 ? round3((drops / total) * 100) : 0;
}

const IFACE_FIELDS = ['rxPackets', 'rxDropped', 'rxMissedErrors', 'rxFifoErrors', 'rxOverErrors'] as const;

function diffInterface(prev: InterfaceCounters, cur: InterfaceCounters, seconds: number, resets: string[]): InterfaceDiff {
  const d = { rxPackets: 0, rxDropped: 0, rxMissedErrors: 0, rxFifoErrors: 0, rxOverErrors: 0 };
  let reset = false;
  for (const f of IFACE_FIELDS) {
    const c = counterDelta(prev[f], cur[f]);
    d[f] = Number(c.delta);
    if (c.reset) {
      reset = true;
      resets.push(`${cur.name}.${f}`);
    }
  }
  const ethtool: Record<string, number> = {};
  for (const [k, v] of Object.entries(cur.ethtool)) {
    const p = prev.ethtool[k];
    if (p === undefined) continue;
    const c = counterDelta(p, v);
    ethtool[k] = Number(c.delta);
    if (c.reset) {
      reset = true;
      resets.push(`${cur.name}.ethtool.${k}`);
    }
  }
  const drops = d.rxDropped + d.rxMissedErrors;
  return {
    name: cur.name,
    ...d,
    ethtool,
    drops,
    rxPacketsPerSecond: perSecond(d.rxPackets, seconds),
    dropsPerSecond: perSecond(drops, seconds),
    lossPercent: lossPercent(d.rxPackets, drops),
    reset,
  };
}

/** CPUs without a row in the previous read (hot-plugged) have no baseline and are skipped. */
function diffSoftnet(prev: readonly SoftnetRow[], cur: readonly SoftnetRow[], seconds: number, resets: string[]): SoftnetDiff {
  const before = new Map(prev.map((r) => [r.cpu, r]));
  const perCpu: SoftnetCpuDiff[] = [];
  let processed = 0;
  let dropped = 0;
  let timeSqueeze = 0;
  let flowLimit = 0;
  for (const row of cur) {
    const p = before.get(row.cpu);
    if (p === undefined) continue;
    const fields = ['processed', 'dropped', 'timeSqueeze', 'flowLimit'] as const;
    const d = { processed: 0, dropped: 0, timeSqueeze: 0, flowLimit: 0 };
    for (const f of fields) {
      const c = counterDelta(p[f], row[f]);
      d[f] = Number(c.delta);
      if (c.reset) resets.push(`softnet.cpu${row.cpu}.${f}`);
    }
    perCpu.push({ cpu: row.cpu, ...d });
    processed += d.processed;
    dropped += d.dropped;
    timeSqueeze += d.timeSqueeze;
    flowLimit += d.flowLimit;
  }
  return {
    processed,
    dropped,
    timeSqueeze,
    flowLimit,
    droppedPerSecond: perSecond(dropped, seconds),
    timeSqueezePerSecond: perSecond(timeSqueeze, seconds),
    cpus: perCpu.length,
    perCpu,
  };
}

/**
 * Differences two snapshots taken by the same reader. Interfaces, CPUs and snmp counters missing
 * from either side are left out (no baseline). Counters that went backwards count from zero and
 * are listed in `resets`.
 * @param snmpKeys the "Proto.Name" counters to keep (default {@link SNMP_DROP_COUNTERS}).
 */
export function diffSnapshots(prev: CounterSnapshot, cur: CounterSnapshot, snmpKeys: readonly string[] = SNMP_DROP_COUNTERS): CounterDiff {
  const seconds = Math.max(0, (cur.atMs - prev.atMs) / 1000);
  const resets: string[] = [];
  const before = new Map(prev.interfaces.map((i) => [i.name, i]));
  const interfaces: InterfaceDiff[] = [];
  for (const iface of cur.interfaces) {
    const p = before.get(iface.name);
    if (p !== undefined) interfaces.push(diffInterface(p, iface, seconds, resets));
  }
  const softnet = diffSoftnet(prev.softnet, cur.softnet, seconds, resets);
  const snmp: Record<string, number> = {};
  const snmpPerSecond: Record<string, number> = {};
  for (const key of snmpKeys) {
    const p = prev.snmp.get(key);
    const c = cur.snmp.get(key);
    if (p === undefined || c === undefined) continue;
    const d = counterDelta(p, c);
    if (d.reset) resets.push(key);
    snmp[key] = Number(d.delta);
    snmpPerSecond[key] = perSecond(Number(d.delta), seconds);
  }
  return { seconds, interfaces, softnet, snmp, snmpPerSecond, resets };
}
