import { describe, expect, it } from 'vitest';
import type { DropWatchPolicySpec, PolicyCondition } from '../api/generated/types.js';
import type { NodeEvaluation, ThresholdResult, ThresholdState } from './evaluate.js';
import {
  formatSite,
  planNodeCondition,
  planPolicyStatus,
  summarizeReport,
  type DaemonSetObservation,
  type PolicyStatusInput,
  type ReportSummary,
  type SiteSummary,
} from './policy-status.js';

const NOW = new Date(Date.UTC(2026, 0, 1, 12, 0, 0));
const nowMs = NOW.getTime();
const spec: Pick<DropWatchPolicySpec, 'heartbeatInterval' | 'sources'> = {
  heartbeatInterval: '60s',
  sources: { tracepoint: { enabled: true, bufferSizeKb: 2048 }, histTriggers: { enabled: true }, counters: { enabled: true } },
};
const dsDone: DaemonSetObservation = { name: 'dropwatch-span', desired: 3, current: 3, ready: 3, updated: 3, available: 3, upToDate: true };

const site = (symbol: string, reason: string, rate: number, over: Partial<SiteSummary> = {}): SiteSummary => ({ symbol, reason, layer: 'transport', rate, ...over });
const summary = (over: Partial<ReportSummary> = {}): ReportSummary => ({
  heartbeatMs: nowMs - 10_000,
  dropsPerSecond: 10,
  lostEvents: 0,
  sources: ['tracepoint', 'counters'],
  topSites: [],
  ...over,
});
const result = (threshold: string, state: ThresholdState, value?: number): ThresholdResult => ({ threshold, metric: 'dropsPerSecond', state, ...(value === undefined ? {} : { value }) });
const evaluation = (node: string, results: ThresholdResult[]): NodeEvaluation => ({ node, states: {}, results, transitions: [], stale: false });

function input(over: Partial<PolicyStatusInput> = {}): PolicyStatusInput {
  return {
    policy: { name: 'span', generation: 4, spec },
    now: NOW,
    daemonSet: dsDone,
    matchingNodes: ['n1', 'n2', 'n3'],
    reports: new Map([['n1', summary()], ['n2', summary()], ['n3', summary()]]),
    evaluations: new Map(),
    otherPolicies: new Map(),
    ...over,
  };
}

const cond = (conds: readonly PolicyCondition[] | undefined, type: string) => {
  const c = conds?.find((x) => x.type === type);
  return c === undefined ? undefined : [c.status, c.reason];
};

