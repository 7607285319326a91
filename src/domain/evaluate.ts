// Threshold evaluation with duration and hysteresis, per (node, threshold): measures a policy's
// metrics on one node's report and steps a small state machine. Pure; the operator's policy
// reconciler calls it for every matching node and turns the transitions into Events.
import type { DropLayer, DropWatchNodeReportStatus, DropWatchPolicySpec, ThresholdMatch, ThresholdMetric } from '../api/generated/types.js';
import { DomainConfigError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Durations

/** A duration string that is not a Go-style duration. */
export class DurationError extends DomainConfigError {
  constructor(message: string) {
    super('DurationError', message, 'Write the duration as a number and a unit, e.g. 500ms, 30s, 1m30s or 2h.');
  }
}

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go-style duration ("1m30s", "500ms", "1.5h", "0") into milliseconds. Accepts Go's
 * units (ns, us, ms, s, m, h) and decimals; rejects signs (no negative durations here), spaces,
 * missing units and unknown units with a {@link DurationError} naming the input.
 */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  if (text.length === 0) throw new DurationError('empty duration; write e.g. 30s, 1m30s or 500ms');
  let ms = 0;
  let at = 0;
  while (at < text.length) {
    DURATION_PART.lastIndex = at;
    const m = DURATION_PART.exec(text);
    if (m === null) {
      throw new DurationError(`invalid duration "${text}" at "${text.slice(at)}": expected a number followed by one of ns, us, ms, s, m, h (e.g. 1m30s)`);
    }
    ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
    at = DURATION_PART.lastIndex;
  }
  if (!Number.isFinite(ms)) throw new DurationError(`duration "${text}" is too large`);
  return ms;
}

/**
 * How old a report may be before its node counts as stale: twice spec.heartbeatInterval, as the
 * CRD defines for status.nodes.stale. Used for both evaluation (Unknown) and the policy status.
 */
export function staleAfterMs(spec: Pick<DropWatchPolicySpec, 'heartbeatInterval'>): number {
  return 2 * parseDuration(spec.heartbeatInterval);
}

// ---------------------------------------------------------------------------------------------
// Thresholds, compiled once per policy generation

/** A threshold with its duration parsed and its clear level resolved. */
export interface CompiledThreshold {
  readonly name: string;
  readonly metric: ThresholdMetric;
  readonly reasons: readonly string[];
  readonly layers: readonly DropLayer[];
  /** match.interfaces, or for lossPercent spec.interfaces when the match names none. */
  readonly interfaces: readonly string[];
  readonly warning?: number;
  readonly critical?: number;
  /** Recovery level: threshold.clear, else the lowest level set (no hysteresis). */
  readonly clear: number;
  readonly forMs: number;
}

/** A threshold the domain cannot evaluate; the message names it. */
export class ThresholdError extends DomainConfigError {
  constructor(message: string) {
    super('ThresholdError', message, 'Correct the named threshold in spec.thresholds; the message says what is wrong.');
  }
}

/**
 * Parses every threshold of a policy (durations, levels). The API server already enforces the
 * CRD's rules; this re-checks what the evaluator relies on and throws a {@link ThresholdError}
 * naming the threshold, so the operator can report the policy as Stalled instead of misjudging.
 */
