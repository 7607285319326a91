import { describe, expect, it } from 'vitest';
import type { DropSite } from '../api/generated/types.js';
import { actionableRate, fleetTopSites, nodeRows, reportRow, reportView, siteLocation, topLayer, type NodeInput, type PolicyInput, type ReportInput } from './view.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const ago = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString();

const site = (symbol: string, reason: string, rate: number, extra: Partial<DropSite> = {}): DropSite => ({
  symbol, reason, layer: 'transport', count: Math.round(rate * 10), rate, ...extra,
});

function report(policy: string, node: string, sites: DropSite[], opts: { heartbeatAgo?: number; lost?: number; ladder?: Record<string, number> } = {}): ReportInput {
  const total = sites.reduce((a, s) => a + (s.rate ?? 0), 0);
  return {
    apiVersion: 'dropwatch.dev/v1alpha1',
    kind: 'DropWatchNodeReport',
    metadata: { name: `${policy}.${node}` },
    spec: { policy, nodeName: node },
    status: {
      window: { seconds: 10 },
      agent: { kernel: '6.1.0-18-amd64', sources: ['tracepoint', 'counters'] },
      totals: { drops: total * 10, dropsPerSecond: total },
      ladder: Object.fromEntries(Object.entries(opts.ladder ?? { transport: total }).map(([k, v]) => [k, { drops: v * 10, dropsPerSecond: v }])),
      drops: sites,
      interfaces: [{ name: 'ens1f0', rxPackets: 1000, drops: { rx_missed_errors: 5 }, lossPercent: 0.5 }],
      monitor: { lostEvents: opts.lost ?? 0 },
      ...(opts.heartbeatAgo === undefined ? {} : { lastHeartbeatTime: ago(opts.heartbeatAgo) }),
    },
  } as ReportInput;
}

const policy = (name: string, thresholds: boolean, heartbeat = '60s', selector: Record<string, string> = { sensor: 'yes' }): PolicyInput => ({
  metadata: { name },
  spec: {
    nodeSelector: { matchLabels: selector },
    heartbeatInterval: heartbeat,
    ...(thresholds ? { thresholds: [{ name: 't', metric: 'dropsPerSecond', warning: 100, for: '0s' }] } : {}),
  },
});

const node = (name: string, packetLoss?: { status: string; reason: string }, labels: Record<string, string> = { sensor: 'yes' }): NodeInput => ({
  name,
  labels,
  conditions: packetLoss === undefined ? [] : [{ type: 'PacketLoss', ...packetLoss, message: 'm' }],
});

describe('reportRow', () => {
  it('summarizes a report: rate, actionable rate, top layer and site, lost events, age', () => {
    const r = report('p', 'n1', [site('__udp4_lib_rcv', 'NO_SOCKET', 300, { offset: 0x4bc }), site('__udp_enqueue_schedule_skb', 'SOCKET_RCVBUFF', 120, { layer: 'socket' })], {
      heartbeatAgo: 5, lost: 7, ladder: { transport: 300, socket: 120 },
    });
    expect(reportRow(r, policy('p', true), node('n1', { status: 'False', reason: 'NoPacketLoss' }), NOW)).toEqual({
      node: 'n1', policy: 'p', state: 'Healthy', report: 'p.n1', dropsPerSecond: 420, actionablePerSecond: 120, topLayer: 'transport',
      topSite: '__udp4_lib_rcv+0x4bc (NO_SOCKET)', lostEvents: 7, lastHeartbeatTime: ago(5), ageSeconds: 5, kernel: '6.1.0-18-amd64',
      sources: ['tracepoint', 'counters'], maxLossPercent: 0.5, condition: { status: 'False', reason: 'NoPacketLoss', message: 'm' },
    });
  });

  it.each([
    ['PacketLoss True critical', { status: 'True', reason: 'DropThresholdCritical' }, 5, true, 'Critical'],
    ['PacketLoss True warning', { status: 'True', reason: 'DropThresholdWarning' }, 5, true, 'Warning'],
    ['a breach outranks an old heartbeat', { status: 'True', reason: 'DropThresholdWarning' }, 500, true, 'Warning'],
    ['PacketLoss False', { status: 'False', reason: 'NoPacketLoss' }, 5, true, 'Healthy'],
    ['PacketLoss Unknown, fresh report', { status: 'Unknown', reason: 'DropReportStale' }, 5, true, 'Unknown'],
    ['older than twice the heartbeat', { status: 'Unknown', reason: 'DropReportStale' }, 121, true, 'STALE'],
    ['exactly twice the heartbeat is still fresh', { status: 'False', reason: 'NoPacketLoss' }, 120, true, 'Healthy'],
    ['a policy without thresholds judges nothing', { status: 'True', reason: 'DropThresholdWarning' }, 5, false, 'Reporting'],
    ['no condition yet', undefined, 5, true, 'Reporting'],
  ] as const)('state: %s', (_name, cond, hbAgo, thresholds, want) => {
    const r = report('p', 'n1', [site('f', 'NO_SOCKET', 1)], { heartbeatAgo: hbAgo });
    expect(reportRow(r, policy('p', thresholds), node('n1', cond), NOW).state).toBe(want);
  });

  it('uses the policy heartbeat for staleness, and the CRD default when the policy is unknown', () => {
    const r = report('p', 'n1', [site('f', 'NO_SOCKET', 1)], { heartbeatAgo: 30 });
    expect(reportRow(r, policy('p', false, '10s'), undefined, NOW).state).toBe('STALE');
    expect(reportRow(r, undefined, undefined, NOW).state).toBe('Reporting');
    const noHeartbeat = report('p', 'n1', []);
    expect(reportRow(noHeartbeat, undefined, undefined, NOW)).toMatchObject({ state: 'STALE', dropsPerSecond: 0, actionablePerSecond: 0 });
    expect(reportRow(noHeartbeat, undefined, undefined, NOW).topSite).toBeUndefined();
  });
});

