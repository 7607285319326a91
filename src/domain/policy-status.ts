// Plans a DropWatchPolicy's status (conditions, node counts, fleet totals, worst nodes, top sites)
// and the PacketLoss condition of a Node, from what the operator observed. Pure; the policy
// reconciler calls it after evaluating the thresholds and applies the result with SSA.
import type {
  DropLayer,
  DropWatchNodeReportStatus,
  DropWatchPolicySpec,
  DropWatchPolicyStatus,
  FleetDropSite,
  OverlappingNode,
  PolicyCondition,
  PolicyConditionType,
  SourceName,
  WorstNode,
} from '../api/generated/types.js';
import {
  DegradedReasons,
  NodeConditionType,
  PacketLossReasons,
  PolicyConditionTypes,
  ReadyReasons,
  ReconcilingReasons,
  StalledReasons,
} from './conditions.js';
import { breachOf, staleAfterMs as staleAfterFromSpec, worstResult, type NodeEvaluation, type ThresholdResult } from './evaluate.js';

/** Bounds from crds/dropwatch.dev_dropwatchpolicies.yaml. */
export const STATUS_LIMITS = {
  worstNodes: 10,
  topSites: 10,
  overlapping: 20,
  overlappingPolicies: 8,
  /** Sites kept per node in a {@link ReportSummary}: enough to aggregate a fleet top 10. */
  sitesPerNode: 10,
  topSite: 512,
  symbol: 256,
  reason: 64,
  hint: 512,
  threshold: 63,
  /** Node names listed in a condition message per category. */
  namesInMessage: 3,
} as const;

// ---------------------------------------------------------------------------------------------
// Report summaries: the little the operator keeps per node and policy

/** One busy drop site of a node, as kept in a {@link ReportSummary}. */
export interface SiteSummary {
  readonly symbol: string;
  readonly offset?: number;
  readonly reason: string;
  readonly layer: DropLayer;
  readonly rate: number;
  readonly hint?: string;
}

/** What the status needs from one node's report. */
export interface ReportSummary {
  /** lastHeartbeatTime in epoch ms; undefined when absent or unparsable (counts as stale). */
  readonly heartbeatMs?: number;
  readonly dropsPerSecond: number;
  readonly lostEvents: number;
  /** The highest loss percent among the node's reported interfaces. */
  readonly maxLossPercent?: number;
  /** status.agent.sources; undefined when the agent did not say. */
  readonly sources?: readonly SourceName[];
  /** The busiest sites, busiest first, at most {@link STATUS_LIMITS.sitesPerNode}. */
  readonly topSites: readonly SiteSummary[];
}

/** Keeps the parts of a report status that the policy status uses. */
export function summarizeReport(status: DropWatchNodeReportStatus, maxSites: number = STATUS_LIMITS.sitesPerNode): ReportSummary {
  const hb = status.lastHeartbeatTime === undefined ? Number.NaN : Date.parse(status.lastHeartbeatTime);
  const seconds = status.window?.seconds ?? 0;
  const losses = (status.interfaces ?? []).map((i) => i.lossPercent).filter((x): x is number => x !== undefined);
  const topSites = [...(status.drops ?? [])]
    .map((d): SiteSummary => {
      const r = d.rate ?? (seconds > 0 ? d.count / seconds : 0);
      return {
        symbol: d.symbol,
        reason: d.reason,
        layer: d.layer,
        rate: r,
        ...(d.offset === undefined ? {} : { offset: d.offset }),
        ...(d.hint === undefined ? {} : { hint: d.hint }),
      };
    })
    .sort((a, b) => b.rate - a.rate)
    .slice(0, maxSites);
  return {
    ...(Number.isNaN(hb) ? {} : { heartbeatMs: hb }),
    dropsPerSecond: status.totals?.dropsPerSecond ?? 0,
    lostEvents: status.monitor?.lostEvents ?? 0,
    ...(losses.length > 0 ? { maxLossPercent: Math.max(...losses) } : {}),
    ...(status.agent?.sources === undefined ? {} : { sources: status.agent.sources }),
    topSites,
  };
}

/** "__udp4_lib_rcv+0x4bc (NO_SOCKET)", as in the CRD's example. */
export function formatSite(s: Pick<SiteSummary, 'symbol' | 'offset' | 'reason'>): string {
  const off = s.offset !== undefined && s.offset > 0 ? `+0x${s.offset.toString(16)}` : '';
  return `${s.symbol}${off} (${s.reason})`;
}

