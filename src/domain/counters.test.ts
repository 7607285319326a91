// Unit tests for counter deltas: resets, rates, loss percent, softnet and snmp selection.
import { describe, expect, it } from 'vitest';
import { counterDelta, diffSnapshots, lossPercent } from './counters.js';
import type { CounterSnapshot, InterfaceCounters } from './types.js';

function iface(name: string, rxPackets: bigint, rxDropped: bigint, rxMissedErrors = 0n, ethtool: Record<string, bigint> = {}): InterfaceCounters {
  return { name, rxPackets, rxDropped, rxMissedErrors, rxFifoErrors: 0n, rxOverErrors: 0n, ethtool };
}

function snap(atMs: number, over: Partial<CounterSnapshot> = {}): CounterSnapshot {
  return { atMs, interfaces: [], softnet: [], snmp: new Map(), ...over };
}

describe('counterDelta', () => {
  it.each([
    [10n, 15n, 5n, false],
    [7n, 7n, 0n, false],
    [1000n, 40n, 40n, true],
    [2n ** 32n - 5n, 3n, 3n, true], // a 32-bit wrap reads as a reset
  ])('%s -> %s', (prev, cur, delta, reset) => {
    expect(counterDelta(prev, cur)).toEqual({ delta, reset });
  });
});

describe('lossPercent', () => {
  it('is drops over received plus drops', () => {
    expect(lossPercent(900, 100)).toBe(10);
    expect(lossPercent(0, 5)).toBe(100);
    expect(lossPercent(0, 0)).toBe(0);
    expect(lossPercent(2, 1)).toBe(33.333);
  });
});

describe('diffSnapshots', () => {
  it('gives per-interface deltas, rates and loss percent', () => {
    const prev = snap(1_000, { interfaces: [iface('eth0', 1_000n, 10n, 5n, { rx_out_of_buffer: 100n }), iface('gone0', 1n, 1n)] });
    const cur = snap(3_000, { interfaces: [iface('eth0', 1_900n, 60n, 55n, { rx_out_of_buffer: 130n, rx_new_counter: 1n }), iface('new0', 5n, 0n)] });
    const d = diffSnapshots(prev, cur);
    expect(d.seconds).toBe(2);
    expect(d.interfaces).toHaveLength(1); // gone0 and new0 have no baseline
    const e = d.interfaces[0];
    expect(e).toMatchObject({
      name: 'eth0',
      rxPackets: 900,
      rxDropped: 50,
      rxMissedErrors: 50,
      drops: 100,
      rxPacketsPerSecond: 450,
      dropsPerSecond: 50,
      lossPercent: 10,
      reset: false,
      ethtool: { rx_out_of_buffer: 30 },
    });
    expect(d.resets).toEqual([]);
  });

  it('flags resets and counts from zero after them', () => {
    const prev = snap(0, { interfaces: [iface('eth0', 1_000_000n, 500n)], snmp: new Map([['Udp.NoPorts', 900n]]) });
    const cur = snap(1_000, { interfaces: [iface('eth0', 300n, 2n)], snmp: new Map([['Udp.NoPorts', 20n]]) });
    const d = diffSnapshots(prev, cur);
    expect(d.interfaces[0]).toMatchObject({ rxPackets: 300, rxDropped: 2, reset: true });
    expect(d.snmp['Udp.NoPorts']).toBe(20);
    expect(d.resets).toEqual(['eth0.rxPackets', 'eth0.rxDropped', 'Udp.NoPorts']);
  });

  it('sums softnet over CPUs present in both reads', () => {
    const row = (cpu: number, processed: bigint, dropped: bigint, timeSqueeze: bigint, flowLimit = 0n) => ({ cpu, processed, dropped, timeSqueeze, flowLimit });
    const prev = snap(0, { softnet: [row(0, 100n, 1n, 2n), row(1, 100n, 0n, 0n)] });
    const cur = snap(500, { softnet: [row(0, 300n, 11n, 3n, 4n), row(1, 150n, 5n, 2n), row(2, 9n, 9n, 9n)] });
    const d = diffSnapshots(prev, cur);
    expect(d.softnet).toMatchObject({ processed: 250, dropped: 15, timeSqueeze: 3, flowLimit: 4, cpus: 2, droppedPerSecond: 30, timeSqueezePerSecond: 6 });
    expect(d.softnet.perCpu).toEqual([
      { cpu: 0, processed: 200, dropped: 10, timeSqueeze: 1, flowLimit: 4 },
      { cpu: 1, processed: 50, dropped: 5, timeSqueeze: 2, flowLimit: 0 },
    ]);
  });

  it('keeps only the selected snmp counters present in both reads', () => {
    const prev = snap(0, { snmp: new Map([['Udp.NoPorts', 1n], ['Udp.InDatagrams', 1n], ['TcpExt.ListenDrops', 3n]]) });
    const cur = snap(2_000, { snmp: new Map([['Udp.NoPorts', 301n], ['Udp.InDatagrams', 9n], ['TcpExt.ListenDrops', 3n], ['Ip.InDiscards', 4n]]) });
    const d = diffSnapshots(prev, cur);
    expect(d.snmp).toEqual({ 'Udp.NoPorts': 300, 'TcpExt.ListenDrops': 0 });
    expect(d.snmpPerSecond['Udp.NoPorts']).toBe(150);
  });

  it('gives zero rates for a zero-length window', () => {
    const s = snap(5, { interfaces: [iface('eth0', 1n, 1n)] });
    expect(diffSnapshots(s, s).interfaces[0]).toMatchObject({ dropsPerSecond: 0, rxPacketsPerSecond: 0, lossPercent: 0 });
  });
});
