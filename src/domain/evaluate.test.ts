import { describe, expect, it } from 'vitest';
import type { DropWatchNodeReportStatus, Threshold } from '../api/generated/types.js';
import {
  compileThresholds,
  DurationError,
  evaluateNode,
  measure,
  parseDuration,
  staleAfterMs,
  ThresholdError,
  worstResult,
  type CompiledThreshold,
  type Phase,
  type ThresholdState,
  type TransitionKind,
} from './evaluate.js';

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['500ms', 500],
    ['1s', 1000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['100us', 0.1],
    ['1500ns', 0.0015],
    ['.5s', 500],
    ['10m', 600_000],
  ])('%s -> %d ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', '1', 'ms', '1d', '-1s', '+1s', '1 s', 's1', '1m30', '1.2.3s', 'PT1M', '1S'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(DurationError);
  });

  it('says what is expected', () => {
    expect(() => parseDuration('5 minutes')).toThrow(/invalid duration "5 minutes".*ns, us, ms, s, m, h/);
  });

  it('stale bound is twice the heartbeat, as the CRD defines', () => {
    expect(staleAfterMs({ heartbeatInterval: '60s' })).toBe(120_000);
  });
});

const threshold = (over: Partial<Threshold> = {}): Threshold => ({ name: 'drops', metric: 'dropsPerSecond', warning: 100, critical: 1000, clear: 50, for: '1m', ...over });

describe('compileThresholds', () => {
  it('resolves for, clear (default: the lowest level) and lossPercent interfaces', () => {
    const [a, b, c] = compileThresholds({
      interfaces: ['ens1f0', 'ens1f1'],
      thresholds: [
        threshold(),
        { name: 'crit-only', metric: 'dropsPerSecond', critical: 10, for: '0s' },
        { name: 'loss', metric: 'lossPercent', warning: 0.1, for: '2m' },
      ],
    });
    expect(a).toMatchObject({ name: 'drops', warning: 100, critical: 1000, clear: 50, forMs: 60_000, interfaces: [] });
    expect(b).toMatchObject({ critical: 10, clear: 10, forMs: 0 });
    expect(b).not.toHaveProperty('warning');
    expect(c).toMatchObject({ metric: 'lossPercent', clear: 0.1, forMs: 120_000, interfaces: ['ens1f0', 'ens1f1'] });
  });

  it.each([
    [{ for: '1 minute' }, /threshold drops: for: invalid duration/],
    [{ warning: 0, critical: 0, drop: ['warning', 'critical'] }, /set warning, critical or both/],
    [{ warning: 1000, critical: 100 }, /warning must be lower than critical/],
    [{ clear: 500 }, /clear must not be above/],
  ])('rejects %j', (over, message) => {
    const { drop = [], ...fields } = over as Partial<Threshold> & { drop?: string[] };
    const t: Record<string, unknown> = { ...threshold(fields) };
    for (const k of drop) delete t[k];
    expect(() => compileThresholds({ thresholds: [t as unknown as Threshold] })).toThrow(ThresholdError);
    expect(() => compileThresholds({ thresholds: [t as unknown as Threshold] })).toThrow(message);
  });
});

const T0 = Date.UTC(2026, 0, 1);
const STALE = 120_000;

function report(over: Partial<DropWatchNodeReportStatus> = {}, atMs = T0): DropWatchNodeReportStatus {
  return {
    lastHeartbeatTime: new Date(atMs).toISOString(),
    window: { seconds: 10 },
    agent: { sources: ['tracepoint', 'counters'] },
    totals: { drops: 0, dropsPerSecond: 0 },
    ...over,
  };
}

function withoutTotals(r: DropWatchNodeReportStatus): DropWatchNodeReportStatus {
  const rest = { ...r };
  delete (rest as { totals?: unknown }).totals;
  return rest;
}

type Obs = number | 'stale' | 'none' | 'nodata';
type Step = readonly [seconds: number, observed: Obs, phase: Phase, transitions?: readonly TransitionKind[]];