// ---------------------------------------------------------------------------------------------
// Policy status

/** The agent DaemonSet as observed. */
export interface DaemonSetObservation {
  readonly name: string;
  readonly desired: number;
  readonly current: number;
  readonly ready: number;
  readonly updated: number;
  readonly available: number;
  /**
   * True when the DaemonSet carries the pod template planned for the policy's current generation
   * (its spec-hash annotation matches the plan) and the DaemonSet controller has observed it
   * (status.observedGeneration == metadata.generation), so the counts are about that template.
   */
  readonly upToDate: boolean;
}

/** A failure that needs a change from the user (Stalled=True). */
export interface StallCause {
  /** One of {@link StalledReasons} except NotStalled. */
  readonly reason: string;
  /** What is wrong and how to fix it, with the DWO_E_* code. */
  readonly message: string;
}

/** Everything {@link planPolicyStatus} looks at. */
export interface PolicyStatusInput {
  readonly policy: {
    readonly name: string;
    readonly generation: number;
    readonly spec: Pick<DropWatchPolicySpec, 'heartbeatInterval' | 'sources'>;
  };
  /** The status as last written, for lastTransitionTime; undefined on the first write. */
  readonly previous?: DropWatchPolicyStatus;
  readonly now: Date;
  /** undefined when the DaemonSet does not exist (yet). */
  readonly daemonSet: DaemonSetObservation | undefined;
  /** Names of the nodes spec.nodeSelector matches. */
  readonly matchingNodes: readonly string[];
  /** Report summaries by node name (reports of nodes no longer matching are ignored). */
  readonly reports: ReadonlyMap<string, ReportSummary>;
  /** Threshold evaluations by node name (from evaluateNode). */
  readonly evaluations: ReadonlyMap<string, NodeEvaluation>;
  /** For matching nodes that other policies select too: node name -> those policies' names. */
  readonly otherPolicies: ReadonlyMap<string, readonly string[]>;
  /** Set when the operator cannot make progress without a change from the user. */
  readonly stalled?: StallCause;
}