export function compileThresholds(spec: Pick<DropWatchPolicySpec, 'thresholds' | 'interfaces'>): CompiledThreshold[] {
  return (spec.thresholds ?? []).map((t): CompiledThreshold => {
    let forMs: number;
    try {
      forMs = parseDuration(t.for);
    } catch (err) {
      throw new ThresholdError(`threshold ${t.name}: for: ${(err as Error).message}`);
    }
    const levels = [t.warning, t.critical].filter((x): x is number => x !== undefined);
    if (levels.length === 0) throw new ThresholdError(`threshold ${t.name}: set warning, critical or both`);
    if (t.warning !== undefined && t.critical !== undefined && !(t.warning < t.critical)) {
      throw new ThresholdError(`threshold ${t.name}: warning must be lower than critical`);
    }
    const lowest = Math.min(...levels);
    const clear = t.clear ?? lowest;
    if (clear > lowest) throw new ThresholdError(`threshold ${t.name}: clear must not be above the lowest level`);
    const m: ThresholdMatch = t.match ?? {};
    const matchIfs = m.interfaces ?? [];
    const interfaces = matchIfs.length > 0 || t.metric !== 'lossPercent' ? matchIfs : (spec.interfaces ?? []);
    return {
      name: t.name,
      metric: t.metric,
      reasons: m.reasons ?? [],
      layers: m.layers ?? [],
      interfaces,
      ...(t.warning === undefined ? {} : { warning: t.warning }),
      ...(t.critical === undefined ? {} : { critical: t.critical }),
      clear,
      forMs,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Measuring a metric on one report

/** A metric's value on one node, or why there is none. */
export type Measurement =
  | { readonly ok: true; readonly value: number; /** e.g. the worst interface for lossPercent. */ readonly detail?: string }
  | { readonly ok: false; readonly why: string };

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Measures a threshold's metric on a report.
 *
 * dropsPerSecond, by match:
 * - nothing: status.totals.dropsPerSecond (every layer, after ignoreReasons);
 * - layers only: the sum of those layers' rates in status.ladder (the ladder takes, per layer,
 *   the larger of the tracepoint's and the counters' figure, so counter-only layers count);
 * - reasons (optionally with layers): the sum of the rates of the report's drop sites whose
 *   reason is listed (and whose layer is listed, if layers are). Only drop sites carry reasons,
 *   and a report lists at most the 50 busiest sites of its window, so this is a lower bound: a
 *   matching site below the cut is not counted. It is exact when the node had at most 50 distinct
 *   sites, which is the usual case. Drops only counters see (NIC ring, AF_PACKET ring full) have
 *   no reason and never match a reason filter; match them by layer;
 * - interfaces (optionally with layers nic/driver): per listed interface present in the report,
 *   rx_missed_errors (nic) + rx_dropped (driver), the same sum as the interface's loss percent,
 *   divided by the window length.
 *
 * lossPercent: the highest status.interfaces[].lossPercent among the matched interfaces
 * (match.interfaces, else spec.interfaces, else every reported interface): the worst interface
 * wins and is named in `detail`. Layers and reasons do not apply.
 *
 * Missing pieces (no totals, no window, none of the interfaces reported) give `ok: false`.
 */
export function measure(t: CompiledThreshold, report: DropWatchNodeReportStatus): Measurement {
  if (t.metric === 'lossPercent') {
    const wanted = new Set(t.interfaces);
    let worst: { name: string; loss: number } | undefined;
    for (const i of report.interfaces ?? []) {
      if (wanted.size > 0 && !wanted.has(i.name)) continue;
      if (i.lossPercent === undefined) continue;
      if (worst === undefined || i.lossPercent > worst.loss) worst = { name: i.name, loss: i.lossPercent };
    }
    if (worst === undefined) {
      return { ok: false, why: wanted.size > 0 ? `no counters for interface(s) ${[...wanted].join(', ')} in the report` : 'no interfaces in the report' };
    }
    return { ok: true, value: worst.loss, detail: worst.name };
  }

  const layers = new Set(t.layers);
  if (t.reasons.length > 0) {
    const live = report.agent?.sources;
    if (live !== undefined && !live.includes('tracepoint') && !live.includes('histTriggers')) {
      return { ok: false, why: 'no kernel drop source is live on this node, so drop reasons are not seen' };
    }
    if (report.drops === undefined) return { ok: false, why: 'the report has no drop sites' };
    const reasons = new Set(t.reasons);
    const seconds = report.window?.seconds ?? 0;
    let sum = 0;
    for (const d of report.drops) {
      if (!reasons.has(d.reason) || (layers.size > 0 && !layers.has(d.layer))) continue;
      sum += d.rate ?? (seconds > 0 ? d.count / seconds : 0);
    }
    return { ok: true, value: round3(sum) };
  }
  if (t.interfaces.length > 0) {
    const seconds = report.window?.seconds ?? 0;
    if (!(seconds > 0)) return { ok: false, why: 'the report has no window length' };
    const wanted = new Set(t.interfaces);
    const nic = layers.size === 0 || layers.has('nic');
    const driver = layers.size === 0 || layers.has('driver');
    let drops = 0;
    let seen = 0;
    for (const i of report.interfaces ?? []) {
      if (!wanted.has(i.name)) continue;
      seen++;
      if (nic) drops += i.drops?.['rx_missed_errors'] ?? 0;
      if (driver) drops += i.drops?.['rx_dropped'] ?? 0;
    }
    if (seen === 0) return { ok: false, why: `no counters for interface(s) ${t.interfaces.join(', ')} in the report` };
    return { ok: true, value: round3(drops / seconds) };
  }
  if (layers.size > 0) {
    if (report.ladder === undefined) return { ok: false, why: 'the report has no loss ladder' };
    let sum = 0;
    for (const l of layers) sum += report.ladder[l]?.dropsPerSecond ?? 0;
    return { ok: true, value: round3(sum) };
  }
  const total = report.totals?.dropsPerSecond;
  return total === undefined ? { ok: false, why: 'the report has no totals' } : { ok: true, value: total };
}

// ---------------------------------------------------------------------------------------------
// The state machine

/** The two alert levels. */
export type Severity = 'warning' | 'critical';

/** Why a node's threshold cannot be judged. */
export type UnknownCause = 'NoReport' | 'Stale' | 'NoData';

/**
 * Where one threshold stands on one node. Times are epoch milliseconds.
 * - OK: not breached, nothing pending.
 * - Pending: above a level, waiting for `for`; `sinceMs` is when it rose above the lowest level,
 *   `criticalSinceMs` when it rose above critical (if it did and a warning level exists).
 * - Warning / Critical: breached since `sinceMs`. Warning keeps `criticalSinceMs` while an
 *   escalation waits for `for`.
 * - Recovering: at or below clear since `sinceMs`; `from` is the level it recovers from and
 *   `firingSinceMs` when that breach began (restored if the metric rises again).
 * - Unknown: no fresh report or no data; never healthy. `announced` is false only for the silent
 *   initial Unknown of a node seen for the first time.
 */
export type ThresholdState =
  | { readonly phase: 'OK' }
  | { readonly phase: 'Pending'; readonly severity: Severity; readonly sinceMs: number; readonly criticalSinceMs?: number }
  | { readonly phase: 'Warning'; readonly sinceMs: number; readonly criticalSinceMs?: number }
  | { readonly phase: 'Critical'; readonly sinceMs: number }
  | { readonly phase: 'Recovering'; readonly from: Severity; readonly sinceMs: number; readonly firingSinceMs: number }
  | { readonly phase: 'Unknown'; readonly cause: UnknownCause; readonly sinceMs: number; readonly announced: boolean };

/** A phase of {@link ThresholdState}. */
export type Phase = ThresholdState['phase'];

/** What happened, for Events: each is emitted once, on the evaluation that made the change. */
export type TransitionKind = 'EnteredWarning' | 'EnteredCritical' | 'Recovered' | 'BecameUnknown' | 'LeftUnknown';

/** One state change of one threshold on one node. */
export interface Transition {
  readonly node: string;
  readonly threshold: string;
  readonly kind: TransitionKind;
  /**
   * The phase before. For Recovered it is the level recovered from (Warning or Critical), although
   * the state passed through Recovering on the way.
   */
  readonly from: Phase;
  readonly to: Phase;
  readonly atMs: number;
  /** The metric's value that caused it (absent for Unknown). */
  readonly value?: number;
  /** The level crossed: warning/critical for Entered*, clear for Recovered. */
  readonly level?: number;
  /** Why the node became Unknown. */
  readonly cause?: UnknownCause;
  /** Extra context, e.g. the worst interface or why there is no data. */
  readonly detail?: string;
}

/** One threshold's result on one node. */
export interface ThresholdResult {
  readonly threshold: string;
  readonly metric: ThresholdMetric;
  readonly state: ThresholdState;
  readonly value?: number;
  readonly detail?: string;
}

/** Input of {@link evaluateNode}. */
export interface NodeEvaluationInput {
  readonly node: string;
  readonly thresholds: readonly CompiledThreshold[];
  /** The node's report status for this policy; undefined when it has none. */
  readonly report: DropWatchNodeReportStatus | undefined;
  /** State per threshold name from the previous evaluation; undefined for a node seen first. */
  readonly previous: Readonly<Record<string, ThresholdState>> | undefined;
  readonly nowMs: number;
  /** A report whose lastHeartbeatTime is older than this is stale (see {@link staleAfterMs}). */
  readonly staleAfterMs: number;
}

/** Output of {@link evaluateNode}. */
export interface NodeEvaluation {
  readonly node: string;
  /** The new state per threshold name (thresholds no longer in the policy are gone). */
  readonly states: Readonly<Record<string, ThresholdState>>;
  readonly results: readonly ThresholdResult[];
  readonly transitions: readonly Transition[];
  /** Whether the report is missing or older than staleAfterMs. */
  readonly stale: boolean;
  /**
   * The earliest time at which evaluating the same report again could change a state (a `for`
   * timer running out, or the report going stale); undefined when nothing is pending. The
   * operator requeues the policy for then.
   */
  readonly recheckAtMs?: number;
}

interface Step {
  readonly state: ThresholdState;
  readonly transitions: Omit<Transition, 'node' | 'threshold' | 'atMs'>[];
}

const lowestLevel = (t: CompiledThreshold): number => Math.min(t.warning ?? Infinity, t.critical ?? Infinity);

/** One evaluation of a measurable threshold from a known (non-Unknown) state. */
function stepKnown(t: CompiledThreshold, prev: Exclude<ThresholdState, { phase: 'Unknown' }>, v: number, now: number): Step {
  const aboveLowest = v > lowestLevel(t);
  const aboveCritical = t.critical !== undefined && v > t.critical;
  const atOrBelowClear = v <= t.clear;
  const elapsed = (since: number): boolean => now - since >= t.forMs;

  switch (prev.phase) {
    case 'OK': {
      if (!aboveLowest) return { state: prev, transitions: [] };
      const pending: ThresholdState = {
        phase: 'Pending',
        severity: aboveCritical ? 'critical' : 'warning',
        sinceMs: now,
        ...(aboveCritical ? { criticalSinceMs: now } : {}),
      };
      return stepKnown(t, pending, v, now);
    }
    case 'Pending': {
      // A breach needs the metric above the level for the whole `for`: dipping back cancels it.
      if (!aboveLowest) return { state: { phase: 'OK' }, transitions: [] };
      const criticalSinceMs = aboveCritical ? (prev.criticalSinceMs ?? now) : undefined;
      const critSince = t.warning === undefined ? prev.sinceMs : criticalSinceMs;
      if (aboveCritical && critSince !== undefined && elapsed(critSince)) {
        return {
          state: { phase: 'Critical', sinceMs: now },
          transitions: [{ kind: 'EnteredCritical', from: 'Pending', to: 'Critical', value: v, level: t.critical ?? 0 }],
        };
      }
      if (t.warning !== undefined && elapsed(prev.sinceMs)) {
        return {
          state: { phase: 'Warning', sinceMs: now, ...(criticalSinceMs === undefined ? {} : { criticalSinceMs }) },
          transitions: [{ kind: 'EnteredWarning', from: 'Pending', to: 'Warning', value: v, level: t.warning }],
        };
      }
      return {
        state: {
          phase: 'Pending',
          severity: aboveCritical ? 'critical' : 'warning',
          sinceMs: prev.sinceMs,
          ...(criticalSinceMs === undefined ? {} : { criticalSinceMs }),
        },
        transitions: [],
      };
    }
    case 'Warning': {
      if (atOrBelowClear) {
        return stepKnown(t, { phase: 'Recovering', from: 'warning', sinceMs: now, firingSinceMs: prev.sinceMs }, v, now);
      }
      if (!aboveCritical) return { state: { phase: 'Warning', sinceMs: prev.sinceMs }, transitions: [] };
      const criticalSinceMs = prev.criticalSinceMs ?? now;
      if (elapsed(criticalSinceMs)) {
        return {
          state: { phase: 'Critical', sinceMs: now },
          transitions: [{ kind: 'EnteredCritical', from: 'Warning', to: 'Critical', value: v, level: t.critical ?? 0 }],
        };
      }
      return { state: { phase: 'Warning', sinceMs: prev.sinceMs, criticalSinceMs }, transitions: [] };
    }
    case 'Critical': {
      // Between clear and critical the node stays Critical: leaving it goes through Recovering.
      if (atOrBelowClear) {
        return stepKnown(t, { phase: 'Recovering', from: 'critical', sinceMs: now, firingSinceMs: prev.sinceMs }, v, now);
      }
      return { state: prev, transitions: [] };
    }
    case 'Recovering': {
      if (!atOrBelowClear) {
        // Not recovered after all: back to the breach it never left (no Event either way).
        if (prev.from === 'critical') return { state: { phase: 'Critical', sinceMs: prev.firingSinceMs }, transitions: [] };
        return stepKnown(t, { phase: 'Warning', sinceMs: prev.firingSinceMs }, v, now);
      }
      if (elapsed(prev.sinceMs)) {
        const to: Phase = 'OK';
        return { state: { phase: to }, transitions: [{ kind: 'Recovered', from: prev.from === 'critical' ? 'Critical' : 'Warning', to, value: v, level: t.clear }] };
      }
      return { state: prev, transitions: [] };
    }
  }
}

/** When evaluating the same value again could change the state; undefined when it could not. */
function timerOf(t: CompiledThreshold, s: ThresholdState): number | undefined {
  switch (s.phase) {
    case 'Pending': {
      const times = [t.warning !== undefined ? s.sinceMs : undefined, t.warning === undefined ? s.sinceMs : s.criticalSinceMs]
        .filter((x): x is number => x !== undefined)
        .map((x) => x + t.forMs);
      return times.length > 0 ? Math.min(...times) : undefined;
    }
    case 'Warning':
      return s.criticalSinceMs === undefined ? undefined : s.criticalSinceMs + t.forMs;
    case 'Recovering':
      return s.sinceMs + t.forMs;
    default:
      return undefined;
  }
}

function heartbeatMs(report: DropWatchNodeReportStatus | undefined): number | undefined {
  const hb = report?.lastHeartbeatTime;
  if (hb === undefined) return undefined;
  const ms = Date.parse(hb);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Steps every threshold of a policy on one node.
 *
 * Transition table (v = the metric, for = the threshold's duration; "above" is strict, "at or
 * below clear" inclusive, as the CRD defines):
 *
 * | from         | condition                                        | to                  | transition       |
 * |--------------|--------------------------------------------------|---------------------|------------------|
 * | OK           | v above the lowest level                         | Pending(since=now)  | —                |
 * | Pending      | v at or below the lowest level                   | OK                  | —                |
 * | Pending      | v above critical for `for`                       | Critical            | EnteredCritical  |
 * | Pending      | v above warning for `for` (not yet critical)     | Warning             | EnteredWarning   |
 * | Warning      | v above critical for `for`                       | Critical            | EnteredCritical  |
 * | Warning      | v between clear and critical                     | Warning (timer off) | —                |
 * | Warning/Crit | v at or below clear                              | Recovering(now)     | —                |
 * | Critical     | v above clear                                    | Critical            | —                |
 * | Recovering   | v above clear                                    | the breached state  | —                |
 * | Recovering   | v at or below clear for `for`                    | OK                  | Recovered        |
 * | any          | report missing or stale, or the metric unmeasurable | Unknown          | BecameUnknown    |
 * | Unknown      | fresh report with the metric                     | evaluated from OK   | LeftUnknown (+ whatever OK leads to) |
 *
 * With `for: 0s` a state changes on the first report (OK straight to Critical when above it).
 * Critical does not step down to Warning: a breach ends only through Recovering, so a rate
 * hovering between the levels neither flaps nor spams Events. A node seen for the first time
 * without a report starts Unknown silently (no BecameUnknown for agents that are still starting),
 * and leaving that silent Unknown emits no LeftUnknown.
 *
 * Time: `nowMs` is the evaluation time, not the report's window: an agent writes only on
 * material change or heartbeat, so an unchanged fresh report still stands for the current rate.
 */
export function evaluateNode(input: NodeEvaluationInput): NodeEvaluation {
  const { node, report, nowMs: now } = input;
  const hb = heartbeatMs(report);
  const cause: UnknownCause | undefined =
    report === undefined ? 'NoReport' : hb === undefined || now - hb > input.staleAfterMs ? 'Stale' : undefined;
  const stale = cause !== undefined;

  const states: Record<string, ThresholdState> = {};
  const results: ThresholdResult[] = [];
  const transitions: Transition[] = [];
  let recheckAtMs = !stale && hb !== undefined ? hb + input.staleAfterMs + 1 : undefined;
  const recheck = (at: number | undefined): void => {
    if (at !== undefined && (recheckAtMs === undefined || at < recheckAtMs)) recheckAtMs = at;
  };

  for (const t of input.thresholds) {
    const prev: ThresholdState = input.previous?.[t.name] ?? { phase: 'Unknown', cause: 'NoReport', sinceMs: now, announced: false };
    const m: Measurement = cause !== undefined || report === undefined ? { ok: false, why: cause ?? 'NoReport' } : measure(t, report);
    const emit = (x: Omit<Transition, 'node' | 'threshold' | 'atMs'>): void => {
      transitions.push({ node, threshold: t.name, atMs: now, ...x });
    };

    if (!m.ok) {
      const why: UnknownCause = cause ?? 'NoData';
      let state: ThresholdState;
      if (prev.phase === 'Unknown') {
        state = prev.cause === why ? prev : { ...prev, cause: why };
      } else {
        state = { phase: 'Unknown', cause: why, sinceMs: now, announced: true };
        emit({ kind: 'BecameUnknown', from: prev.phase, to: 'Unknown', cause: why, ...(cause === undefined ? { detail: m.why } : {}) });
      }
      states[t.name] = state;
      results.push({ threshold: t.name, metric: t.metric, state, ...(cause === undefined ? { detail: m.why } : {}) });
      continue;
    }

    let from: Exclude<ThresholdState, { phase: 'Unknown' }>;
    if (prev.phase === 'Unknown') {
      if (prev.announced) emit({ kind: 'LeftUnknown', from: 'Unknown', to: 'OK', value: m.value });
      from = { phase: 'OK' };
    } else {
      from = prev;
    }
    const step = stepKnown(t, from, m.value, now);
    for (const x of step.transitions) emit({ ...x, ...(m.detail === undefined ? {} : { detail: m.detail }) });
    states[t.name] = step.state;
    recheck(timerOf(t, step.state));
    results.push({ threshold: t.name, metric: t.metric, state: step.state, value: m.value, ...(m.detail === undefined ? {} : { detail: m.detail }) });
  }

  return { node, states, results, transitions, stale, ...(recheckAtMs === undefined ? {} : { recheckAtMs }) };
}

// ---------------------------------------------------------------------------------------------
// Summaries used by the policy status and the Node condition

/** A node's overall standing for one policy, worst threshold first. */
export type NodeStanding = 'Critical' | 'Warning' | 'Unknown' | 'Healthy';

/** The breach (or lack of one) that decides a node's standing. */
export interface WorstResult {
  readonly standing: NodeStanding;
  /** The responsible threshold, for Critical/Warning (and Unknown when a threshold has no data). */
  readonly threshold?: string;
  readonly metric?: ThresholdMetric;
  readonly value?: number;
  readonly detail?: string;
}

/**
 * The severity a state counts as: Warning/Critical and Recovering (still breached until `for`
 * passes at or below clear) count as breaches; Pending does not yet.
 */
export function breachOf(s: ThresholdState): Severity | undefined {
  if (s.phase === 'Critical') return 'critical';
  if (s.phase === 'Warning') return 'warning';
  if (s.phase === 'Recovering') return s.from;
  return undefined;
}

const STANDING_RANK: Readonly<Record<NodeStanding, number>> = { Critical: 3, Warning: 2, Unknown: 1, Healthy: 0 };

/** Orders standings worst first (for sorting). */
export const standingRank = (s: NodeStanding): number => STANDING_RANK[s];

/**
 * The worst of a node's threshold results: Critical, then Warning, then Unknown (any threshold
 * without a judgement), then Healthy. Ties on the same standing go to the higher value, then the
 * threshold name, so the answer is stable.
 */
export function worstResult(results: readonly ThresholdResult[]): WorstResult {
  let best: { standing: NodeStanding; r: ThresholdResult } | undefined;
  for (const r of results) {
    const b = breachOf(r.state);
    const standing: NodeStanding = b === 'critical' ? 'Critical' : b === 'warning' ? 'Warning' : r.state.phase === 'Unknown' ? 'Unknown' : 'Healthy';
    if (best === undefined || isWorse(standing, r, best.standing, best.r)) best = { standing, r };
  }
  if (best === undefined || best.standing === 'Healthy') return { standing: 'Healthy' };
  const r = best.r;
  return {
    standing: best.standing,
    threshold: r.threshold,
    metric: r.metric,
    ...(r.value === undefined ? {} : { value: r.value }),
    ...(r.detail === undefined ? {} : { detail: r.detail }),
  };
}

function isWorse(s: NodeStanding, r: ThresholdResult, bestS: NodeStanding, best: ThresholdResult): boolean {
  if (STANDING_RANK[s] !== STANDING_RANK[bestS]) return STANDING_RANK[s] > STANDING_RANK[bestS];
  const v = r.value ?? -1;
  const bv = best.value ?? -1;
  return v !== bv ? v > bv : r.threshold < best.threshold;
}