/** Runs a sequence of evaluations of one threshold, checking the phase and transitions after each. */
function run(t: CompiledThreshold, steps: readonly Step[], start?: ThresholdState): void {
  let previous: Record<string, ThresholdState> | undefined = start === undefined ? undefined : { [t.name]: start };
  for (const [sec, obs, phase, kinds = []] of steps) {
    const now = T0 + sec * 1000;
    const rep =
      obs === 'none'
        ? undefined
        : obs === 'stale'
          ? report({ totals: { dropsPerSecond: 0 } }, now - STALE - 1)
          : obs === 'nodata'
            ? withoutTotals(report({}, now))
            : report({ totals: { dropsPerSecond: obs } }, now);
    const ev = evaluateNode({ node: 'n1', thresholds: [t], report: rep, previous, nowMs: now, staleAfterMs: STALE });
    expect({ at: sec, phase: ev.states[t.name]?.phase }).toEqual({ at: sec, phase });
    expect({ at: sec, kinds: ev.transitions.map((x) => x.kind) }).toEqual({ at: sec, kinds: [...kinds] });
    previous = { ...ev.states };
  }
}

const [base] = compileThresholds({ thresholds: [threshold()] });
const [instant] = compileThresholds({ thresholds: [threshold({ for: '0s' })] });
const [critOnly] = compileThresholds({ thresholds: [{ name: 'drops', metric: 'dropsPerSecond', critical: 10, for: '30s' }] });
const [warnOnly] = compileThresholds({ thresholds: [{ name: 'drops', metric: 'dropsPerSecond', warning: 10, for: '30s' }] });
const OK: ThresholdState = { phase: 'OK' };

describe('evaluateNode state machine (warning 100, critical 1000, clear 50, for 1m)', () => {
  const table: [string, CompiledThreshold, ThresholdState | undefined, Step[]][] = [
    ['stays OK at or below the level', base!, OK, [[0, 100, 'OK'], [60, 10, 'OK'], [120, 100, 'OK']]],
    ['warning after a whole `for` above it', base!, OK, [[0, 150, 'Pending'], [30, 500, 'Pending'], [60, 150, 'Warning', ['EnteredWarning']], [90, 150, 'Warning']]],
    ['a dip to the level cancels the pending breach', base!, OK, [[0, 150, 'Pending'], [30, 100, 'OK'], [60, 150, 'Pending'], [90, 150, 'Pending'], [120, 150, 'Warning', ['EnteredWarning']]]],
    ['straight to critical when above it for `for`', base!, OK, [[0, 2000, 'Pending'], [60, 2000, 'Critical', ['EnteredCritical']]]],
    ['escalation from warning needs its own `for`', base!, OK, [
      [0, 150, 'Pending'], [60, 150, 'Warning', ['EnteredWarning']], [70, 2000, 'Warning'], [100, 500, 'Warning'],
      [110, 2000, 'Warning'], [169, 2000, 'Warning'], [170, 2000, 'Critical', ['EnteredCritical']],
    ]],
    ['pending critical that started late becomes warning first', base!, OK, [
      [0, 150, 'Pending'], [30, 2000, 'Pending'], [60, 2000, 'Warning', ['EnteredWarning']], [90, 2000, 'Critical', ['EnteredCritical']],
    ]],
    ['between clear and the level keeps Warning (no flapping)', base!, { phase: 'Warning', sinceMs: T0 }, [[0, 80, 'Warning'], [60, 60, 'Warning'], [600, 99, 'Warning']]],
    ['between clear and critical keeps Critical', base!, { phase: 'Critical', sinceMs: T0 }, [[0, 500, 'Critical'], [60, 51, 'Critical'], [600, 150, 'Critical']]],
    ['recovers after a whole `for` at or below clear', base!, { phase: 'Warning', sinceMs: T0 }, [[0, 50, 'Recovering'], [30, 0, 'Recovering'], [60, 50, 'OK', ['Recovered']]]],
    ['recovery interrupted returns to the breach silently', base!, { phase: 'Critical', sinceMs: T0 }, [[0, 40, 'Recovering'], [30, 60, 'Critical'], [60, 40, 'Recovering'], [120, 40, 'OK', ['Recovered']]]],
    ['recovering from warning, back above critical, escalates after `for`', base!, { phase: 'Warning', sinceMs: T0 }, [[0, 10, 'Recovering'], [30, 2000, 'Warning'], [90, 2000, 'Critical', ['EnteredCritical']]]],
    ['for 0s changes state on the first report', instant!, OK, [[0, 2000, 'Critical', ['EnteredCritical']], [1, 20, 'OK', ['Recovered']], [2, 150, 'Warning', ['EnteredWarning']], [3, 60, 'Warning']]],
    ['critical-only threshold: pending then critical', critOnly!, OK, [[0, 11, 'Pending'], [29, 11, 'Pending'], [30, 11, 'Critical', ['EnteredCritical']], [40, 10, 'Recovering'], [70, 10, 'OK', ['Recovered']]]],
    ['warning-only threshold never escalates', warnOnly!, OK, [[0, 1e6, 'Pending'], [30, 1e6, 'Warning', ['EnteredWarning']], [600, 1e6, 'Warning']]],
    ['a stale report is Unknown, never healthy', base!, OK, [[0, 'stale', 'Unknown', ['BecameUnknown']], [60, 'stale', 'Unknown']]],
    ['a missing report is Unknown', base!, { phase: 'Critical', sinceMs: T0 }, [[0, 'none', 'Unknown', ['BecameUnknown']]]],
    ['no data for the metric is Unknown', base!, OK, [[0, 'nodata', 'Unknown', ['BecameUnknown']]]],
    ['leaving Unknown restarts evaluation', base!, { phase: 'Critical', sinceMs: T0 }, [
      [0, 'stale', 'Unknown', ['BecameUnknown']], [60, 2000, 'Pending', ['LeftUnknown']], [90, 2000, 'Pending'], [120, 2000, 'Critical', ['EnteredCritical']],
    ]],
    ['a node seen first without a report is Unknown silently', base!, undefined, [[0, 'none', 'Unknown'], [10, 5, 'OK'], [20, 'stale', 'Unknown', ['BecameUnknown']]]],
  ];
  it.each(table)('%s', (_name, t, start, steps) => run(t, steps, start));
});