describe('small helpers', () => {
  it('actionable rate counts only sites the classifier calls actionable, using count/window when rate is absent', () => {
    const r = report('p', 'n', [
      site('__udp4_lib_rcv', 'NO_SOCKET', 100),
      site('ip_rcv_core', 'OTHERHOST', 50),
      { symbol: 'enqueue_to_backlog', reason: 'CPU_BACKLOG', layer: 'backlog', count: 40 },
      site('tpacket_rcv', 'PACKET_SOCK_ERROR', 2.5),
    ]);
    expect(actionableRate(r)).toBe(4 + 2.5);
  });

  it('top layer is the busiest ladder layer, none when nothing dropped', () => {
    expect(topLayer(report('p', 'n', [], { ladder: { nic: 5, backlog: 9, socket: 1 } }))).toBe('backlog');
    expect(topLayer(report('p', 'n', [], { ladder: {} }))).toBeUndefined();
  });

  it('locations print like %pS without the size', () => {
    expect(siteLocation({ symbol: 'mlx5e_handle_rx_cqe', offset: 0x1f0, module: 'mlx5_core' })).toBe('mlx5e_handle_rx_cqe+0x1f0 [mlx5_core]');
    expect(siteLocation({ symbol: '0xffffffff81000000', offset: 0 })).toBe('0xffffffff81000000');
  });
});

describe('nodeRows', () => {
  const reports = [
    report('p', 'a', [site('f', 'NO_SOCKET', 10)], { heartbeatAgo: 1 }),
    report('p', 'b', [site('f', 'NO_SOCKET', 500)], { heartbeatAgo: 1 }),
    report('q', 'b', [site('f', 'NO_SOCKET', 500)], { heartbeatAgo: 1 }),
    report('p', 'c', [site('f', 'NO_SOCKET', 50)], { heartbeatAgo: 1 }),
  ];
  const policies = [policy('p', true), policy('q', false, '60s', { span: 'yes' })];
  const nodes = [node('a'), node('b', undefined, { sensor: 'yes', span: 'yes' }), node('c'), node('d'), node('e', undefined, { other: 'x' })];

  it('sorts by rate, worst first, ties by node then policy; adds NO REPORT rows last for selected nodes', () => {
    const rows = nodeRows({ reports, policies, nodes, now: NOW });
    expect(rows.map((r) => `${r.node}/${r.policy}/${r.state}`)).toEqual(['b/p/Reporting', 'b/q/Reporting', 'c/p/Reporting', 'a/p/Reporting', 'd/p/NO REPORT']);
  });

  it('sorts by name, and filters by policy', () => {
    expect(nodeRows({ reports, policies, nodes, now: NOW }, { sort: 'name' }).map((r) => `${r.node}/${r.policy}`)).toEqual(['a/p', 'b/p', 'b/q', 'c/p', 'd/p']);
    expect(nodeRows({ reports, policies, nodes, now: NOW }, { policy: 'q' }).map((r) => `${r.node}/${r.policy}`)).toEqual(['b/q']);
  });

  it('cannot tell NO REPORT without policies or nodes', () => {
    expect(nodeRows({ reports, nodes, now: NOW }).some((r) => r.state === 'NO REPORT')).toBe(false);
    expect(nodeRows({ reports, policies, now: NOW }).some((r) => r.state === 'NO REPORT')).toBe(false);
  });
});

