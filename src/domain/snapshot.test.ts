import { describe, expect, it } from 'vitest';
import type { CounterDiff } from './counters.js';
import { buildSnapshot, type SnapshotInput } from './snapshot.js';
import type { Capabilities, Symbolized } from './types.js';

const caps: Capabilities = {
  tracefs: { available: true, writable: true, path: '/sys/kernel/tracing' },
  kfreeSkb: { available: true, reasonField: true },
  kallsyms: { visible: true },
  histTriggers: false,
  dropMonitor: false,
  ethtool: true,
};

const symbols = new Map<bigint, Symbolized>([
  [0xffffffff8204674cn, { symbol: '__udp4_lib_rcv', offset: 0x4bc, size: 0xd00 }],
  [0xffffffff81f00010n, { symbol: 'nf_hook_slow', offset: 0x10, size: 0x100 }],
  [0xffffffffc0101000n, { symbol: 'tpacket_rcv', offset: 0x40, size: 0x900, module: 'af_packet' }],
]);
const symbolize = (a: bigint): Symbolized => symbols.get(a) ?? { symbol: `0x${a.toString(16)}`, offset: 0, size: 0, unresolvedReason: 'not found' };

function counters(over: Partial<CounterDiff> = {}): CounterDiff {
  return {
    seconds: 2,
    interfaces: [
      { name: 'ens1f0', rxPackets: 9000, rxDropped: 10, rxMissedErrors: 990, rxFifoErrors: 990, rxOverErrors: 0, ethtool: { rx_out_of_buffer: 990, tx_busy: 3 }, drops: 1000, rxPacketsPerSecond: 4500, dropsPerSecond: 500, lossPercent: 10, reset: false },
    ],
    softnet: { processed: 100, dropped: 7, timeSqueeze: 2, flowLimit: 0, droppedPerSecond: 3.5, timeSqueezePerSecond: 1, cpus: 2, perCpu: [] },
    snmp: { 'Udp.NoPorts': 300, 'Udp.RcvbufErrors': 5 },
    snmpPerSecond: {},
    resets: [],
    ...over,
  };
}

const base = (over: Partial<SnapshotInput> = {}): SnapshotInput => ({
  kernel: { release: '6.18.0', machine: 'x86_64' },
  source: { kind: 'tracefs-ring', reason: 'raw ring' },
  capabilities: caps,
  ignoredReasons: [],
  startMs: Date.UTC(2026, 0, 1, 0, 0, 0),
  endMs: Date.UTC(2026, 0, 1, 0, 0, 2),
  sites: [
    { location: 0xffffffff8204674cn, reasonCode: 3, reason: 'NO_SOCKET', count: 300 },
    { location: 0xffffffff81f00010n, reasonCode: 12, reason: 'NETFILTER_DROP', count: 40 },
    { location: 0xffffffffc0101000n, reasonCode: 2, reason: 'NOT_SPECIFIED', count: 4 },
  ],
  symbolize,
  monitor: { lostEvents: 0, parseErrors: 0 },
  ...over,
});

describe('buildSnapshot', () => {
  it('symbolizes, classifies and rates every site, biggest first', () => {
    const s = buildSnapshot(base());
    expect(s.window).toEqual({ start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:02.000Z', seconds: 2 });
    expect(s.drops.map((d) => [d.location, d.reason, d.layer, d.count, d.rate])).toEqual([
      ['__udp4_lib_rcv+0x4bc/0xd00', 'NO_SOCKET', 'transport', 300, 150],
      ['nf_hook_slow+0x10/0x100', 'NETFILTER_DROP', 'netfilter', 40, 20],
      ['tpacket_rcv+0x40/0x900 [af_packet]', 'NOT_SPECIFIED', 'capture', 4, 2],
    ]);
    expect(s.drops[0]?.address).toBe('0xffffffff8204674c');
    expect(s.drops[2]?.module).toBe('af_packet');
    expect(s.totals.kernelEvents).toBe(344);
    expect(s.totals.actionableDropsPerSecond).toBe(2);
  });

  it('ladder takes the larger of the tracepoint and counter views per layer, never their sum', () => {
    const s = buildSnapshot(base({ counters: counters() }));
    const ladder = Object.fromEntries(s.ladder.map((l) => [l.layer, [l.drops, l.from]]));
    expect(ladder).toEqual({
      nic: [990, 'counters'],
      driver: [10, 'counters'],
      backlog: [7, 'counters'],
      netfilter: [40, 'tracepoint'],
      ip: [0, 'none'],
      transport: [300, 'tracepoint'],
      socket: [5, 'counters'],
      capture: [4, 'tracepoint'],
    });
    expect(s.totals.drops).toBe(990 + 10 + 7 + 40 + 300 + 5 + 4);
    expect(s.interfaces[0]).toMatchObject({ name: 'ens1f0', lossPercent: 10, dropsPerSecond: 500 });
    expect(s.interfaces[0]?.counters['rx_out_of_buffer']).toBe(990);
  });

  it('an ignored reason is ignored in the counter view too', () => {
    const s = buildSnapshot(base({ ignoredReasons: ['NO_SOCKET', 'CPU_BACKLOG'], sites: [], counters: counters() }));
    expect(s.ladder.find((l) => l.layer === 'transport')?.drops).toBe(0);
    expect(s.ladder.find((l) => l.layer === 'backlog')?.drops).toBe(0);
  });

  it('keeps at most maxSites sites and reports the monitor loss as given', () => {
    const s = buildSnapshot(base({ maxSites: 1, monitor: { lostEvents: 12, parseErrors: 1 } }));
    expect(s.drops).toHaveLength(1);
    expect(s.monitor).toEqual({ lostEvents: 12, parseErrors: 1, events: 344, cpuSeconds: 0, rssBytes: 0 });
  });

  it('an empty window has zero rates, not NaN', () => {
    const s = buildSnapshot(base({ endMs: Date.UTC(2026, 0, 1), sites: [] }));
    expect(s.totals.dropsPerSecond).toBe(0);
    expect(s.ladder.every((l) => l.rate === 0)).toBe(true);
  });
});