describe('evaluateNode outputs', () => {
  it('reports transitions with node, threshold, values and levels', () => {
    const ev = evaluateNode({
      node: 'sensor-1',
      thresholds: [instant!],
      report: report({ totals: { dropsPerSecond: 1500 } }),
      previous: { drops: OK },
      nowMs: T0,
      staleAfterMs: STALE,
    });
    expect(ev.transitions).toEqual([{ node: 'sensor-1', threshold: 'drops', kind: 'EnteredCritical', from: 'Pending', to: 'Critical', atMs: T0, value: 1500, level: 1000 }]);
    expect(ev.results).toEqual([{ threshold: 'drops', metric: 'dropsPerSecond', state: { phase: 'Critical', sinceMs: T0 }, value: 1500 }]);
    expect(ev.stale).toBe(false);
  });

  it('asks to be re-run when a timer runs out or the report goes stale', () => {
    const pending = evaluateNode({ node: 'n', thresholds: [base!], report: report({ totals: { dropsPerSecond: 500 } }), previous: { drops: OK }, nowMs: T0, staleAfterMs: STALE });
    expect(pending.recheckAtMs).toBe(T0 + 60_000);
    const quiet = evaluateNode({ node: 'n', thresholds: [base!], report: report(), previous: { drops: OK }, nowMs: T0 + 5000, staleAfterMs: STALE });
    expect(quiet.recheckAtMs).toBe(T0 + STALE + 1);
    const stale = evaluateNode({ node: 'n', thresholds: [base!], report: undefined, previous: undefined, nowMs: T0, staleAfterMs: STALE });
    expect(stale.recheckAtMs).toBeUndefined();
    expect(stale.stale).toBe(true);
  });

  it('forgets thresholds that left the policy', () => {
    const ev = evaluateNode({ node: 'n', thresholds: [base!], report: report(), previous: { gone: { phase: 'Critical', sinceMs: T0 }, drops: OK }, nowMs: T0, staleAfterMs: STALE });
    expect(Object.keys(ev.states)).toEqual(['drops']);
  });
});