describe('fleetTopSites', () => {
  it('sums a site across nodes, counts nodes, names the worst node, and leaves stale reports out', () => {
    const top = fleetTopSites({
      reports: [
        report('p', 'a', [site('__udp4_lib_rcv', 'NO_SOCKET', 100, { offset: 0x4bc }), site('tpacket_rcv', 'PACKET_SOCK_ERROR', 7, { layer: 'capture' })], { heartbeatAgo: 1 }),
        report('p', 'b', [site('__udp4_lib_rcv', 'NO_SOCKET', 300, { offset: 0x4c0, hint: 'from b' })], { heartbeatAgo: 1 }),
        report('p', 'old', [site('__udp4_lib_rcv', 'NO_SOCKET', 9999)], { heartbeatAgo: 3600 }),
      ],
      policies: [policy('p', true)],
      now: NOW,
    });
    expect(top).toMatchObject({ reports: 2, nodes: 2, staleReports: 1 });
    expect(top.sites).toEqual([
      { symbol: '__udp4_lib_rcv', reason: 'NO_SOCKET', layer: 'transport', site: '__udp4_lib_rcv+0x4c0 (NO_SOCKET)', dropsPerSecond: 400, nodes: 2, worstNode: 'b', worstNodeDropsPerSecond: 300, actionable: false, hint: 'from b' },
      { symbol: 'tpacket_rcv', reason: 'PACKET_SOCK_ERROR', layer: 'capture', site: 'tpacket_rcv (PACKET_SOCK_ERROR)', dropsPerSecond: 7, nodes: 1, worstNode: 'a', worstNodeDropsPerSecond: 7, actionable: true },
    ]);
  });

  it('counts a node covered by two policies once (its highest figure), adds offsets of one function within a report', () => {
    const top = fleetTopSites({
      reports: [
        report('p', 'a', [site('f', 'NO_SOCKET', 10, { offset: 1 }), site('f', 'NO_SOCKET', 5, { offset: 2 })], { heartbeatAgo: 1 }),
        report('q', 'a', [site('f', 'NO_SOCKET', 12)], { heartbeatAgo: 1 }),
      ],
      now: NOW,
    });
    expect(top.sites).toHaveLength(1);
    expect(top.sites[0]).toMatchObject({ dropsPerSecond: 15, nodes: 1, worstNode: 'a' });
    expect(top.reports).toBe(2);
    expect(top.nodes).toBe(1);
  });

  it('filters by policy, limits, and drops zero-rate sites', () => {
    const reports = [
      report('p', 'a', [site('f', 'NO_SOCKET', 3), site('g', 'OTHERHOST', 2), site('h', 'NOMEM', 0)], { heartbeatAgo: 1 }),
      report('q', 'b', [site('x', 'NO_SOCKET', 50)], { heartbeatAgo: 1 }),
    ];
    expect(fleetTopSites({ reports, now: NOW }, { policy: 'p' }).sites.map((s) => s.symbol)).toEqual(['f', 'g']);
    expect(fleetTopSites({ reports, now: NOW }, { limit: 1 }).sites.map((s) => s.symbol)).toEqual(['x']);
  });
});

describe('reportView', () => {
  it('lists sites busiest first, all eight ladder layers, interface drop totals, and de-duplicated hints with actionable ones first', () => {
    const v = reportView(
      report('p', 'n', [
        site('__udp4_lib_rcv', 'NO_SOCKET', 300),
        site('__udp_enqueue_schedule_skb', 'SOCKET_RCVBUFF', 120, { layer: 'socket', hint: 'raise rmem' }),
        site('udp_queue_rcv_one_skb', 'SOCKET_RCVBUFF', 60, { layer: 'socket', hint: 'raise rmem' }),
        { symbol: 'enqueue_to_backlog', reason: 'CPU_BACKLOG', layer: 'backlog', count: 400 },
      ], { heartbeatAgo: 2 }),
      policy('p', true),
      node('n', { status: 'True', reason: 'DropThresholdCritical' }),
      NOW,
    );
    expect(v.row.state).toBe('Critical');
    expect(v.sites.map((s) => [s.reason, s.rate, s.actionable])).toEqual([
      ['NO_SOCKET', 300, false], ['SOCKET_RCVBUFF', 120, true], ['SOCKET_RCVBUFF', 60, true], ['CPU_BACKLOG', 40, true],
    ]);
    // A site without a hint in the report gets the classifier's.
    expect(v.sites[3]?.hint).toMatch(/netdev_max_backlog/);
    expect(v.ladder.map((l) => l.layer)).toEqual(['nic', 'driver', 'backlog', 'netfilter', 'ip', 'transport', 'socket', 'capture']);
    expect(v.interfaces).toEqual([{ name: 'ens1f0', rxPackets: 1000, drops: 5, counters: { rx_missed_errors: 5 }, lossPercent: 0.5 }]);
    expect(v.hints.map((h) => [h.site, h.actionable])).toEqual([
      ['__udp_enqueue_schedule_skb (SOCKET_RCVBUFF)', true],
      ['enqueue_to_backlog (CPU_BACKLOG)', true],
      ['__udp4_lib_rcv (NO_SOCKET)', false],
    ]);
  });
});