type Standing = WorstNode['state'];
const STATE_RANK: Readonly<Record<Standing, number>> = { Critical: 3, Warning: 2, Stale: 1, Healthy: 0 };

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const cap = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);
const plural = (n: number, one: string, many: string = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const names = (xs: readonly string[]): string => {
  const shown = xs.slice(0, STATUS_LIMITS.namesInMessage).join(', ');
  return xs.length > STATUS_LIMITS.namesInMessage ? `${shown}, …` : shown;
};

/** One condition, keeping lastTransitionTime when the status is unchanged (metav1.Condition rules). */
function condition(
  type: PolicyConditionType,
  status: PolicyCondition['status'],
  reason: string,
  message: string,
  generation: number,
  previous: readonly PolicyCondition[] | undefined,
  now: Date,
): PolicyCondition {
  const prev = previous?.find((c) => c.type === type);
  const lastTransitionTime = prev !== undefined && prev.status === status ? prev.lastTransitionTime : now.toISOString();
  return { type, status, observedGeneration: generation, lastTransitionTime, reason, message };
}

interface NodeView {
  readonly node: string;
  readonly fresh: boolean;
  readonly report?: ReportSummary;
  readonly state: Standing;
  readonly threshold?: string;
}

function viewNode(node: string, input: PolicyStatusInput, nowMs: number, staleMs: number): NodeView {
  const report = input.reports.get(node);
  const fresh = report?.heartbeatMs !== undefined && nowMs - report.heartbeatMs <= staleMs;
  const ev = input.evaluations.get(node);
  const worst = ev === undefined ? undefined : worstResult(ev.results);
  let state: Standing;
  if (worst?.standing === 'Critical' || worst?.standing === 'Warning') state = worst.standing;
  else if (!fresh || worst?.standing === 'Unknown') state = 'Stale';
  else state = 'Healthy';
  return {
    node,
    fresh,
    ...(report === undefined ? {} : { report }),
    state,
    ...(worst?.threshold !== undefined && state !== 'Healthy' ? { threshold: cap(worst.threshold, STATUS_LIMITS.threshold) } : {}),
  };
}

function worstNode(v: NodeView): WorstNode {
  const r = v.report;
  const top = r?.topSites[0];
  return {
    node: v.node,
    state: v.state,
    ...(v.threshold === undefined ? {} : { threshold: v.threshold }),
    ...(r === undefined ? {} : { dropsPerSecond: round3(Math.max(0, r.dropsPerSecond)) }),
    ...(r?.maxLossPercent === undefined ? {} : { lossPercent: Math.min(100, round3(Math.max(0, r.maxLossPercent))) }),
    ...(top === undefined ? {} : { topSite: cap(formatSite(top), STATUS_LIMITS.topSite) }),
  };
}

/** Sums the same symbol+reason across the reporting nodes' busiest sites; busiest first, at most 10. */
function fleetTopSites(views: readonly NodeView[]): FleetDropSite[] {
  const agg = new Map<string, { symbol: string; reason: string; layer: DropLayer; hint?: string; rate: number; nodes: number; best: number }>();
  for (const v of views) {
    if (!v.fresh || v.report === undefined) continue;
    const seen = new Set<string>();
    for (const s of v.report.topSites) {
      const key = `${s.symbol}\u0000${s.reason}`;
      const a = agg.get(key);
      if (a === undefined) {
        agg.set(key, { symbol: s.symbol, reason: s.reason, layer: s.layer, ...(s.hint === undefined ? {} : { hint: s.hint }), rate: s.rate, nodes: 1, best: s.rate });
      } else {
        a.rate += s.rate;
        if (!seen.has(key)) a.nodes++;
        // Layer and hint come from the busiest contribution, so they describe most of the drops.
        if (s.rate > a.best) {
          a.best = s.rate;
          a.layer = s.layer;
          if (s.hint === undefined) delete a.hint;
          else a.hint = s.hint;
        }
      }
      seen.add(key);
    }
  }
  return [...agg.values()]
    .filter((a) => a.rate > 0)
    .sort((a, b) => b.rate - a.rate || a.symbol.localeCompare(b.symbol) || a.reason.localeCompare(b.reason))
    .slice(0, STATUS_LIMITS.topSites)
    .map((a) => ({
      symbol: cap(a.symbol, STATUS_LIMITS.symbol),
      reason: cap(a.reason, STATUS_LIMITS.reason),
      layer: a.layer,
      nodes: a.nodes,
      dropsPerSecond: round3(a.rate),
      ...(a.hint === undefined ? {} : { hint: cap(a.hint, STATUS_LIMITS.hint) }),
    }));
}

function overlapping(matching: readonly string[], others: ReadonlyMap<string, readonly string[]>): { count: number; list: OverlappingNode[] } {
  const nodes = matching.filter((n) => (others.get(n) ?? []).length > 0).sort();
  return {
    count: nodes.length,
    list: nodes.slice(0, STATUS_LIMITS.overlapping).map((node) => ({
      node,
      policies: [...new Set(others.get(node) ?? [])].sort().slice(0, STATUS_LIMITS.overlappingPolicies),
    })),
  };
}

/**
 * Plans the whole status of a DropWatchPolicy. Definitions, all over the nodes spec.nodeSelector
 * matches now:
 *
 * - fresh: the node's report has a lastHeartbeatTime at most twice spec.heartbeatInterval old.
 *   `reporting` counts fresh nodes; `stale` the rest (old report or none), as the CRD defines.
 * - rolled out: the DaemonSet exists, is {@link DaemonSetObservation.upToDate}, and its updated
 *   and available counts reach its desired count.
 * - unscheduled: matching nodes beyond the DaemonSet's desired count (taints not tolerated,
 *   unschedulable nodes); they can never report.
 * - awaiting: matching nodes with no report at all, beyond the unscheduled ones (agents starting).
 *
 * Conditions (observedGeneration = metadata.generation; lastTransitionTime kept while a
 * condition's status stays the same):
 * - Stalled is True when the input says so (or spec.heartbeatInterval cannot be parsed); then
 *   Ready is False and Reconciling False, both with reason Stalled.
 * - Reconciling is True while not rolled out (RollingOut) or while some nodes are awaiting their
 *   first report (AwaitingReports); otherwise False (Reconciled).
 * - Ready is True exactly when rolled out and every matching node is fresh (AgentsReady, or
 *   NoMatchingNodes when the selector matches none). Otherwise False, with the first that applies
 *   of RollingOut, AwaitingReports, AgentsNotScheduled, NodesStale.
 * - Degraded is True when the policy works with less than it asked for: nodes that reported but
 *   went stale (NodesStale), unscheduled nodes (AgentsNotScheduled), fresh nodes whose monitor
 *   lost events in the last window (MonitorLosingEvents), fresh nodes with no kernel drop source
 *   although tracepoint or histTriggers is enabled (CountersOnly), fresh nodes without counters
 *   although they are enabled (SourcesMissing). The reason is the first of those that applies;
 *   the message lists all with counts and some node names. Otherwise False (AsExpected).
 *   Hidden kernel symbols or missing drop reasons do not count: the report says so per node.
 *
 * Counts: warning/critical by each node's worst threshold (a Recovering threshold still counts
 * at its level; Pending does not); alerting = warning + critical. worstNodes: every matching
 * node ranked Critical > Warning > Stale > Healthy, then by drop rate, then name; a fresh node
 * whose threshold has no data (e.g. its interface vanished) shows as Stale, never Healthy.
 * fleet: sums over fresh nodes. topSites: the fresh nodes' busiest sites (at most 10 per node, so
 * a site busy only below that cut on each node is missed) summed by symbol and reason.
 */
export function planPolicyStatus(input: PolicyStatusInput): DropWatchPolicyStatus {
  const { policy, now } = input;
  const gen = policy.generation;
  const prevConds = input.previous?.conditions;
  const nowMs = now.getTime();

  let staleMs: number | undefined;
  let stalled = input.stalled;
  try {
    staleMs = staleAfterFromSpec(policy.spec);
  } catch (err) {
    stalled ??= { reason: StalledReasons.InvalidSpec, message: `DWO_E_CONFIG: spec.heartbeatInterval: ${(err as Error).message}` };
  }

  const matching = [...new Set(input.matchingNodes)].sort();
  const views = matching.map((n) => viewNode(n, input, nowMs, staleMs ?? Number.POSITIVE_INFINITY));
  const fresh = views.filter((v) => v.fresh);
  const neverReported = views.filter((v) => v.report === undefined);
  const wentStale = views.filter((v) => !v.fresh && v.report !== undefined);
  const critical = views.filter((v) => v.state === 'Critical').length;
  const warning = views.filter((v) => v.state === 'Warning').length;

  const ds = input.daemonSet;
  const rolledOut = ds !== undefined && ds.upToDate && ds.updated >= ds.desired && ds.available >= ds.desired;
  // Only counts from the DaemonSet controller about the current template mean anything: a DaemonSet
  // it has not observed yet reports desired 0, which would call every node unscheduled.
  const unscheduled = ds === undefined || !ds.upToDate ? 0 : Math.max(0, matching.length - ds.desired);
  const awaiting = Math.max(0, neverReported.length - unscheduled);

  // Degradations among fresh nodes.
  const kernelAsked = policy.spec.sources.tracepoint.enabled || policy.spec.sources.histTriggers.enabled;
  const lossy = fresh.filter((v) => (v.report?.lostEvents ?? 0) > 0);
  const countersOnly = kernelAsked
    ? fresh.filter((v) => v.report?.sources !== undefined && !v.report.sources.includes('tracepoint') && !v.report.sources.includes('histTriggers'))
    : [];
  const noCounters = policy.spec.sources.counters.enabled
    ? fresh.filter((v) => v.report?.sources !== undefined && !v.report.sources.includes('counters'))
    : [];

  const conditions: PolicyCondition[] = [];
  const add = (type: PolicyConditionType, status: PolicyCondition['status'], reason: string, message: string): void => {
    conditions.push(condition(type, status, reason, message, gen, prevConds, now));
  };

  const rollout = ds === undefined
    ? 'the agent DaemonSet does not exist yet'
    : !ds.upToDate
      ? `DaemonSet ${ds.name} does not run the template for generation ${gen} yet`
      : `DaemonSet ${ds.name}: ${ds.updated} of ${ds.desired} updated, ${ds.available} available`;
  const awaitingMsg = `no report yet from ${plural(awaiting, 'node')} (${names(neverReported.map((v) => v.node))})`;
  const unscheduledMsg = ds === undefined ? '' : `the DaemonSet schedules agents on ${ds.desired} of ${plural(matching.length, 'matching node')}; tolerate the other nodes' taints in spec.tolerations`;
  const staleMsg = `${plural(wentStale.length, 'node')} stopped reporting (${names(wentStale.map((v) => v.node))}): no report for more than twice spec.heartbeatInterval`;

  if (stalled !== undefined) {
    add(PolicyConditionTypes.Ready, 'False', ReadyReasons.Stalled, stalled.message);
    add(PolicyConditionTypes.Reconciling, 'False', ReconcilingReasons.Stalled, stalled.message);
    add(PolicyConditionTypes.Stalled, 'True', stalled.reason, stalled.message);
  } else {
    if (rolledOut && fresh.length === matching.length) {
      add(
        PolicyConditionTypes.Ready,
        'True',
        matching.length === 0 ? ReadyReasons.NoMatchingNodes : ReadyReasons.AgentsReady,
        matching.length === 0 ? 'spec.nodeSelector matches no node' : `all ${plural(matching.length, 'matching node')} report`,
      );
    } else if (!rolledOut) {
      add(PolicyConditionTypes.Ready, 'False', ReadyReasons.RollingOut, rollout);
    } else if (awaiting > 0) {
      add(PolicyConditionTypes.Ready, 'False', ReadyReasons.AwaitingReports, awaitingMsg);
    } else if (unscheduled > 0) {
      add(PolicyConditionTypes.Ready, 'False', ReadyReasons.AgentsNotScheduled, unscheduledMsg);
    } else {
      add(PolicyConditionTypes.Ready, 'False', ReadyReasons.NodesStale, staleMsg);
    }
    if (!rolledOut) add(PolicyConditionTypes.Reconciling, 'True', ReconcilingReasons.RollingOut, rollout);
    else if (awaiting > 0) add(PolicyConditionTypes.Reconciling, 'True', ReconcilingReasons.AwaitingReports, awaitingMsg);
    else add(PolicyConditionTypes.Reconciling, 'False', ReconcilingReasons.Reconciled, `generation ${gen} is rolled out`);
    add(PolicyConditionTypes.Stalled, 'False', StalledReasons.NotStalled, 'the operator is making progress');
  }

  const degraded: { reason: string; message: string }[] = [];
  if (wentStale.length > 0) degraded.push({ reason: DegradedReasons.NodesStale, message: staleMsg });
  if (unscheduled > 0) degraded.push({ reason: DegradedReasons.AgentsNotScheduled, message: unscheduledMsg });
  if (lossy.length > 0) {
    degraded.push({
      reason: DegradedReasons.MonitorLosingEvents,
      message: `the monitor lost drop events on ${plural(lossy.length, 'node')} (${names(lossy.map((v) => v.node))}); their counts are too low: raise spec.sources.tracepoint.bufferSizeKb`,
    });
  }
  if (countersOnly.length > 0) {
    degraded.push({
      reason: DegradedReasons.CountersOnly,
      message: `no kernel drop source, only counters, on ${plural(countersOnly.length, 'node')} (${names(countersOnly.map((v) => v.node))}); see status.agent.degraded in their reports`,
    });
  }
  if (noCounters.length > 0) {
    degraded.push({
      reason: DegradedReasons.SourcesMissing,
      message: `counters are not live on ${plural(noCounters.length, 'node')} (${names(noCounters.map((v) => v.node))}); see status.agent.degraded in their reports`,
    });
  }
  const first = degraded[0];
  if (first === undefined) add(PolicyConditionTypes.Degraded, 'False', DegradedReasons.AsExpected, 'every reporting node runs its sources and loses no events');
  else add(PolicyConditionTypes.Degraded, 'True', first.reason, degraded.map((d) => d.message).join('; '));

  const over = overlapping(matching, input.otherPolicies);
  const worstNodes = [...views]
    .sort(
      (a, b) =>
        STATE_RANK[b.state] - STATE_RANK[a.state] ||
        (b.report?.dropsPerSecond ?? 0) - (a.report?.dropsPerSecond ?? 0) ||
        a.node.localeCompare(b.node),
    )
    .slice(0, STATUS_LIMITS.worstNodes)
    .map(worstNode);

  return {
    observedGeneration: gen,
    conditions,
    ...(ds === undefined
      ? {}
      : { daemonSet: { name: ds.name, desired: ds.desired, current: ds.current, ready: ds.ready, updated: ds.updated, available: ds.available } }),
    nodes: {
      matching: matching.length,
      reporting: fresh.length,
      stale: matching.length - fresh.length,
      warning,
      critical,
      alerting: warning + critical,
      overlappingCount: over.count,
      overlapping: over.list,
    },
    fleet: {
      dropsPerSecond: round3(fresh.reduce((a, v) => a + Math.max(0, v.report?.dropsPerSecond ?? 0), 0)),
      lostEvents: fresh.reduce((a, v) => a + Math.max(0, v.report?.lostEvents ?? 0), 0),
    },
    worstNodes,
    topSites: fleetTopSites(views),
  };
}

// ---------------------------------------------------------------------------------------------
// The Node condition

/** One policy's verdict on one node, as input to {@link planNodeCondition}. */
export interface NodePolicyVerdict {
  readonly policy: string;
  /** The node's threshold results for this policy (evaluateNode(...).results). */
  readonly results: readonly ThresholdResult[];
  /** The node's busiest site for this policy, for the message. */
  readonly topSite?: SiteSummary;
}

/** The PacketLoss condition to set on a Node; the caller adds the timestamps. */
export interface PlannedNodeCondition {
  readonly type: typeof NodeConditionType;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
}

const NODE_MESSAGE_MAX = 1024;

function describeBreach(policy: string, r: ThresholdResult): string {
  const sev = breachOf(r.state) ?? 'warning';
  const value = r.value === undefined ? '' : ` ${r.metric} ${r.value}${r.metric === 'lossPercent' ? '%' : '/s'}`;
  const where = r.detail === undefined ? '' : ` on ${r.detail}`;
  const recovering = r.state.phase === 'Recovering' ? ', recovering' : '';
  return `${sev}: threshold ${r.threshold} of policy ${policy}:${value}${where}${recovering}`;
}

/**
 * The Node condition PacketLoss from every policy that covers the node (policies with no
 * thresholds judge nothing and are left out):
 * - undefined (remove the condition) when no policy with thresholds covers the node;
 * - True while any threshold is breached (Warning, Critical, or Recovering, which is still
 *   breached until it has stayed at or below clear for `for`). Reason DropThresholdCritical when
 *   any is critical, else DropThresholdWarning. The message names the worst threshold and policy,
 *   its value, the node's top drop site for that policy with its hint, and how many other
 *   breaches there are;
 * - Unknown when nothing is breached but some threshold is Unknown (stale report or no data):
 *   a node nobody can see is never reported healthy;
 * - False (NoPacketLoss) otherwise, including after a recovery.
 */
export function planNodeCondition(verdicts: readonly NodePolicyVerdict[]): PlannedNodeCondition | undefined {
  const judged = verdicts.filter((v) => v.results.length > 0);
  if (judged.length === 0) return undefined;

  const breaches: { v: NodePolicyVerdict; r: ThresholdResult; critical: boolean }[] = [];
  const unknown: string[] = [];
  for (const v of judged) {
    for (const r of v.results) {
      const b = breachOf(r.state);
      if (b !== undefined) breaches.push({ v, r, critical: b === 'critical' });
      else if (r.state.phase === 'Unknown') unknown.push(`${v.policy}/${r.threshold}`);
    }
  }
  const policies = [...new Set(judged.map((v) => v.policy))].sort();

  if (breaches.length > 0) {
    breaches.sort(
      (a, b) =>
        Number(b.critical) - Number(a.critical) ||
        (b.r.value ?? -1) - (a.r.value ?? -1) ||
        a.v.policy.localeCompare(b.v.policy) ||
        a.r.threshold.localeCompare(b.r.threshold),
    );
    const worst = breaches[0];
    if (worst === undefined) return undefined;
    let message = describeBreach(worst.v.policy, worst.r);
    const top = worst.v.topSite;
    if (top !== undefined) message += `; top drop site ${formatSite(top)}${top.hint === undefined ? '' : `: ${top.hint}`}`;
    if (breaches.length > 1) message += `; ${plural(breaches.length - 1, 'other breach', 'other breaches')}`;
    return {
      type: NodeConditionType,
      status: 'True',
      reason: worst.critical ? PacketLossReasons.ThresholdCritical : PacketLossReasons.ThresholdWarning,
      message: cap(message, NODE_MESSAGE_MAX),
    };
  }
  if (unknown.length > 0) {
    return {
      type: NodeConditionType,
      status: 'Unknown',
      reason: PacketLossReasons.ReportStale,
      message: cap(`no fresh drop report or no data for ${unknown.sort().join(', ')}`, NODE_MESSAGE_MAX),
    };
  }
  return {
    type: NodeConditionType,
    status: 'False',
    reason: PacketLossReasons.NoPacketLoss,
    message: cap(`no drop threshold breached (policies: ${policies.join(', ')})`, NODE_MESSAGE_MAX),
  };
}
