// What `kubectl dropwatch` shows, computed from what it read: one row per (node, policy) with a
// state, the fleet's top drop sites summed across nodes, and one node's detail. Pure (the clock
// is passed in); src/plugin/main.ts reads the API and calls it, src/plugin/format.ts prints it.
import type { DropLayer, DropSite, DropWatchNodeReport, DropWatchPolicySpec } from '../api/generated/types.js';
import { classifyDrop } from '../domain/classify.js';
import { NodeConditionType, PacketLossReasons } from '../domain/conditions.js';
import { staleAfterMs } from '../domain/evaluate.js';
import { formatSite } from '../domain/policy-status.js';
import { matchesSelector } from '../domain/selector.js';
import { LAYERS } from '../domain/types.js';

/** A report as listed (the parts of metadata the plugin uses). */
export type ReportInput = DropWatchNodeReport & { readonly metadata: { readonly name: string } };

/** A policy as listed; `spec` may be partial when the object is unusual. */
export interface PolicyInput {
  readonly metadata: { readonly name: string };
  readonly spec?: Partial<Pick<DropWatchPolicySpec, 'nodeSelector' | 'heartbeatInterval' | 'thresholds'>>;
}

/** A Node as listed: labels and conditions. */
export interface NodeInput {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly conditions: readonly { readonly type: string; readonly status: string; readonly reason?: string; readonly message?: string }[];
}

/** Everything the views look at. */
export interface ViewInput {
  readonly reports: readonly ReportInput[];
  /** Every policy, or undefined when they could not be read (then nothing is NO REPORT). */
  readonly policies?: readonly PolicyInput[];
  /** Every Node, or undefined when they could not be read (then states come from reports alone). */
  readonly nodes?: readonly NodeInput[];
  readonly now: Date;
}

/**
 * A row's state, worst first:
 * Critical / Warning: the node's PacketLoss condition is True (DropThresholdCritical / Warning);
 * STALE: the report's last heartbeat is older than twice the policy's heartbeatInterval, the
 *   operator's own staleness rule (so the plugin and the policy status agree);
 * NO REPORT: the policy's nodeSelector selects the node, and it has no report;
 * Unknown: PacketLoss is Unknown (the operator has no fresh data for some threshold);
 * Healthy: PacketLoss is False;
 * Reporting: a fresh report, and the policy judges nothing (no thresholds, or no condition yet).
 */
