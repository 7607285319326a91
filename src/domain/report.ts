// Turns the agent's per-window DropSnapshot into the DropWatchNodeReport status the CRD defines,
// and decides when a new window differs enough to be worth a write. Pure; called by the agent's
// publisher (and by the operator for report names).
import type {
  AgentCapabilities,
  DropSite,
  DropWatchNodeReportStatus,
  InterfaceReport,
  LadderStep,
  LossLadder,
  SourceName,
} from '../api/generated/types.js';
import type { DropSnapshot } from './snapshot.js';
import { LAYERS, type Layer } from './types.js';
import { DomainConfigError } from './errors.js';

/** Bounds from crds/dropwatch.dev_dropwatchnodereports.yaml; the API server rejects anything longer. */
export const REPORT_LIMITS = {
  drops: 50,
  interfaces: 64,
  interfaceCounters: 32,
  unknownReasons: 32,
  symbol: 256,
  module: 64,
  reason: 64,
  hint: 512,
  version: 64,
  kernel: 128,
  degraded: 1024,
  interfaceName: 15,
  policyName: 40,
  nodeName: 253,
} as const;

/** What the agent knows about itself that the snapshot does not carry. */
export interface ReportMeta {
  /** The agent's version, e.g. 0.1.0. */
  readonly agentVersion: string;
  /** metadata.generation of the policy the agent was started for. */
  readonly policyGeneration: number;
  /** Time of the write; becomes lastHeartbeatTime. */
  readonly now: Date;
  /**
   * The sources the policy asked for (spec.sources with enabled: true). When given, a requested
   * source that is not live is named in status.agent.degraded.
   */
  readonly requestedSources?: readonly SourceName[];
  /** spec.ignoreReasons names this kernel does not define (the tracefs source finds them). */
  readonly unknownReasons?: readonly string[];
  /** Extra degradation notes from the agent (e.g. a failed tracefs setup), joined into status.agent.degraded. */
  readonly degradedNotes?: readonly string[];
}

const SYSFS_INTERFACE_COUNTERS = new Set(['rx_dropped', 'rx_missed_errors', 'rx_fifo_errors', 'rx_over_errors']);
const ADDRESS = /^0x[0-9a-f]{1,16}$/;

/** A non-negative integer for an int64 field (JSON numbers; exact up to 2^53). */
const int64 = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
/** A non-negative rate, rounded to 3 decimals so identical windows serialise identically. */
const rate = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.round(n * 1000) / 1000 : 0);
const cap = (s: string, max: number): string => (s.length <= max ? s : s.slice(0, max));

/** Which of the policy's source names are live, from the snapshot's drop source and counters. */
export function liveSources(snapshot: DropSnapshot): SourceName[] {
  const out: SourceName[] = [];
  if (snapshot.sources.drops === 'tracefs-ring') out.push('tracepoint');
  if (snapshot.sources.drops === 'hist-trigger') out.push('histTriggers');
  if (snapshot.sources.counters) out.push('counters');
  return out;
}

function capabilities(snapshot: DropSnapshot): AgentCapabilities {
  const c = snapshot.sources.capabilities;
  return {
    tracefs: c.tracefs.available && c.tracefs.writable,
    reasonField: c.kfreeSkb.reasonField,
    kallsyms: c.kallsyms.visible,
    histTriggers: c.histTriggers,
    dropMonitor: c.dropMonitor,
    ethtool: c.ethtool,
  };
}

/**
 * Why the agent runs with less than it was asked for; "" when nothing is missing. Counts as
 * degraded: a requested source that is not live (hist triggers falling back to the ring is noted,
 * since both give the same data), hidden kernel symbols, a kernel without drop reasons, and
 * counter files that could not be read this window.
 */
