// WorkQueue semantics with a fake clock: per-key serialisation and merging, parallelism limit,
// retry with backoff for transient errors, no retry for terminal ones, NotFound as done,
// delayed re-adds and both shutdown modes.
import { describe, expect, it } from 'vitest';
import { DwoError } from './errors.js';
import { classifyFailure, WorkQueue, type WorkFailure, type WorkHandler } from './workqueue.js';
import { FakeClock, settle } from '../../test/support/fake-clock.js';

/** A handler whose runs stay open until the test releases them. */
function gatedHandler() {
  const active = new Map<string, number>();
  const log: string[] = [];
  let maxParallel = 0;
  const gates: { key: string; release: (err?: unknown) => void }[] = [];
  const handler: WorkHandler = (key) => {
    active.set(key, (active.get(key) ?? 0) + 1);
    if ((active.get(key) ?? 0) > 1) throw new Error(`key ${key} ran concurrently`);
    const total = [...active.values()].reduce((a, b) => a + b, 0);
    maxParallel = Math.max(maxParallel, total);
    log.push(`start ${key}`);
    return new Promise<void>((resolve, reject) => {
      gates.push({
        key,
        release: (err) => {
          active.set(key, (active.get(key) ?? 1) - 1);
          if (active.get(key) === 0) active.delete(key);
          log.push(`end ${key}`);
          if (err === undefined) resolve();
          else reject(err instanceof Error ? err : new Error(String(err)));
        },
      });
    });
  };
  const releaseNext = async (key?: string, err?: unknown): Promise<void> => {
    const i = key === undefined ? 0 : gates.findIndex((g) => g.key === key);
    const g = gates.splice(i, 1)[0];
    if (!g) throw new Error(`no open run for ${key ?? 'any key'}`);
    g.release(err);
    await settle();
  };
  return { handler, log, gates, releaseNext, maxParallel: () => maxParallel };
}