export const NODE_STATES = ['Critical', 'Warning', 'STALE', 'NO REPORT', 'Unknown', 'Healthy', 'Reporting'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** The PacketLoss condition as shown. */
export interface ConditionView {
  readonly status: string;
  readonly reason: string;
  readonly message: string;
}

/** One row of `kubectl dropwatch nodes`. */
export interface NodeRow {
  readonly node: string;
  readonly policy: string;
  readonly state: NodeState;
  /** The DropWatchNodeReport's name; absent for NO REPORT rows. */
  readonly report?: string;
  readonly dropsPerSecond?: number;
  /** Drops/s at sites a person should act on (not benign drops such as NO_SOCKET or OTHERHOST). */
  readonly actionablePerSecond?: number;
  /** The ladder layer with the most drops/s (absent when nothing dropped). */
  readonly topLayer?: DropLayer;
  /** The busiest site, "function+0xoff (REASON)". */
  readonly topSite?: string;
  readonly lostEvents?: number;
  /** lastHeartbeatTime of the report (RFC 3339). */
  readonly lastHeartbeatTime?: string;
  /** Seconds since lastHeartbeatTime. */
  readonly ageSeconds?: number;
  readonly kernel?: string;
  readonly sources?: readonly string[];
  /** The highest loss percent among the node's interfaces. */
  readonly maxLossPercent?: number;
  readonly condition?: ConditionView;
}

/** heartbeatInterval's default in the CRD, for reports whose policy cannot be read. */
const DEFAULT_HEARTBEAT = '60s';

/** How old a report may get before it is STALE: the operator's own rule (staleAfterMs), so both agree. */
export function staleAfterMsFor(policy: PolicyInput | undefined): number {
  try {
    return staleAfterMs({ heartbeatInterval: policy?.spec?.heartbeatInterval ?? DEFAULT_HEARTBEAT });
  } catch {
    return staleAfterMs({ heartbeatInterval: DEFAULT_HEARTBEAT });
  }
}

/** True when the report has no readable heartbeat or its last one is older than the policy allows. */
function isStale(report: ReportInput, policy: PolicyInput | undefined, nowMs: number): boolean {
  const hb = heartbeatMs(report);
  return hb === undefined || nowMs - hb > staleAfterMsFor(policy);
}

/** A site's drops per second (the window's count over its length when the agent gave no rate). */
export function siteRate(d: DropSite, windowSeconds: number | undefined): number {
  if (d.rate !== undefined) return d.rate;
  return windowSeconds !== undefined && windowSeconds > 0 ? d.count / windowSeconds : 0;
}

/** Sums the rates of the sites that are actionable by the domain's classification. */
export function actionableRate(report: ReportInput): number {
  const seconds = report.status?.window?.seconds;
  const sum = (report.status?.drops ?? [])
    .filter((d) => classifyDrop(d.reason, d.symbol).actionable)
    .reduce((a, d) => a + siteRate(d, seconds), 0);
  return round3(sum);
}

/** The layer with the highest rate in the report's ladder, if any layer dropped. */
export function topLayer(report: ReportInput): DropLayer | undefined {
  let best: DropLayer | undefined;
  let bestRate = 0;
  for (const layer of LAYERS) {
    const r = report.status?.ladder?.[layer]?.dropsPerSecond ?? 0;
    if (r > bestRate) {
      best = layer;
      bestRate = r;
    }
  }
  return best;
}

/** The report's sites, busiest first. */
export function sitesByRate(report: ReportInput): DropSite[] {
  const seconds = report.status?.window?.seconds;
  return [...(report.status?.drops ?? [])].sort((a, b) => siteRate(b, seconds) - siteRate(a, seconds));
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function heartbeatMs(report: ReportInput): number | undefined {
  const t = report.status?.lastHeartbeatTime;
  if (t === undefined) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

function packetLoss(node: NodeInput | undefined): ConditionView | undefined {
  const c = node?.conditions.find((x) => x.type === NodeConditionType);
  return c === undefined ? undefined : { status: c.status, reason: c.reason ?? '', message: c.message ?? '' };
}

function judges(policy: PolicyInput | undefined): boolean {
  // An unreadable policy: trust the node's condition.
  return policy === undefined || (policy.spec?.thresholds ?? []).length > 0;
}

function stateOf(report: ReportInput, policy: PolicyInput | undefined, cond: ConditionView | undefined, nowMs: number): NodeState {
  const conditionState = (): NodeState | undefined => {
    if (cond === undefined || !judges(policy)) return undefined;
    if (cond.status === 'True') return cond.reason === PacketLossReasons.ThresholdCritical ? 'Critical' : 'Warning';
    if (cond.status === 'False') return 'Healthy';
    return 'Unknown';
  };
  const fromCondition = conditionState();
  // A breach outranks staleness: the node was losing packets when it last reported.
  if (fromCondition === 'Critical' || fromCondition === 'Warning') return fromCondition;
  if (isStale(report, policy, nowMs)) return 'STALE';
  return fromCondition ?? 'Reporting';
}

/** The row of one report. */
export function reportRow(report: ReportInput, policy: PolicyInput | undefined, node: NodeInput | undefined, now: Date): NodeRow {
  const s = report.status;
  const cond = packetLoss(node);
  const hb = heartbeatMs(report);
  const top = sitesByRate(report)[0];
  const losses = (s?.interfaces ?? []).map((i) => i.lossPercent).filter((x): x is number => x !== undefined);
  const layer = topLayer(report);
  return {
    node: report.spec.nodeName,
    policy: report.spec.policy,
    state: stateOf(report, policy, cond, now.getTime()),
    report: report.metadata.name,
    dropsPerSecond: s?.totals?.dropsPerSecond ?? 0,
    actionablePerSecond: actionableRate(report),
    ...(layer === undefined ? {} : { topLayer: layer }),
    ...(top === undefined ? {} : { topSite: formatSite(top) }),
    lostEvents: s?.monitor?.lostEvents ?? 0,
    ...(s?.lastHeartbeatTime === undefined ? {} : { lastHeartbeatTime: s.lastHeartbeatTime }),
    ...(hb === undefined ? {} : { ageSeconds: Math.max(0, Math.floor((now.getTime() - hb) / 1000)) }),
    ...(s?.agent?.kernel === undefined ? {} : { kernel: s.agent.kernel }),
    ...(s?.agent?.sources === undefined ? {} : { sources: [...s.agent.sources] }),
    ...(losses.length > 0 ? { maxLossPercent: Math.max(...losses) } : {}),
    ...(cond === undefined ? {} : { condition: cond }),
  };
}

/** How `nodes` sorts: by drop rate (worst first; NO REPORT rows last) or by node name. */
export type NodeSort = 'rate' | 'name';

/**
 * One row per report (filtered to `policy` when given), plus a NO REPORT row for every Node a
 * policy's nodeSelector selects that has no report of that policy (when policies and Nodes could
 * be read). Sorted by `sort`; ties by node, then policy.
 */
export function nodeRows(input: ViewInput, opts: { policy?: string; sort?: NodeSort } = {}): NodeRow[] {
  const policies = new Map((input.policies ?? []).map((p) => [p.metadata.name, p]));
  const nodes = new Map((input.nodes ?? []).map((n) => [n.name, n]));
  const reports = input.reports.filter((r) => opts.policy === undefined || r.spec.policy === opts.policy);
  const rows = reports.map((r) => reportRow(r, policies.get(r.spec.policy), nodes.get(r.spec.nodeName), input.now));
  if (input.policies !== undefined && input.nodes !== undefined) {
    const have = new Set(reports.map((r) => `${r.spec.policy}\u0000${r.spec.nodeName}`));
    for (const p of input.policies) {
      if (opts.policy !== undefined && p.metadata.name !== opts.policy) continue;
      if (p.spec?.nodeSelector === undefined) continue;
      for (const n of input.nodes) {
        if (have.has(`${p.metadata.name}\u0000${n.name}`) || !matchesSelector(p.spec.nodeSelector, n.labels)) continue;
        const cond = packetLoss(n);
        rows.push({ node: n.name, policy: p.metadata.name, state: 'NO REPORT', ...(cond === undefined ? {} : { condition: cond }) });
      }
    }
  }
  const byName = (a: NodeRow, b: NodeRow): number => a.node.localeCompare(b.node) || a.policy.localeCompare(b.policy);
  const rate = (r: NodeRow): number => r.dropsPerSecond ?? -1;
  return rows.sort(opts.sort === 'name' ? byName : (a, b) => rate(b) - rate(a) || byName(a, b));
}

// ---------------------------------------------------------------------------------------------
// Fleet-wide top sites

/** One site of `kubectl dropwatch top`: a kernel function and reason summed across nodes. */
export interface FleetSite {
  readonly symbol: string;
  readonly reason: string;
  readonly layer: DropLayer;
  /** "function+0xoff (REASON)" as seen on the worst node. */
  readonly site: string;
  /** Drops per second summed over the nodes (one figure per node; see {@link fleetTopSites}). */
  readonly dropsPerSecond: number;
  /** How many nodes drop here. */
  readonly nodes: number;
  readonly worstNode: string;
  readonly worstNodeDropsPerSecond: number;
  readonly actionable: boolean;
  readonly hint?: string;
}

/** The result of {@link fleetTopSites}: the sites, and what was left out. */
export interface FleetTop {
  readonly sites: readonly FleetSite[];
  /** Fresh reports that went into the sums. */
  readonly reports: number;
  /** Nodes those reports cover. */
  readonly nodes: number;
  /** Reports left out because they are stale. */
  readonly staleReports: number;
}

interface SiteAcc {
  symbol: string;
  reason: string;
  layer: DropLayer;
  site: string;
  hint?: string;
  rate: number;
}

/**
 * Sums each (function, reason) across nodes, busiest first, at most `limit`. Sites are grouped
 * like the policy status' topSites: by function and reason, not offset, since offsets differ
 * between kernel builds. Stale reports are left out (their rates are old). A node that several
 * policies cover reports the same kernel drops once per policy: it counts once, with its highest
 * figure, so overlapping policies do not double the fleet's numbers.
 */
export function fleetTopSites(input: ViewInput, opts: { policy?: string; limit?: number } = {}): FleetTop {
  const policies = new Map((input.policies ?? []).map((p) => [p.metadata.name, p]));
  const nowMs = input.now.getTime();
  let stale = 0;
  let used = 0;
  // node -> site key -> that node's figure
  const perNode = new Map<string, Map<string, SiteAcc>>();
  for (const r of input.reports) {
    if (opts.policy !== undefined && r.spec.policy !== opts.policy) continue;
    if (isStale(r, policies.get(r.spec.policy), nowMs)) {
      stale++;
      continue;
    }
    used++;
    const seconds = r.status?.window?.seconds;
    // Within one report, several offsets of one function with one reason add up.
    const mine = new Map<string, SiteAcc>();
    for (const d of r.status?.drops ?? []) {
      const key = `${d.symbol}\u0000${d.reason}`;
      const rate = siteRate(d, seconds);
      const a = mine.get(key);
      if (a === undefined) {
        mine.set(key, { symbol: d.symbol, reason: d.reason, layer: d.layer, site: formatSite(d), ...(d.hint === undefined ? {} : { hint: d.hint }), rate });
      } else {
        a.rate += rate;
      }
    }
    const node = perNode.get(r.spec.nodeName) ?? new Map<string, SiteAcc>();
    perNode.set(r.spec.nodeName, node);
    for (const [key, a] of mine) {
      const prev = node.get(key);
      if (prev === undefined || a.rate > prev.rate) node.set(key, a);
    }
  }
  const fleet = new Map<string, { first: SiteAcc; rate: number; nodes: number; worst: string; worstRate: number }>();
  for (const [nodeName, sites] of [...perNode].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [key, a] of sites) {
      const f = fleet.get(key);
      if (f === undefined) {
        fleet.set(key, { first: a, rate: a.rate, nodes: 1, worst: nodeName, worstRate: a.rate });
      } else {
        f.rate += a.rate;
        f.nodes++;
        if (a.rate > f.worstRate) {
          f.worst = nodeName;
          f.worstRate = a.rate;
          f.first = a;
        }
      }
    }
  }
  const sites = [...fleet.values()]
    .filter((f) => f.rate > 0)
    .sort((a, b) => b.rate - a.rate || a.first.symbol.localeCompare(b.first.symbol) || a.first.reason.localeCompare(b.first.reason))
    .slice(0, opts.limit ?? 10)
    .map(
      (f): FleetSite => ({
        symbol: f.first.symbol,
        reason: f.first.reason,
        layer: f.first.layer,
        site: f.first.site,
        dropsPerSecond: round3(f.rate),
        nodes: f.nodes,
        worstNode: f.worst,
        worstNodeDropsPerSecond: round3(f.worstRate),
        actionable: classifyDrop(f.first.reason, f.first.symbol).actionable,
        ...(f.first.hint === undefined ? {} : { hint: f.first.hint }),
      }),
    );
  return { sites, reports: used, nodes: perNode.size, staleReports: stale };
}

// ---------------------------------------------------------------------------------------------
// One node

/** One site in the node view. */
export interface SiteView {
  readonly count: number;
  readonly rate: number;
  readonly layer: DropLayer;
  readonly reason: string;
  /** "function+0xoff [module]". */
  readonly location: string;
  readonly hint: string;
  readonly actionable: boolean;
}

/** One interface in the node view. */
export interface InterfaceView {
  readonly name: string;
  readonly rxPackets: number;
  readonly drops: number;
  readonly counters: Readonly<Record<string, number>>;
  readonly lossPercent: number;
}

/** One report of the node, ready to print. */
export interface ReportView {
  readonly row: NodeRow;
  readonly agentVersion?: string;
  readonly window?: { readonly start?: string; readonly end?: string; readonly seconds?: number };
  readonly degraded?: string;
  readonly unknownReasons: readonly string[];
  readonly totalDrops: number;
  readonly sites: readonly SiteView[];
  readonly ladder: readonly { readonly layer: DropLayer; readonly drops: number; readonly rate: number }[];
  readonly interfaces: readonly InterfaceView[];
  readonly softnet: { readonly dropped: number; readonly timeSqueeze: number; readonly flowLimit: number };
  readonly monitor: { readonly lostEvents: number; readonly parseErrors: number };
  /** One remediation per distinct hint of the busiest sites, actionable first. */
  readonly hints: readonly { readonly site: string; readonly hint: string; readonly actionable: boolean }[];
}

/** "function+0xoff [module]" (no size: the report does not carry it). */
export function siteLocation(d: Pick<DropSite, 'symbol' | 'offset' | 'module'>): string {
  const off = d.offset !== undefined && d.offset > 0 ? `+0x${d.offset.toString(16)}` : '';
  return `${d.symbol}${off}${d.module ? ` [${d.module}]` : ''}`;
}

/** The node view of one report: sites, ladder, interfaces, softnet and hints for the busiest `maxSites`. */
export function reportView(report: ReportInput, policy: PolicyInput | undefined, node: NodeInput | undefined, now: Date, maxSites = 20): ReportView {
  const s = report.status;
  const seconds = s?.window?.seconds;
  const sites = sitesByRate(report)
    .slice(0, maxSites)
    .map((d): SiteView => {
      const c = classifyDrop(d.reason, d.symbol);
      return { count: d.count, rate: siteRate(d, seconds), layer: d.layer, reason: d.reason, location: siteLocation(d), hint: d.hint ?? c.hint, actionable: c.actionable };
    });
  const hints: { site: string; hint: string; actionable: boolean }[] = [];
  const seen = new Set<string>();
  for (const x of [...sites.filter((v) => v.actionable), ...sites.filter((v) => !v.actionable)]) {
    if (seen.has(x.hint) || hints.length >= 5) continue;
    seen.add(x.hint);
    hints.push({ site: `${x.location} (${x.reason})`, hint: x.hint, actionable: x.actionable });
  }
  return {
    row: reportRow(report, policy, node, now),
    ...(s?.agent?.version === undefined ? {} : { agentVersion: s.agent.version }),
    ...(s?.window === undefined ? {} : { window: s.window }),
    ...(s?.agent?.degraded ? { degraded: s.agent.degraded } : {}),
    unknownReasons: s?.agent?.unknownReasons ?? [],
    totalDrops: s?.totals?.drops ?? 0,
    sites,
    ladder: LAYERS.map((layer) => ({ layer, drops: s?.ladder?.[layer]?.drops ?? 0, rate: s?.ladder?.[layer]?.dropsPerSecond ?? 0 })),
    interfaces: (s?.interfaces ?? []).map((i) => ({
      name: i.name,
      rxPackets: i.rxPackets ?? 0,
      drops: Object.values(i.drops ?? {}).reduce((a, v) => a + v, 0),
      counters: i.drops ?? {},
      lossPercent: i.lossPercent ?? 0,
    })),
    softnet: { dropped: s?.softnet?.dropped ?? 0, timeSqueeze: s?.softnet?.timeSqueeze ?? 0, flowLimit: s?.softnet?.flowLimit ?? 0 },
    monitor: { lostEvents: s?.monitor?.lostEvents ?? 0, parseErrors: s?.monitor?.parseErrors ?? 0 },
    hints,
  };
}