export function degradedReason(snapshot: DropSnapshot, meta: Pick<ReportMeta, 'requestedSources' | 'degradedNotes'>): string {
  const live = new Set(liveSources(snapshot));
  const notes: string[] = [];
  const asked = new Set(meta.requestedSources ?? []);
  const kernelAsked = asked.has('tracepoint') || asked.has('histTriggers');
  if (kernelAsked && snapshot.sources.drops === 'counters-only') {
    notes.push(`no kernel drop source (${snapshot.sources.reason})`);
  } else if (asked.has('histTriggers') && !live.has('histTriggers') && live.has('tracepoint')) {
    notes.push('hist triggers unavailable; using the tracefs ring');
  }
  if (asked.has('counters') && !live.has('counters')) notes.push('counters unavailable');
  const caps = snapshot.sources.capabilities;
  if (snapshot.sources.drops !== 'counters-only') {
    if (!caps.kallsyms.visible) notes.push('kernel symbols hidden; drop sites are hex addresses');
    if (!caps.kfreeSkb.reasonField) notes.push('kernel records no drop reasons; sites classified by location');
  }
  for (const p of snapshot.problems) notes.push(`${p.code}: ${p.message}`);
  for (const n of meta.degradedNotes ?? []) notes.push(n);
  return cap(notes.join('; '), REPORT_LIMITS.degraded);
}

function ladder(snapshot: DropSnapshot): LossLadder {
  const byLayer = new Map(snapshot.ladder.map((s) => [s.layer, s]));
  const out: Partial<Record<Layer, LadderStep>> = {};
  for (const layer of LAYERS) {
    const s = byLayer.get(layer);
    out[layer] = { drops: int64(s?.drops ?? 0), dropsPerSecond: rate(s?.rate ?? 0) };
  }
  return out;
}

function dropSite(d: DropSnapshot['drops'][number]): DropSite {
  const site: DropSite = {
    symbol: cap(d.symbol, REPORT_LIMITS.symbol),
    offset: int64(d.offset),
    reason: cap(d.reason, REPORT_LIMITS.reason),
    layer: d.layer,
    count: int64(d.count),
    rate: rate(d.rate),
  };
  const extra: { address?: string; module?: string; hint?: string } = {};
  if (ADDRESS.test(d.address)) extra.address = d.address;
  if (d.module) extra.module = cap(d.module, REPORT_LIMITS.module);
  if (d.hint) extra.hint = cap(d.hint, REPORT_LIMITS.hint);
  return { ...site, ...extra };
}

/**
 * Non-zero counters of one interface, keyed as the CRD's example: the sysfs statistics by their
 * own names, driver counters as "ethtool:<name>". At most 32, the largest kept.
 */
function interfaceCounters(counters: Readonly<Record<string, number>>): Record<string, number> {
  const entries = Object.entries(counters)
    .map(([k, v]): [string, number] => [SYSFS_INTERFACE_COUNTERS.has(k) ? k : `ethtool:${k}`, int64(v)])
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, REPORT_LIMITS.interfaceCounters)
    .sort((a, b) => a[0].localeCompare(b[0]));
  return Object.fromEntries(entries);
}

function interfaceReport(i: DropSnapshot['interfaces'][number]): InterfaceReport {
  const drops = interfaceCounters(i.counters);
  const out: InterfaceReport = {
    name: cap(i.name, REPORT_LIMITS.interfaceName),
    rxPackets: int64(i.rxPackets),
    lossPercent: Math.min(100, rate(i.lossPercent)),
  };
  return Object.keys(drops).length > 0 ? { ...out, drops } : out;
}

/**
 * Maps one window's snapshot onto status of a DropWatchNodeReport, within the CRD's bounds: at
 * most 50 drop sites (the snapshot is sorted busiest first), 64 interfaces (the lossiest kept,
 * then by name), 32 counters per interface; strings cut to their maxLength; int64 fields as
 * non-negative integers; every ladder layer present (zeros included) so consecutive reports
 * differ only where the numbers do.
 */
