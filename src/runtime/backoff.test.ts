// Backoff: bounds grow by the factor up to the cap, full jitter stays inside the bound, reset.
import { describe, expect, it } from 'vitest';
import { Backoff, backoffCeiling, backoffDelay } from './backoff.js';
import { FakeClock } from '../../test/support/fake-clock.js';

describe('backoff', () => {
  it('doubles the bound up to the cap', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 5].map((a) => backoffCeiling(a, opts))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffCeiling(10_000, opts)).toBe(1000);
  });

  it('full jitter is uniform in [0, bound]', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(3, { ...opts, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { ...opts, random: () => 0.5 })).toBe(400);
    expect(backoffDelay(3, { ...opts, random: () => 0.999999 })).toBeLessThan(800);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(2, opts);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(400);
    }
  });

  it('a Backoff grows per call and starts over after reset', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 50, jitter: 'none' });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([10, 20, 40, 50]);
    expect(b.attempts).toBe(4);
    b.reset();
    expect(b.next()).toBe(10);
  });

  it('a custom factor', () => {
    expect(backoffCeiling(2, { initialMs: 1, maxMs: 100, factor: 3 })).toBe(9);
  });
});

describe('FakeClock', () => {
  it('fires timers in due order and sleeps resolve on time or on abort', async () => {
    const clock = new FakeClock(0);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push('b@20'), 20);
    clock.setTimeout(() => seen.push('a@10'), 10);
    const iv = clock.setInterval(() => seen.push(`tick@${clock.now()}`), 15);
    const slept = clock.sleep(25).then(() => seen.push(`slept@${clock.now()}`));
    await clock.advance(31);
    await slept;
    iv.cancel();
    expect(seen).toEqual(['a@10', 'tick@15', 'b@20', 'slept@25', 'tick@30']);
    const ac = new AbortController();
    const early = clock.sleep(1000, ac.signal);
    ac.abort();
    await early;
    expect(clock.pending()).toBe(0);
  });
});
