import { describe, expect, it } from 'vitest';
import type { DropWatchNodeReportStatus } from '../api/generated/types.js';
import type { CounterDiff } from './counters.js';
import { degradedReason, isMaterialChange, REPORT_LIMITS, reportName, ReportNameError, toReportStatus, type ReportMeta } from './report.js';
import { buildSnapshot, type DropSnapshot, type SnapshotInput } from './snapshot.js';
import type { Capabilities, Symbolized } from './types.js';

const caps: Capabilities = {
  tracefs: { available: true, writable: true, path: '/sys/kernel/tracing' },
  kfreeSkb: { available: true, reasonField: true },
  kallsyms: { visible: true },
  histTriggers: false,
  dropMonitor: false,
  ethtool: true,
};

const symbolize = (a: bigint): Symbolized =>
  a === 0xffffffff8204674cn ? { symbol: '__udp4_lib_rcv', offset: 0x4bc, size: 0xd00 } : { symbol: 'tpacket_rcv', offset: 0x40, size: 0x900, module: 'af_packet' };

const counters: CounterDiff = {
  seconds: 2,
  interfaces: [
    { name: 'ens1f0', rxPackets: 9000, rxDropped: 10, rxMissedErrors: 990, rxFifoErrors: 0, rxOverErrors: 0, ethtool: { rx_out_of_buffer: 990, tx_busy: 0 }, drops: 1000, rxPacketsPerSecond: 4500, dropsPerSecond: 500, lossPercent: 10, reset: false },
  ],
  softnet: { processed: 100, dropped: 7, timeSqueeze: 2, flowLimit: 0, droppedPerSecond: 3.5, timeSqueezePerSecond: 1, cpus: 2, perCpu: [] },
  snmp: {},
  snmpPerSecond: {},
  resets: [],
};

type SnapshotOver = Partial<SnapshotInput> & { readonly noCounters?: true };

function snapshot({ noCounters, ...over }: SnapshotOver = {}): DropSnapshot {
  const input: SnapshotInput = {
    kernel: { release: '6.18.0', machine: 'x86_64' },
    source: { kind: 'tracefs-ring', reason: 'raw ring' },
    capabilities: caps,
    ignoredReasons: ['OTHERHOST'],
    startMs: Date.UTC(2026, 0, 1, 0, 0, 0),
    endMs: Date.UTC(2026, 0, 1, 0, 0, 2),
    sites: [
      { location: 0xffffffff8204674cn, reasonCode: 3, reason: 'NO_SOCKET', count: 300 },
      { location: 0xffffffffc0101000n, reasonCode: 2, reason: 'PACKET_SOCK_ERROR', count: 4 },
    ],
    symbolize,
    counters,
    monitor: { lostEvents: 3, parseErrors: 0 },
    ...over,
  };
  if (noCounters) {
    const rest = { ...input };
    delete (rest as { counters?: unknown }).counters;
    return buildSnapshot(rest);
  }
  return buildSnapshot(input);
}

const meta: ReportMeta = { agentVersion: '0.1.0', policyGeneration: 7, now: new Date(Date.UTC(2026, 0, 1, 0, 0, 3)), requestedSources: ['tracepoint', 'counters'] };