describe('planPolicyStatus conditions', () => {
  const stale = summary({ heartbeatMs: nowMs - 121_000 });
  it.each<[string, Partial<PolicyStatusInput>, Record<string, [string, string]>]>([
    ['rolled out and every node reports: Ready', {}, { Ready: ['True', 'AgentsReady'], Reconciling: ['False', 'Reconciled'], Stalled: ['False', 'NotStalled'], Degraded: ['False', 'AsExpected'] }],
    ['no node matches: Ready, nothing to do', { matchingNodes: [], reports: new Map(), daemonSet: { ...dsDone, desired: 0, current: 0, ready: 0, updated: 0, available: 0 } }, { Ready: ['True', 'NoMatchingNodes'], Reconciling: ['False', 'Reconciled'] }],
    ['no DaemonSet yet: rolling out', { daemonSet: undefined, reports: new Map() }, { Ready: ['False', 'RollingOut'], Reconciling: ['True', 'RollingOut'] }],
    ['DaemonSet on an old template: rolling out', { daemonSet: { ...dsDone, upToDate: false } }, { Ready: ['False', 'RollingOut'], Reconciling: ['True', 'RollingOut'] }],
    ['pods not all updated: rolling out', { daemonSet: { ...dsDone, updated: 2 } }, { Ready: ['False', 'RollingOut'], Reconciling: ['True', 'RollingOut'] }],
    ['rolled out, first report pending: reconciling', { reports: new Map([['n1', summary()], ['n2', summary()]]) }, { Ready: ['False', 'AwaitingReports'], Reconciling: ['True', 'AwaitingReports'], Degraded: ['False', 'AsExpected'] }],
    ['a node went stale: not Ready, Degraded, not reconciling', { reports: new Map([['n1', summary()], ['n2', summary()], ['n3', stale]]) }, { Ready: ['False', 'NodesStale'], Reconciling: ['False', 'Reconciled'], Degraded: ['True', 'NodesStale'] }],
    ['a node the DaemonSet does not schedule: Degraded', { daemonSet: { ...dsDone, desired: 2, current: 2, ready: 2, updated: 2, available: 2 }, reports: new Map([['n1', summary()], ['n2', summary()]]) }, { Ready: ['False', 'AgentsNotScheduled'], Reconciling: ['False', 'Reconciled'], Degraded: ['True', 'AgentsNotScheduled'] }],
    ['a DaemonSet its controller has not counted yet (desired 0): rolling out, not Degraded', { daemonSet: { ...dsDone, desired: 0, current: 0, ready: 0, updated: 0, available: 0, upToDate: false }, reports: new Map() }, { Ready: ['False', 'RollingOut'], Reconciling: ['True', 'RollingOut'], Degraded: ['False', 'AsExpected'] }],
    ['monitor losing events: Ready but Degraded', { reports: new Map([['n1', summary({ lostEvents: 5 })], ['n2', summary()], ['n3', summary()]]) }, { Ready: ['True', 'AgentsReady'], Degraded: ['True', 'MonitorLosingEvents'] }],
    ['counters-only node: Degraded', { reports: new Map([['n1', summary({ sources: ['counters'] })], ['n2', summary()], ['n3', summary()]]) }, { Ready: ['True', 'AgentsReady'], Degraded: ['True', 'CountersOnly'] }],
    ['counters missing: Degraded', { reports: new Map([['n1', summary({ sources: ['tracepoint'] })], ['n2', summary()], ['n3', summary()]]) }, { Degraded: ['True', 'SourcesMissing'] }],
    ['stalled by the operator', { stalled: { reason: 'DaemonSetRejected', message: 'forbidden' } }, { Ready: ['False', 'Stalled'], Reconciling: ['False', 'Stalled'], Stalled: ['True', 'DaemonSetRejected'] }],
    ['an unparsable heartbeat stalls', { policy: { name: 'span', generation: 4, spec: { ...spec, heartbeatInterval: 'soon' } } }, { Ready: ['False', 'Stalled'], Stalled: ['True', 'InvalidSpec'] }],
  ])('%s', (_n, over, want) => {
    const s = planPolicyStatus(input(over));
    for (const [type, expected] of Object.entries(want)) expect([type, cond(s.conditions, type)]).toEqual([type, expected]);
    expect(s.conditions?.map((c) => c.type)).toEqual(['Ready', 'Reconciling', 'Stalled', 'Degraded']);
    expect(s.conditions?.every((c) => c.observedGeneration === 4)).toBe(true);
    expect(s.observedGeneration).toBe(4);
  });

  it('lists every degradation in the message, the first as the reason', () => {
    const s = planPolicyStatus(input({ reports: new Map([['n1', summary({ lostEvents: 5 })], ['n2', summary({ sources: ['counters'] })], ['n3', stale]]) }));
    const d = s.conditions?.find((c) => c.type === 'Degraded');
    expect(d?.reason).toBe('NodesStale');
    expect(d?.message).toMatch(/1 node stopped reporting \(n3\).*lost drop events on 1 node \(n1\).*no kernel drop source, only counters, on 1 node \(n2\)/);
  });

  it('keeps lastTransitionTime while a status stays, moves it when it changes', () => {
    const earlier = '2026-01-01T00:00:00.000Z';
    const previous = {
      conditions: [
        { type: 'Ready', status: 'True', reason: 'AgentsReady', message: 'old', lastTransitionTime: earlier },
        { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'old', lastTransitionTime: earlier },
      ] satisfies PolicyCondition[],
    };
    const s = planPolicyStatus(input({ previous, reports: new Map([['n1', summary({ lostEvents: 1 })], ['n2', summary()], ['n3', summary()]]) }));
    expect(s.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe(earlier);
    expect(s.conditions?.find((c) => c.type === 'Ready')?.message).toBe('all 3 matching nodes report');
    expect(s.conditions?.find((c) => c.type === 'Degraded')?.lastTransitionTime).toBe(NOW.toISOString());
    expect(s.conditions?.find((c) => c.type === 'Stalled')?.lastTransitionTime).toBe(NOW.toISOString());
  });
});

describe('planPolicyStatus counts and lists', () => {
  it('counts nodes, sums the fleet over fresh nodes, and copies the DaemonSet counts', () => {
    const s = planPolicyStatus(
      input({
        matchingNodes: ['n1', 'n2', 'n3', 'n4'],
        reports: new Map([
          ['n1', summary({ dropsPerSecond: 100.5, lostEvents: 2 })],
          ['n2', summary({ dropsPerSecond: 50 })],
          ['n3', summary({ dropsPerSecond: 999, heartbeatMs: nowMs - 200_000 })],
          ['gone', summary({ dropsPerSecond: 5000 })],
        ]),
        evaluations: new Map([
          ['n1', evaluation('n1', [result('a', { phase: 'Critical', sinceMs: 0 }, 2000), result('b', { phase: 'Warning', sinceMs: 0 }, 200)])],
          ['n2', evaluation('n2', [result('a', { phase: 'Recovering', from: 'warning', sinceMs: 0, firingSinceMs: 0 }, 1), result('b', { phase: 'Pending', severity: 'critical', sinceMs: 0 }, 5000)])],
        ]),
      }),
    );
    expect(s.nodes).toMatchObject({ matching: 4, reporting: 2, stale: 2, warning: 1, critical: 1, alerting: 2, overlappingCount: 0, overlapping: [] });
    expect(s.fleet).toEqual({ dropsPerSecond: 150.5, lostEvents: 2 });
    expect(s.daemonSet).toEqual({ name: 'dropwatch-span', desired: 3, current: 3, ready: 3, updated: 3, available: 3 });
  });

  it('ranks worst nodes by state, then rate, then name, at most 10', () => {
    const nodes = Array.from({ length: 14 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    const reports = new Map(nodes.map((n, i) => [n, summary({ dropsPerSecond: i, topSites: [site('__udp4_lib_rcv', 'NO_SOCKET', i, { offset: 0x4bc })], maxLossPercent: i / 10 })]));
    reports.set('n00', summary({ heartbeatMs: nowMs - 500_000 }));
    const s = planPolicyStatus(
      input({
        matchingNodes: [...nodes, 'silent'],
        reports,
        daemonSet: { ...dsDone, desired: 15, current: 15, ready: 15, updated: 15, available: 15 },
        evaluations: new Map([
          ['n01', evaluation('n01', [result('drops', { phase: 'Critical', sinceMs: 0 }, 1)])],
          ['n02', evaluation('n02', [result('drops', { phase: 'Warning', sinceMs: 0 }, 2)])],
          ['n03', evaluation('n03', [result('loss', { phase: 'Unknown', cause: 'NoData', sinceMs: 0, announced: true })])],
        ]),
      }),
    );
    expect(s.worstNodes?.map((w) => [w.node, w.state])).toEqual([
      ['n01', 'Critical'],
      ['n02', 'Warning'],
      ['n00', 'Stale'],
      ['n03', 'Stale'],
      ['silent', 'Stale'],
      ['n13', 'Healthy'],
      ['n12', 'Healthy'],
      ['n11', 'Healthy'],
      ['n10', 'Healthy'],
      ['n09', 'Healthy'],
    ]);
    expect(s.worstNodes?.[0]).toEqual({ node: 'n01', state: 'Critical', threshold: 'drops', dropsPerSecond: 1, lossPercent: 0.1, topSite: '__udp4_lib_rcv+0x4bc (NO_SOCKET)' });
    expect(s.worstNodes?.find((w) => w.node === 'n03')?.threshold).toBe('loss');
    expect(s.worstNodes?.find((w) => w.node === 'silent')).toEqual({ node: 'silent', state: 'Stale' });
  });

  it('aggregates the same symbol and reason across fresh nodes into fleet top sites', () => {
    const s = planPolicyStatus(
      input({
        reports: new Map([
          ['n1', summary({ topSites: [site('__udp4_lib_rcv', 'NO_SOCKET', 100, { offset: 0x4bc, hint: 'benign' }), site('enqueue_to_backlog', 'CPU_BACKLOG', 30, { layer: 'backlog', hint: 'raise net.core.netdev_max_backlog' })] })],
          ['n2', summary({ topSites: [site('__udp4_lib_rcv', 'NO_SOCKET', 20, { offset: 0x500 }), site('enqueue_to_backlog', 'CPU_BACKLOG', 90.25, { layer: 'backlog', hint: 'raise net.core.netdev_max_backlog' })] })],
          ['n3', summary({ heartbeatMs: nowMs - 999_999, topSites: [site('tpacket_rcv', 'NOMEM', 1e6, { layer: 'capture' })] })],
        ]),
      }),
    );
    expect(s.topSites).toEqual([
      { symbol: 'enqueue_to_backlog', reason: 'CPU_BACKLOG', layer: 'backlog', nodes: 2, dropsPerSecond: 120.25, hint: 'raise net.core.netdev_max_backlog' },
      { symbol: '__udp4_lib_rcv', reason: 'NO_SOCKET', layer: 'transport', nodes: 2, dropsPerSecond: 120, hint: 'benign' },
    ]);
  });

  it('bounds top sites to 10', () => {
    const topSites = Array.from({ length: 10 }, (_, i) => site(`f${i}`, 'NOMEM', i + 1));
    const s = planPolicyStatus(input({ reports: new Map([['n1', summary({ topSites })], ['n2', summary({ topSites: topSites.map((t) => ({ ...t, symbol: `g${t.symbol}` })) })], ['n3', summary()]]) }));
    expect(s.topSites).toHaveLength(10);
    expect(s.topSites?.[0]?.dropsPerSecond).toBe(10);
  });

  it('lists overlapping nodes, bounded, with the other policies sorted and bounded', () => {
    const matchingNodes = Array.from({ length: 25 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    const otherPolicies = new Map(matchingNodes.map((n) => [n, Array.from({ length: 10 }, (_, k) => `p${9 - k}`)]));
    otherPolicies.set('n00', []);
    const s = planPolicyStatus(input({ matchingNodes, otherPolicies }));
    expect(s.nodes?.overlappingCount).toBe(24);
    expect(s.nodes?.overlapping).toHaveLength(20);
    expect(s.nodes?.overlapping?.[0]).toEqual({ node: 'n01', policies: ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'] });
  });
});

describe('summarizeReport', () => {
  it('keeps the heartbeat, rates, worst loss, sources and the busiest sites', () => {
    const s = summarizeReport({
      lastHeartbeatTime: '2026-01-01T11:59:50Z',
      window: { seconds: 10 },
      totals: { dropsPerSecond: 42 },
      monitor: { lostEvents: 3 },
      agent: { sources: ['counters'] },
      interfaces: [{ name: 'a', lossPercent: 1.5 }, { name: 'b', lossPercent: 7 }, { name: 'c' }],
      drops: [
        { symbol: 'x', reason: 'NOMEM', layer: 'ip', count: 10 },
        { symbol: 'y', offset: 16, reason: 'NO_SOCKET', layer: 'transport', count: 500, rate: 50, hint: 'h' },
      ],
    }, 1);
    expect(s).toEqual({
      heartbeatMs: Date.UTC(2026, 0, 1, 11, 59, 50),
      dropsPerSecond: 42,
      lostEvents: 3,
      maxLossPercent: 7,
      sources: ['counters'],
      topSites: [{ symbol: 'y', offset: 16, reason: 'NO_SOCKET', layer: 'transport', rate: 50, hint: 'h' }],
    });
    expect(summarizeReport({}).heartbeatMs).toBeUndefined();
  });

  it('formats a site like the CRD example', () => {
    expect(formatSite({ symbol: '__udp4_lib_rcv', offset: 0x4bc, reason: 'NO_SOCKET' })).toBe('__udp4_lib_rcv+0x4bc (NO_SOCKET)');
    expect(formatSite({ symbol: 'rx_missed_errors', reason: 'NIC' })).toBe('rx_missed_errors (NIC)');
  });
});

describe('planNodeCondition', () => {
  const crit: ThresholdState = { phase: 'Critical', sinceMs: 0 };
  const warn: ThresholdState = { phase: 'Warning', sinceMs: 0 };
  const unknown: ThresholdState = { phase: 'Unknown', cause: 'Stale', sinceMs: 0, announced: true };
  const top = site('enqueue_to_backlog', 'CPU_BACKLOG', 500, { offset: 0x1a, hint: 'raise net.core.netdev_max_backlog' });
  it.each<[string, Parameters<typeof planNodeCondition>[0], ReturnType<typeof planNodeCondition>]>([
    ['no policy covers the node: remove', [], undefined],
    ['only policies without thresholds: remove', [{ policy: 'collect', results: [] }], undefined],
    [
      'a critical breach wins, with value, top site and hint',
      [
        { policy: 'a', results: [result('drops', warn, 500)] },
        { policy: 'b', results: [result('backlog', crit, 2000), result('other', { phase: 'OK' }, 1)], topSite: top },
      ],
      {
        type: 'PacketLoss',
        status: 'True',
        reason: 'DropThresholdCritical',
        message: 'critical: threshold backlog of policy b: dropsPerSecond 2000/s; top drop site enqueue_to_backlog+0x1a (CPU_BACKLOG): raise net.core.netdev_max_backlog; 1 other breach',
      },
    ],
    [
      'warning on lossPercent names the interface; recovering is still a breach',
      [{ policy: 'a', results: [{ threshold: 'capture-loss', metric: 'lossPercent', state: { phase: 'Recovering', from: 'warning', sinceMs: 0, firingSinceMs: 0 }, value: 0.05, detail: 'ens1f0' }] }],
      { type: 'PacketLoss', status: 'True', reason: 'DropThresholdWarning', message: 'warning: threshold capture-loss of policy a: lossPercent 0.05% on ens1f0, recovering' },
    ],
    ['stale and otherwise fine: Unknown, never healthy', [{ policy: 'a', results: [result('drops', unknown)] }, { policy: 'b', results: [result('x', { phase: 'OK' }, 0)] }], { type: 'PacketLoss', status: 'Unknown', reason: 'DropReportStale', message: 'no fresh drop report or no data for a/drops' }],
    ['pending or OK everywhere: False', [{ policy: 'b', results: [result('x', { phase: 'Pending', severity: 'warning', sinceMs: 0 }, 500)] }, { policy: 'a', results: [result('y', { phase: 'OK' })] }], { type: 'PacketLoss', status: 'False', reason: 'NoPacketLoss', message: 'no drop threshold breached (policies: a, b)' }],
  ])('%s', (_n, verdicts, want) => {
    expect(planNodeCondition(verdicts)).toEqual(want);
  });
});