describe('measure', () => {
  const rep = report({
    window: { seconds: 10 },
    totals: { drops: 1000, dropsPerSecond: 100 },
    ladder: { nic: { dropsPerSecond: 40 }, backlog: { dropsPerSecond: 5 }, transport: { dropsPerSecond: 30 }, capture: { dropsPerSecond: 25 } },
    drops: [
      { symbol: '__udp4_lib_rcv', offset: 0x4bc, reason: 'NO_SOCKET', layer: 'transport', count: 300, rate: 30 },
      { symbol: 'enqueue_to_backlog', reason: 'CPU_BACKLOG', layer: 'backlog', count: 50, rate: 5 },
      { symbol: 'tpacket_rcv', reason: 'NOMEM', layer: 'capture', count: 20 },
      { symbol: '__alloc_skb', reason: 'NOMEM', layer: 'driver', count: 10, rate: 1 },
    ],
    interfaces: [
      { name: 'ens1f0', rxPackets: 9000, drops: { rx_missed_errors: 300, rx_dropped: 100, 'ethtool:rx_out_of_buffer': 300 }, lossPercent: 4.255 },
      { name: 'ens1f1', rxPackets: 100, drops: { rx_dropped: 10 }, lossPercent: 9.09 },
      { name: 'eth0', rxPackets: 5, lossPercent: 0 },
    ],
  });
  const m = (t: Partial<Threshold>) => {
    const [c] = compileThresholds({ interfaces: ['ens1f0', 'ens1f1', 'eth0'], thresholds: [threshold(t)] });
    return measure(c!, rep);
  };
  it.each<[string, Partial<Threshold>, ReturnType<typeof measure>]>([
    ['total', {}, { ok: true, value: 100 }],
    ['layers from the ladder', { match: { layers: ['nic', 'capture'] } }, { ok: true, value: 65 }],
    ['reasons from the drop sites (rate, else count/window)', { match: { reasons: ['NOMEM', 'CPU_BACKLOG'] } }, { ok: true, value: 8 }],
    ['reasons narrowed by layers', { match: { reasons: ['NOMEM'], layers: ['capture'] } }, { ok: true, value: 2 }],
    ['a reason nobody dropped for is zero', { match: { reasons: ['SOCKET_RCVBUFF'] } }, { ok: true, value: 0 }],
    ['interfaces: rx_missed_errors + rx_dropped per second', { match: { interfaces: ['ens1f0', 'ens1f1'] } }, { ok: true, value: 41 }],
    ['interfaces narrowed to the nic layer', { match: { interfaces: ['ens1f0'], layers: ['nic'] } }, { ok: true, value: 30 }],
    ['lossPercent: the worst matched interface wins', { metric: 'lossPercent', warning: 1, critical: 5, clear: 0.5 }, { ok: true, value: 9.09, detail: 'ens1f1' }],
    ['lossPercent on one interface', { metric: 'lossPercent', warning: 1, critical: 5, clear: 0.5, match: { interfaces: ['ens1f0'] } }, { ok: true, value: 4.255, detail: 'ens1f0' }],
    ['an interface missing from the report has no data', { metric: 'lossPercent', warning: 1, critical: 5, clear: 0.5, match: { interfaces: ['ens9'] } }, { ok: false, why: 'no counters for interface(s) ens9 in the report' }],
  ])('%s', (_n, t, want) => {
    expect(m(t)).toEqual(want);
  });

  it('a reason filter has no data on a counters-only node', () => {
    const [c] = compileThresholds({ thresholds: [threshold({ match: { reasons: ['NOMEM'] } })] });
    expect(measure(c!, report({ agent: { sources: ['counters'] }, drops: [] }))).toMatchObject({ ok: false });
  });
});

describe('worstResult', () => {
  const r = (threshold: string, state: ThresholdState, value?: number) => ({ threshold, metric: 'dropsPerSecond' as const, state, ...(value === undefined ? {} : { value }) });
  it.each<[string, Parameters<typeof worstResult>[0], ReturnType<typeof worstResult>]>([
    ['nothing is healthy', [], { standing: 'Healthy' }],
    ['pending is not a breach', [r('a', { phase: 'Pending', severity: 'critical', sinceMs: 0 }, 5000)], { standing: 'Healthy' }],
    ['critical beats warning', [r('a', { phase: 'Warning', sinceMs: 0 }, 9000), r('b', { phase: 'Critical', sinceMs: 0 }, 2000)], { standing: 'Critical', threshold: 'b', metric: 'dropsPerSecond', value: 2000 }],
    ['recovering still counts at its level', [r('a', { phase: 'Recovering', from: 'critical', sinceMs: 0, firingSinceMs: 0 }, 3)], { standing: 'Critical', threshold: 'a', metric: 'dropsPerSecond', value: 3 }],
    ['unknown beats healthy', [r('a', OK, 1), r('b', { phase: 'Unknown', cause: 'Stale', sinceMs: 0, announced: true })], { standing: 'Unknown', threshold: 'b', metric: 'dropsPerSecond' }],
    ['same standing: higher value wins', [r('a', { phase: 'Warning', sinceMs: 0 }, 200), r('b', { phase: 'Warning', sinceMs: 0 }, 300)], { standing: 'Warning', threshold: 'b', metric: 'dropsPerSecond', value: 300 }],
  ])('%s', (_n, results, want) => {
    expect(worstResult(results)).toEqual(want);
  });
});