export function toReportStatus(snapshot: DropSnapshot, meta: ReportMeta): DropWatchNodeReportStatus {
  const interfaces = [...snapshot.interfaces]
    .sort((a, b) => b.lossPercent - a.lossPercent || b.drops - a.drops || a.name.localeCompare(b.name))
    .slice(0, REPORT_LIMITS.interfaces)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(interfaceReport);
  const unknownReasons = [...new Set(meta.unknownReasons ?? [])]
    .sort()
    .slice(0, REPORT_LIMITS.unknownReasons)
    .map((r) => cap(r, REPORT_LIMITS.reason));
  return {
    policyGeneration: int64(meta.policyGeneration),
    window: { start: snapshot.window.start, end: snapshot.window.end, seconds: rate(snapshot.window.seconds) },
    agent: {
      version: cap(meta.agentVersion, REPORT_LIMITS.version),
      kernel: cap(snapshot.kernel.release, REPORT_LIMITS.kernel),
      sources: liveSources(snapshot),
      capabilities: capabilities(snapshot),
      unknownReasons,
      degraded: degradedReason(snapshot, meta),
    },
    totals: { drops: int64(snapshot.totals.drops), dropsPerSecond: rate(snapshot.totals.dropsPerSecond) },
    ladder: ladder(snapshot),
    drops: snapshot.drops.slice(0, REPORT_LIMITS.drops).map(dropSite),
    interfaces,
    softnet: {
      dropped: int64(snapshot.softnet.dropped),
      timeSqueeze: int64(snapshot.softnet.timeSqueeze),
      flowLimit: int64(snapshot.softnet.flowLimit),
    },
    monitor: { lostEvents: int64(snapshot.monitor.lostEvents), parseErrors: int64(snapshot.monitor.parseErrors) },
    lastHeartbeatTime: meta.now.toISOString(),
  };
}

/** Tuning of {@link isMaterialChange}. */
export interface MaterialChangeOptions {
  /** A rate must move by more than this fraction of the last written value (default 0.2). */
  readonly relativeTolerance?: number;
  /** ...and by more than this many drops per second (default 1). */
  readonly absoluteFloor?: number;
  /** How many of the busiest sites form the "top sites" set that must not change (default 5). */
  readonly topSites?: number;
  /** An interface's loss percent must also move by more than this many percentage points (default 0.1). */
  readonly lossPercentFloor?: number;
}

/** Identity of a drop site across windows: where and why (the rate is compared separately). */
export const siteKey = (s: Pick<DropSite, 'symbol' | 'offset' | 'reason'>): string => `${s.symbol}+${s.offset ?? 0}:${s.reason}`;

function moved(prev: number, next: number, rel: number, floor: number): boolean {
  const delta = Math.abs(next - prev);
  return delta > floor && delta > rel * prev;
}

function topSiteSet(s: DropWatchNodeReportStatus, n: number, floor: number): Set<string> {
  return new Set(
    (s.drops ?? [])
      .filter((d) => (d.rate ?? 0) >= floor)
      .slice(0, n)
      .map(siteKey),
  );
}

const sameSet = <T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean => a.size === b.size && [...a].every((x) => b.has(x));
const sameList = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean =>
  sameSet(new Set(a ?? []), new Set(b ?? []));

function sameCapabilities(a: AgentCapabilities | undefined, b: AgentCapabilities | undefined): boolean {
  const keys: (keyof AgentCapabilities)[] = ['tracefs', 'reasonField', 'kallsyms', 'histTriggers', 'dropMonitor', 'ethtool'];
  return keys.every((k) => (a?.[k] ?? false) === (b?.[k] ?? false));
}

/**
 * Whether the agent must write `next` now rather than wait for the heartbeat. True when:
 * there is no previous write; the policy generation, agent version, kernel, live sources,
 * capability probe, unknown reasons or degradation note changed; lost events appeared (zero
 * before, non-zero now); the set of the busiest sites changed (the first `topSites` sites with a
 * rate of at least `absoluteFloor`, order ignored); the total rate or any ladder layer's rate moved
 * by more than `relativeTolerance` of the written value AND more than `absoluteFloor` drops/s; the
 * set of interfaces changed, or an interface's loss percent moved by more than `relativeTolerance`
 * AND `lossPercentFloor` points. Anything else (small wobble, the same sites in another order,
 * lost events going back to zero) waits for the heartbeat.
 */
