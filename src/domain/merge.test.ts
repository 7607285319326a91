import { describe, expect, it } from 'vitest';
import { mergeSnapshots } from './merge.js';
import { buildSnapshot, type SnapshotInput } from './snapshot.js';
import type { Capabilities } from './types.js';

const caps: Capabilities = { tracefs: { available: true, writable: true }, kfreeSkb: { available: true, reasonField: true }, kallsyms: { visible: true }, histTriggers: false, dropMonitor: false, ethtool: false };

const win = (startS: number, endS: number, sites: SnapshotInput['sites'], rx = 0, drops = 0) =>
  buildSnapshot({
    kernel: { release: 'r', machine: 'm' },
    source: { kind: 'tracefs-ring', reason: '' },
    capabilities: caps,
    ignoredReasons: [],
    startMs: startS * 1000,
    endMs: endS * 1000,
    sites,
    symbolize: (a) => ({ symbol: `f${a}`, offset: 1, size: 16 }),
    counters: {
      seconds: endS - startS,
      interfaces: [{ name: 'eth0', rxPackets: rx, rxDropped: drops, rxMissedErrors: 0, rxFifoErrors: 0, rxOverErrors: 0, ethtool: {}, drops, rxPacketsPerSecond: 0, dropsPerSecond: 0, lossPercent: 0, reset: false }],
      softnet: { processed: 0, dropped: 1, timeSqueeze: 2, flowLimit: 0, droppedPerSecond: 0, timeSqueezePerSecond: 0, cpus: 2, perCpu: [] },
      snmp: { 'Udp.NoPorts': 5 },
      snmpPerSecond: {},
      resets: [],
    },
    monitor: { lostEvents: 1, parseErrors: 0 },
  });

describe('mergeSnapshots', () => {
  it('sums every count and recomputes rates over the combined window', () => {
    const a = win(0, 10, [{ location: 1n, reasonCode: 3, reason: 'NO_SOCKET', count: 100 }], 900, 100);
    const b = win(10, 20, [
      { location: 1n, reasonCode: 3, reason: 'NO_SOCKET', count: 50 },
      { location: 2n, reasonCode: 6, reason: 'SOCKET_RCVBUFF', count: 10 },
    ], 100, 0);
    const m = mergeSnapshots(a, b);
    expect(m.window).toEqual({ start: a.window.start, end: b.window.end, seconds: 20 });
    expect(m.drops.map((d) => [d.reason, d.count, d.rate])).toEqual([['NO_SOCKET', 150, 7.5], ['SOCKET_RCVBUFF', 10, 0.5]]);
    expect(m.interfaces[0]).toMatchObject({ rxPackets: 1000, drops: 100, lossPercent: 9.091, dropsPerSecond: 5 });
    expect(m.softnet).toEqual({ dropped: 2, timeSqueeze: 4, flowLimit: 0, cpus: 2 });
    expect(m.snmp['Udp.NoPorts']).toBe(10);
    expect(m.monitor.lostEvents).toBe(2);
    expect(m.totals.drops).toBe(a.totals.drops + b.totals.drops);
    const sumLadder = m.ladder.reduce((s, l) => s + l.drops, 0);
    expect(sumLadder).toBe(m.totals.drops);
  });

  it('is associative on counts: merging three windows either way gives the same totals', () => {
    const w = [0, 1, 2].map((i) => win(i, i + 1, [{ location: BigInt(i % 2), reasonCode: 3, reason: 'NO_SOCKET', count: 10 * (i + 1) }]));
    const left = mergeSnapshots(mergeSnapshots(w[0]!, w[1]!), w[2]!);
    const right = mergeSnapshots(w[0]!, mergeSnapshots(w[1]!, w[2]!));
    expect(left.totals).toEqual(right.totals);
    expect(left.drops.map((d) => d.count)).toEqual(right.drops.map((d) => d.count));
  });
});
