// Pure helpers of the policy controller's outputs: the Event for each threshold transition and
// the "already breached" state a new leader seeds from the Node condition and the policy status,
// so a failover does not repeat DropThresholdExceeded. Called by controller.ts; no I/O.
import type { DropWatchPolicyStatus } from '../api/generated/types.js';
import { EventReasons, NodeConditionType } from '../domain/conditions.js';
import type { CompiledThreshold, ThresholdState, Transition } from '../domain/evaluate.js';
import { formatSite, type SiteSummary } from '../domain/policy-status.js';

/** An Event to record about a transition (once on the Node, once on the policy). */
export interface TransitionEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly note: string;
}

function unit(metric: string): string {
  return metric === 'lossPercent' ? '%' : '/s';
}

/**
 * The Event for one transition of one threshold on one node:
 * EnteredWarning/EnteredCritical -> Warning DropThresholdExceeded, Recovered -> Normal
 * DropThresholdRecovered, BecameUnknown -> Warning DropReportStale, LeftUnknown -> Normal
 * DropReportResumed. The note names node, policy, threshold, value and level, and for a breach
 * the node's top drop site with its remediation hint.
 */
export function transitionEvent(policy: string, t: Transition, threshold: CompiledThreshold | undefined, topSite: SiteSummary | undefined): TransitionEvent {
  const u = unit(threshold?.metric ?? 'dropsPerSecond');
  const metric = threshold?.metric ?? 'value';
  const value = t.value === undefined ? '' : ` ${metric} ${round(t.value)}${u}`;
  const where = t.detail === undefined ? '' : ` on ${t.detail}`;
  const head = `node ${t.node}, policy ${policy}, threshold ${t.threshold}`;
  switch (t.kind) {
    case 'EnteredWarning':
    case 'EnteredCritical': {
      const sev = t.kind === 'EnteredCritical' ? 'critical' : 'warning';
      const level = t.level === undefined ? '' : ` (above ${sev} level ${round(t.level)}${u})`;
      const site = topSite === undefined ? '' : `; top drop site ${formatSite(topSite)}${topSite.hint === undefined ? '' : `: ${topSite.hint}`}`;
      return { type: 'Warning', reason: EventReasons.DropThresholdExceeded, note: `${sev}: ${head}:${value}${where}${level}${site}` };
    }
    case 'Recovered': {
      const level = t.level === undefined ? '' : ` (at or below clear level ${round(t.level)}${u})`;
      return { type: 'Normal', reason: EventReasons.DropThresholdRecovered, note: `recovered from ${t.from.toLowerCase()}: ${head}:${value}${where}${level}` };
    }
    case 'BecameUnknown':
      return {
        type: 'Warning',
        reason: EventReasons.DropReportStale,
        note: `cannot judge ${head}: ${t.cause === 'NoData' ? `no data${t.detail === undefined ? '' : ` (${t.detail})`}` : 'no fresh report from the agent (older than twice spec.heartbeatInterval)'}`,
      };
    case 'LeftUnknown':
      return { type: 'Normal', reason: EventReasons.DropReportResumed, note: `reporting again: ${head}:${value}` };
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The PacketLoss condition as read from a Node. */
export interface ObservedNodeCondition {
  readonly type: string;
  readonly status: string;
  readonly message?: string;
  readonly lastTransitionTime?: string;
}

const BREACH_MESSAGE = /^(warning|critical): threshold (\S+) of policy (\S+?):/;

/**
 * Threshold states to start from for a node this process has not evaluated yet, so a new leader
 * does not announce breaches its predecessor already announced. Only when the Node's PacketLoss
 * condition is True: the breached thresholds come from the policy's status.worstNodes entry for the
 * node (state and threshold), else from the condition message when it names this policy. The
 * breach started at the condition's lastTransitionTime. Returns undefined when nothing is seeded
 * (the node then starts in the silent initial Unknown, which announces nothing either).
 */
export function seedStates(
  policy: string,
  node: string,
  thresholds: readonly CompiledThreshold[],
  condition: ObservedNodeCondition | undefined,
  status: DropWatchPolicyStatus | undefined,
  nowMs: number,
): Record<string, ThresholdState> | undefined {
  if (condition?.type !== NodeConditionType || condition.status !== 'True') return undefined;
  const parsed = condition.lastTransitionTime === undefined ? Number.NaN : Date.parse(condition.lastTransitionTime);
  const since = Number.isNaN(parsed) ? nowMs : parsed;
  const names = new Set(thresholds.map((t) => t.name));
  const out: Record<string, ThresholdState> = {};
  const entry = status?.worstNodes?.find((w) => w.node === node);
  if (entry !== undefined && (entry.state === 'Warning' || entry.state === 'Critical') && entry.threshold !== undefined && names.has(entry.threshold)) {
    out[entry.threshold] = entry.state === 'Critical' ? { phase: 'Critical', sinceMs: since } : { phase: 'Warning', sinceMs: since };
  } else {
    const m = BREACH_MESSAGE.exec(condition.message ?? '');
    if (m !== null && m[3] === policy && m[2] !== undefined && names.has(m[2])) {
      out[m[2]] = m[1] === 'critical' ? { phase: 'Critical', sinceMs: since } : { phase: 'Warning', sinceMs: since };
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