export function isMaterialChange(
  prev: DropWatchNodeReportStatus | undefined,
  next: DropWatchNodeReportStatus,
  opts: MaterialChangeOptions = {},
): boolean {
  if (prev === undefined) return true;
  const rel = opts.relativeTolerance ?? 0.2;
  const floor = opts.absoluteFloor ?? 1;
  const lossFloor = opts.lossPercentFloor ?? 0.1;
  const topN = opts.topSites ?? 5;

  if ((prev.policyGeneration ?? 0) !== (next.policyGeneration ?? 0)) return true;
  const pa = prev.agent;
  const na = next.agent;
  if (pa?.version !== na?.version || pa?.kernel !== na?.kernel) return true;
  if ((pa?.degraded ?? '') !== (na?.degraded ?? '')) return true;
  if (!sameList(pa?.sources, na?.sources) || !sameList(pa?.unknownReasons, na?.unknownReasons)) return true;
  if (!sameCapabilities(pa?.capabilities, na?.capabilities)) return true;

  if ((prev.monitor?.lostEvents ?? 0) === 0 && (next.monitor?.lostEvents ?? 0) > 0) return true;

  if (!sameSet(topSiteSet(prev, topN, floor), topSiteSet(next, topN, floor))) return true;

  if (moved(prev.totals?.dropsPerSecond ?? 0, next.totals?.dropsPerSecond ?? 0, rel, floor)) return true;
  for (const layer of LAYERS) {
    if (moved(prev.ladder?.[layer]?.dropsPerSecond ?? 0, next.ladder?.[layer]?.dropsPerSecond ?? 0, rel, floor)) return true;
  }

  const prevIfs = new Map((prev.interfaces ?? []).map((i) => [i.name, i]));
  const nextIfs = next.interfaces ?? [];
  if (prevIfs.size !== nextIfs.length) return true;
  for (const i of nextIfs) {
    const p = prevIfs.get(i.name);
    if (p === undefined) return true;
    if (moved(p.lossPercent ?? 0, i.lossPercent ?? 0, rel, lossFloor)) return true;
  }
  return false;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const OBJECT_NAME_MAX = 253;

/** A report name that the API server would reject, with why. */
export class ReportNameError extends DomainConfigError {
  constructor(message: string) {
    super('ReportNameError', message, 'Use a policy name of at most 40 characters and a node name short enough that <policy>.<node> fits in 253.');
  }
}

/**
 * The DropWatchNodeReport name for a policy and node, `<policy>.<node>`, checked against the
 * CRD: the policy a DNS label of at most 40 characters, the node a DNS subdomain, the whole name
 * at most 253 characters (so node names longer than 212 characters cannot get a report).
 * Throws {@link ReportNameError} otherwise.
 */
export function reportName(policy: string, node: string): string {
  if (policy.length === 0 || policy.length > REPORT_LIMITS.policyName || !DNS_LABEL.test(policy)) {
    throw new ReportNameError(`policy name "${policy}" must be a DNS label (lower-case letters, digits, '-') of at most ${REPORT_LIMITS.policyName} characters`);
  }
  if (node.length === 0 || node.length > REPORT_LIMITS.nodeName || !DNS_SUBDOMAIN.test(node)) {
    throw new ReportNameError(`node name "${node}" must be a DNS subdomain of at most ${REPORT_LIMITS.nodeName} characters`);
  }
  const name = `${policy}.${node}`;
  if (name.length > OBJECT_NAME_MAX) {
    throw new ReportNameError(`report name for policy "${policy}" and node "${node}" would be ${name.length} characters; the limit is ${OBJECT_NAME_MAX}`);
  }
  return name;
}
