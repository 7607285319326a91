import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../test/support/fake-clock.js';
import { buildSnapshot } from '../domain/snapshot.js';
import type { Capabilities } from '../domain/types.js';
import { DwoError } from '../runtime/errors.js';
import { Publisher, type NodeReport } from './publish.js';

const caps: Capabilities = { tracefs: { available: true, writable: true }, kfreeSkb: { available: true, reasonField: true }, kallsyms: { visible: true }, histTriggers: false, dropMonitor: false, ethtool: false };

function windowAt(clock: FakeClock, seconds: number, count: number) {
  const end = clock.now();
  return buildSnapshot({
    kernel: { release: 'r', machine: 'm' },
    source: { kind: 'tracefs-ring', reason: '' },
    capabilities: caps,
    ignoredReasons: [],
    startMs: end - seconds * 1000,
    endMs: end,
    sites: count > 0 ? [{ location: 0xffffffff81000010n, reasonCode: 3, reason: 'NO_SOCKET', count }] : [],
    symbolize: () => ({ symbol: '__udp4_lib_rcv', offset: 0x10, size: 0x100 }),
    monitor: { lostEvents: 0, parseErrors: 0 },
  });
}

function setup(failures = 0) {
  const clock = new FakeClock();
  const written: NodeReport[] = [];
  let fail = failures;
  const sink = {
    async write(r: NodeReport) {
      if (fail > 0) {
        fail--;
        throw new DwoError('DWO_E_INTERNAL', 'API server unreachable');
      }
      written.push(r);
    },
  };
  const p = new Publisher(sink, { policy: 'sensors', nodeName: 'node-a', policyGeneration: 1, agentVersion: '0.1.0', heartbeatIntervalMs: 60_000, clock, backoff: { initialMs: 20_000, maxMs: 40_000, jitter: 'none' } });
  return { clock, written, p };
}

const total = (r: NodeReport) => r.status.totals?.drops ?? 0;

describe('Publisher', () => {
  it('writes the first window, skips unchanged ones, and heartbeats with everything since', async () => {
    const { clock, written, p } = setup();
    await clock.advance(15_000);
    expect((await p.offer(windowAt(clock, 15, 150))).kind).toBe('written');
    for (let i = 0; i < 3; i++) {
      await clock.advance(15_000);
      expect((await p.offer(windowAt(clock, 15, 150))).kind).toBe('skipped');
    }
    await clock.advance(15_000);
    const r = await p.offer(windowAt(clock, 15, 150));
    expect(r).toMatchObject({ kind: 'written', reason: 'heartbeat', windowSeconds: 60 });
    expect(written.map(total)).toEqual([150, 600]);
    expect(written[1]?.name).toBe('sensors.node-a');
  });

  it('writes at once on a material change (a spike)', async () => {
    const { clock, p } = setup();
    await clock.advance(15_000);
    await p.offer(windowAt(clock, 15, 15));
    await clock.advance(15_000);
    expect(await p.offer(windowAt(clock, 15, 15_000))).toMatchObject({ kind: 'written', reason: 'material' });
  });

  it('backs off while the API server fails and loses no counts', async () => {
    const { clock, written, p } = setup(4);
    let offered = 0;
    const kinds: string[] = [];
    for (let i = 0; i < 20; i++) {
      await clock.advance(15_000);
      const n = 100 + i;
      offered += n;
      kinds.push((await p.offer(windowAt(clock, 15, n))).kind);
    }
    // One more quiet period to flush whatever is pending through the heartbeat.
    await clock.advance(61_000);
    await p.offer(windowAt(clock, 61, 0));
    expect(kinds.filter((k) => k === 'failed')).toHaveLength(4);
    expect(kinds).toContain('backing-off');
    expect(p.hasPending).toBe(false);
    expect(written.reduce((s, r) => s + total(r), 0)).toBe(offered);
  });

  it('flush writes the pending summary at once, ignoring the change test and the backoff', async () => {
    const { clock, written, p } = setup(1);
    await clock.advance(15_000);
    expect((await p.offer(windowAt(clock, 15, 100))).kind).toBe('failed');
    await clock.advance(1000);
    expect((await p.offer(windowAt(clock, 1, 7))).kind).toBe('backing-off');
    expect(await p.flush()).toMatchObject({ kind: 'written', reason: 'final' });
    expect(written.map(total)).toEqual([107]);
    expect(p.hasPending).toBe(false);
    expect((await p.flush()).kind).toBe('skipped');
  });
});