describe('toReportStatus', () => {
  it('maps a snapshot onto the report status fields', () => {
    const s = toReportStatus(snapshot(), meta);
    expect(s.policyGeneration).toBe(7);
    expect(s.window).toEqual({ start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:02.000Z', seconds: 2 });
    expect(s.agent).toEqual({
      version: '0.1.0',
      kernel: '6.18.0',
      sources: ['tracepoint', 'counters'],
      capabilities: { tracefs: true, reasonField: true, kallsyms: true, histTriggers: false, dropMonitor: false, ethtool: true },
      unknownReasons: [],
      degraded: '',
    });
    expect(s.totals).toEqual({ drops: 990 + 10 + 7 + 300 + 4, dropsPerSecond: 655.5 });
    expect(s.ladder?.nic).toEqual({ drops: 990, dropsPerSecond: 495 });
    expect(s.ladder?.ip).toEqual({ drops: 0, dropsPerSecond: 0 });
    expect(Object.keys(s.ladder ?? {})).toEqual(['nic', 'driver', 'backlog', 'netfilter', 'ip', 'transport', 'socket', 'capture']);
    expect(s.drops).toEqual([
      { symbol: '__udp4_lib_rcv', offset: 0x4bc, reason: 'NO_SOCKET', layer: 'transport', count: 300, rate: 150, address: '0xffffffff8204674c', hint: expect.any(String) },
      { symbol: 'tpacket_rcv', offset: 0x40, reason: 'PACKET_SOCK_ERROR', layer: 'capture', count: 4, rate: 2, address: '0xffffffffc0101000', module: 'af_packet', hint: expect.any(String) },
    ]);
    // Only non-zero counters; driver counters prefixed as in the CRD example.
    expect(s.interfaces).toEqual([{ name: 'ens1f0', rxPackets: 9000, lossPercent: 10, drops: { 'ethtool:rx_out_of_buffer': 990, rx_dropped: 10, rx_missed_errors: 990 } }]);
    expect(s.softnet).toEqual({ dropped: 7, timeSqueeze: 2, flowLimit: 0 });
    expect(s.monitor).toEqual({ lostEvents: 3, parseErrors: 0 });
    expect(s.lastHeartbeatTime).toBe('2026-01-01T00:00:03.000Z');
  });

  it('keeps every list within the CRD bounds', () => {
    const sites = Array.from({ length: 80 }, (_, i) => ({ location: BigInt(0xffffffff81000000 + i * 16), reasonCode: 1, reason: 'NOT_SPECIFIED', count: 1000 - i }));
    const many: CounterDiff = {
      ...counters,
      interfaces: Array.from({ length: 70 }, (_, i) => ({
        ...counters.interfaces[0]!,
        name: `veth${String(i).padStart(2, '0')}`,
        lossPercent: i,
        ethtool: Object.fromEntries(Array.from({ length: 40 }, (_, k) => [`rx_queue_${k}_drops`, k + 1])),
      })),
    };
    const s = toReportStatus(snapshot({ sites, counters: many, symbolize: (a) => ({ symbol: `f${'x'.repeat(300)}${a}`, offset: 1, size: 2 }) }), {
      ...meta,
      unknownReasons: Array.from({ length: 40 }, (_, i) => `R${i}`),
    });
    expect(s.drops).toHaveLength(REPORT_LIMITS.drops);
    expect(s.drops?.[0]?.count).toBe(1000);
    expect(s.drops?.every((d) => d.symbol.length <= 256)).toBe(true);
    expect(s.interfaces).toHaveLength(REPORT_LIMITS.interfaces);
    // The lossiest are kept: veth00..veth05 (loss 0..5) fall off.
    expect(s.interfaces?.[0]?.name).toBe('veth06');
    expect(s.interfaces?.every((i) => Object.keys(i.drops ?? {}).length <= 32 && (i.lossPercent ?? 0) <= 100)).toBe(true);
    expect(s.agent?.unknownReasons).toHaveLength(32);
  });

  it('writes int64 fields as non-negative integers', () => {
    const snap = snapshot();
    const odd: DropSnapshot = { ...snap, totals: { ...snap.totals, drops: 12.7 }, softnet: { ...snap.softnet, dropped: -3 }, monitor: { ...snap.monitor, lostEvents: Number.NaN } };
    const s = toReportStatus(odd, meta);
    expect(s.totals?.drops).toBe(12);
    expect(s.softnet?.dropped).toBe(0);
    expect(s.monitor?.lostEvents).toBe(0);
  });
});

describe('degradedReason', () => {
  const noKallsyms: Capabilities = { ...caps, kallsyms: { visible: false } };
  it.each<[string, SnapshotOver, ReportMeta['requestedSources'], RegExp | '']>([
    ['nothing missing', {}, ['tracepoint', 'counters'], ''],
    ['counters only although a kernel source was asked for', { source: { kind: 'counters-only', reason: 'tracefs is not writable' } }, ['tracepoint', 'counters'], /no kernel drop source \(tracefs is not writable\)/],
    ['counters only and nothing else asked: not degraded', { source: { kind: 'counters-only', reason: 'x' } }, ['counters'], ''],
    ['hist triggers fell back to the ring', {}, ['tracepoint', 'histTriggers', 'counters'], /hist triggers unavailable; using the tracefs ring/],
    ['counters asked but not read', { noCounters: true }, ['tracepoint', 'counters'], /counters unavailable/],
    ['symbols hidden', { capabilities: noKallsyms }, ['tracepoint'], /hex addresses/],
    ['counter problems are listed with their code', { counterProblems: [{ code: 'DWO_E_ETHTOOL_FAILED', message: 'ens1f0 timed out' }] }, ['tracepoint', 'counters'], /DWO_E_ETHTOOL_FAILED: ens1f0 timed out/],
  ])('%s', (_n, over, requestedSources, want) => {
    const got = degradedReason(snapshot(over), { ...(requestedSources === undefined ? {} : { requestedSources }) });
    if (want === '') expect(got).toBe('');
    else expect(got).toMatch(want);
  });
});

describe('isMaterialChange', () => {
  const prev: DropWatchNodeReportStatus = toReportStatus(snapshot(), meta);
  const edit = (f: (s: DropWatchNodeReportStatus) => DropWatchNodeReportStatus): DropWatchNodeReportStatus => f(structuredClone(prev));
  it.each<[string, DropWatchNodeReportStatus | undefined, DropWatchNodeReportStatus, boolean]>([
    ['first write', undefined, prev, true],
    ['identical window', prev, edit((s) => s), false],
    ['new heartbeat time only', prev, edit((s) => ({ ...s, lastHeartbeatTime: '2026-01-01T00:01:00.000Z' })), false],
    ['total within 20%', prev, edit((s) => ({ ...s, totals: { dropsPerSecond: 700 } })), false],
    ['total moved more than 20%', prev, edit((s) => ({ ...s, totals: { dropsPerSecond: 900 } })), true],
    ['small absolute move is not material even if relatively large', { ...prev, totals: { dropsPerSecond: 0.2 }, ladder: {} }, edit((s) => ({ ...s, totals: { dropsPerSecond: 1.1 }, ladder: {} })), false],
    ['a layer moved', prev, edit((s) => ({ ...s, ladder: { ...s.ladder, capture: { dropsPerSecond: 40 } } })), true],
    ['top sites reordered only', prev, edit((s) => ({ ...s, drops: [...(s.drops ?? [])].reverse() })), false],
    ['a new busy site', prev, edit((s) => ({ ...s, drops: [...(s.drops ?? []), { symbol: 'nf_hook_slow', reason: 'NETFILTER_DROP', layer: 'netfilter', count: 50, rate: 25 }] })), true],
    ['a site below the floor does not count', prev, edit((s) => ({ ...s, drops: [...(s.drops ?? []), { symbol: 'x', reason: 'NOMEM', layer: 'ip', count: 1, rate: 0.5 }] })), false],
    ['lost events appeared', { ...prev, monitor: { lostEvents: 0 } }, edit((s) => ({ ...s, monitor: { lostEvents: 1 } })), true],
    ['lost events cleared waits for the heartbeat', prev, edit((s) => ({ ...s, monitor: { lostEvents: 0 } })), false],
    ['sources changed', prev, edit((s) => ({ ...s, agent: { ...s.agent, sources: ['counters'] } })), true],
    ['capability changed', prev, edit((s) => ({ ...s, agent: { ...s.agent, capabilities: { ...s.agent?.capabilities, kallsyms: false } } })), true],
    ['degradation note changed', prev, edit((s) => ({ ...s, agent: { ...s.agent, degraded: 'counters unavailable' } })), true],
    ['policy generation changed', prev, edit((s) => ({ ...s, policyGeneration: 8 })), true],
    ['interface loss jumped', prev, edit((s) => ({ ...s, interfaces: [{ ...s.interfaces![0]!, lossPercent: 20 }] })), true],
    ['interface vanished', prev, edit((s) => ({ ...s, interfaces: [] })), true],
  ])('%s -> %s', (_n, before, after, want) => {
    expect(isMaterialChange(before, after)).toBe(want);
  });

  it('tolerances are options', () => {
    const after = edit((s) => ({ ...s, totals: { dropsPerSecond: 700 } }));
    expect(isMaterialChange(prev, after, { relativeTolerance: 0.05 })).toBe(true);
    expect(isMaterialChange(prev, after, { relativeTolerance: 0.05, absoluteFloor: 100 })).toBe(false);
  });
});

describe('reportName', () => {
  it.each([
    ['span-sensors', 'node-1', 'span-sensors.node-1'],
    ['p', 'ip-10-0-0-1.eu-west-1.compute.internal', 'p.ip-10-0-0-1.eu-west-1.compute.internal'],
  ])('%s + %s', (policy, node, want) => {
    expect(reportName(policy, node)).toBe(want);
  });

  it.each([
    ['', 'n'],
    ['Span', 'n'],
    ['a.b', 'n'],
    ['x'.repeat(41), 'n'],
    ['-p', 'n'],
    ['p', ''],
    ['p', 'Node_1'],
    ['p', 'n..x'],
    ['p', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}`],
  ])('rejects %j + %j', (policy, node) => {
    expect(() => reportName(policy, node)).toThrow(ReportNameError);
  });
});