describe('WorkQueue', () => {
  it('merges duplicates while waiting and re-runs a key added while it runs, never concurrently', async () => {
    const clock = new FakeClock();
    const h = gatedHandler();
    const q = new WorkQueue({ handler: h.handler, concurrency: 1, clock });
    q.add('a');
    q.add('b');
    q.add('b');
    q.add('b');
    await settle();
    expect(h.log).toEqual(['start a']);
    q.add('a'); // while a runs: marked dirty, runs again after b
    q.add('a');
    await h.releaseNext('a');
    expect(h.log).toEqual(['start a', 'end a', 'start b']);
    await h.releaseNext('b');
    await h.releaseNext('a');
    await q.whenIdle();
    expect(h.log).toEqual(['start a', 'end a', 'start b', 'end b', 'start a', 'end a']);
  });

  it('runs different keys in parallel up to the limit', async () => {
    const h = gatedHandler();
    const q = new WorkQueue({ handler: h.handler, concurrency: 3, clock: new FakeClock() });
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    await settle();
    expect(h.gates.map((g) => g.key)).toEqual(['a', 'b', 'c']);
    await h.releaseNext('b');
    expect(h.gates.map((g) => g.key)).toEqual(['a', 'c', 'd']);
    while (h.gates.length > 0) await h.releaseNext();
    await q.whenIdle();
    expect(h.maxParallel()).toBe(3);
  });

  it('retries transient failures with growing per-key backoff and resets after success', async () => {
    const clock = new FakeClock(0);
    const runs: { at: number; attempt: number }[] = [];
    let failuresLeft = 3;
    const failures: WorkFailure[] = [];
    const q = new WorkQueue({
      clock,
      retry: { initialMs: 100, maxMs: 1000, jitter: 'none' },
      onFailure: (f) => failures.push(f),
      handler: (_key, ctx) => {
        runs.push({ at: clock.now(), attempt: ctx.attempt });
        if (failuresLeft-- > 0) throw new DwoError('DWO_E_API_UNAVAILABLE', 'apiserver down');
      },
    });
    q.add('p');
    await clock.advance(10_000);
    expect(runs).toEqual([
      { at: 0, attempt: 0 },
      { at: 100, attempt: 1 },
      { at: 300, attempt: 2 },
      { at: 700, attempt: 3 },
    ]);
    expect(failures.map((f) => [f.class, f.failures, f.retryInMs])).toEqual([
      ['transient', 1, 100],
      ['transient', 2, 200],
      ['transient', 3, 400],
    ]);
    expect(q.stats().failing).toBe(0);
    failuresLeft = 1;
    q.add('p');
    await clock.advance(10_000);
    expect(runs.slice(4).map((r) => r.attempt)).toEqual([0, 1]);
  });

  it('does not retry terminal errors, treats NotFound as done, and retries unknown errors', async () => {
    const clock = new FakeClock(0);
    const counts = new Map<string, number>();
    const failures: WorkFailure[] = [];
    const errors: Record<string, () => unknown> = {
      forbidden: () => new DwoError('DWO_E_API_FORBIDDEN', 'cannot patch nodes/status'),
      gone: () => new DwoError('DWO_E_API_NOT_FOUND', 'policy x not found'),
      bug: () => new TypeError('x is undefined'),
    };
    const q = new WorkQueue({
      clock,
      maxRetries: 2,
      retry: { initialMs: 10, maxMs: 10, jitter: 'none' },
      onFailure: (f) => failures.push(f),
      handler: (key) => {
        counts.set(key, (counts.get(key) ?? 0) + 1);
        throw errors[key]?.();
      },
    });
    for (const k of Object.keys(errors)) q.add(k);
    await clock.advance(1000);
    expect(Object.fromEntries(counts)).toEqual({ forbidden: 1, gone: 1, bug: 3 });
    expect(failures.map((f) => `${f.key}:${f.class}:${f.failures}`)).toEqual([
      'forbidden:terminal:1',
      'bug:transient:1',
      'bug:transient:2',
      'bug:terminal:3',
    ]);
  });

  it('classifies by catalogue kind, including errors that only carry a code', () => {
    expect(classifyFailure(new DwoError('DWO_E_API_CONFLICT', 'rv changed'))).toBe('transient');
    expect(classifyFailure(new DwoError('DWO_E_API_INVALID', 'bad'))).toBe('terminal');
    expect(classifyFailure({ code: 'DWO_E_API_NOT_FOUND', message: 'x' })).toBe('done');
    expect(classifyFailure(new Error('boom'))).toBe('transient');
  });

  it('addAfter keeps the earliest due time and requeueAfterMs schedules a re-run', async () => {
    const clock = new FakeClock(0);
    const runs: [string, number][] = [];
    const q = new WorkQueue({
      clock,
      handler: (key) => {
        runs.push([key, clock.now()]);
        return key === 'periodic' && runs.filter((r) => r[0] === key).length < 3 ? { requeueAfterMs: 500 } : undefined;
      },
    });
    q.addAfter('x', 300);
    q.addAfter('x', 100);
    q.addAfter('x', 900);
    q.add('periodic');
    await clock.advance(5000);
    expect(runs).toEqual([
      ['periodic', 0],
      ['x', 100],
      ['periodic', 500],
      ['periodic', 1000],
    ]);
  });

  it('forget drops the failure count and a pending retry', async () => {
    const clock = new FakeClock(0);
    let runs = 0;
    const q = new WorkQueue({
      clock,
      retry: { initialMs: 100, maxMs: 100, jitter: 'none' },
      handler: () => {
        runs++;
        throw new DwoError('DWO_E_API_UNAVAILABLE', 'down');
      },
    });
    q.add('k');
    await clock.advance(1);
    expect(q.stats()).toMatchObject({ delayed: 1, failing: 1 });
    q.forget('k');
    await clock.advance(1000);
    expect(runs).toBe(1);
  });

  it('shutdown drain finishes waiting keys, refuses new ones and drops delayed ones', async () => {
    const clock = new FakeClock(0);
    const h = gatedHandler();
    const q = new WorkQueue({ handler: h.handler, concurrency: 1, clock });
    q.add('a');
    q.add('b');
    q.addAfter('later', 1000);
    await settle();
    let done = false;
    const stopped = q.shutdown({ mode: 'drain' }).then(() => (done = true));
    expect(q.add('c')).toBe(false);
    await h.releaseNext('a');
    expect(done).toBe(false);
    await h.releaseNext('b');
    await stopped;
    await clock.advance(2000);
    expect(h.log).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('shutdown cancel aborts running handlers and drops waiting keys', async () => {
    const clock = new FakeClock(0);
    const seen: string[] = [];
    const q = new WorkQueue({
      clock,
      concurrency: 1,
      handler: (key, ctx) =>
        new Promise<void>((resolve) => {
          seen.push(`start ${key}`);
          ctx.signal.addEventListener('abort', () => {
            seen.push(`aborted ${key}`);
            resolve();
          });
        }),
    });
    q.add('a');
    q.add('b');
    await settle();
    await q.shutdown({ mode: 'cancel' });
    expect(seen).toEqual(['start a', 'aborted a']);
  });

  it('a drain with a timeout turns into a cancel', async () => {
    const clock = new FakeClock(0);
    let aborted = false;
    const q = new WorkQueue({
      clock,
      handler: (_k, ctx) =>
        new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            resolve();
          }),
        ),
    });
    q.add('stuck');
    await settle();
    const stopped = q.shutdown({ mode: 'drain', timeoutMs: 5000 });
    await clock.advance(4999);
    expect(aborted).toBe(false);
    await clock.advance(1);
    await stopped;
    expect(aborted).toBe(true);
  });
});
