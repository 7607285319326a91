import { describe, expect, it } from 'vitest';
import type { DropWatchPolicyStatus } from '../api/generated/types.js';
import { FakeClock, settle } from '../../test/support/fake-clock.js';
import { StatusWriter } from './status-writer.js';

const st = (matching: number): DropWatchPolicyStatus => ({ observedGeneration: 1, nodes: { matching, reporting: 0, stale: matching, warning: 0, critical: 0, alerting: 0 } });

function setup(opts: { fail?: boolean } = {}) {
  const clock = new FakeClock();
  const writes: { policy: string; status: DropWatchPolicyStatus; at: number }[] = [];
  const errors: string[] = [];
  const w = new StatusWriter({
    clock,
    minIntervalMs: 1000,
    write: (policy, status) => {
      writes.push({ policy, status, at: clock.now() });
      return opts.fail ? Promise.reject(new Error('boom')) : Promise.resolve();
    },
    onError: (policy) => errors.push(policy),
  });
  return { clock, writes, errors, w };
}

describe('StatusWriter', () => {
  it('writes the first status at once and skips an unchanged one', async () => {
    const { w, writes } = setup();
    w.submit('p', st(1), undefined);
    await settle();
    w.submit('p', st(1), undefined);
    await settle();
    expect(writes).toHaveLength(1);
    expect(w.lastWritten('p')).toEqual(st(1));
  });

  it('skips a status equal to the stored one, whatever the key order', async () => {
    const { w, writes } = setup();
    const stored = { nodes: { alerting: 0, critical: 0, warning: 0, stale: 2, reporting: 0, matching: 2 }, observedGeneration: 1 };
    w.submit('p', st(2), stored);
    await settle();
    expect(writes).toHaveLength(0);
  });

  it('batches changes within the interval: at most one write per second, the last one wins', async () => {
    const { w, writes, clock } = setup();
    w.submit('p', st(1), undefined);
    await settle();
    for (let i = 2; i <= 5; i++) {
      await clock.advance(100);
      w.submit('p', st(i), undefined);
    }
    expect(writes).toHaveLength(1);
    await clock.advance(1000);
    await settle();
    expect(writes.map((x) => x.status.nodes?.matching)).toEqual([1, 5]);
    expect((writes[1]?.at ?? 0) - (writes[0]?.at ?? 0)).toBe(1000);
  });

  it('keeps policies independent', async () => {
    const { w, writes } = setup();
    w.submit('a', st(1), undefined);
    w.submit('b', st(1), undefined);
    await settle();
    expect(writes.map((x) => x.policy).sort()).toEqual(['a', 'b']);
  });

  it('reports a failed write and writes the same status again when offered', async () => {
    const { w, writes, errors, clock } = setup({ fail: true });
    w.submit('p', st(1), undefined);
    await settle();
    expect(errors).toEqual(['p']);
    await clock.advance(1000);
    w.submit('p', st(1), undefined);
    await settle();
    expect(writes).toHaveLength(2);
  });

  it('flush writes what is pending; forget drops it', async () => {
    const { w, writes, clock } = setup();
    w.submit('p', st(1), undefined);
    w.submit('q', st(1), undefined);
    await settle();
    await clock.advance(10);
    w.submit('p', st(2), undefined);
    w.submit('q', st(2), undefined);
    w.forget('q');
    await w.flush();
    expect(writes.map((x) => `${x.policy}${x.status.nodes?.matching}`).sort()).toEqual(['p1', 'p2', 'q1']);
  });
});
