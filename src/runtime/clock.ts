// Time as an injected dependency (STYLE.md 11): the work queue, backoff, informers, leader
// election and event recorder take a Clock so unit tests can drive them with test/support/fake-clock.ts.

/** A scheduled callback that can be cancelled; cancelling twice or after it ran is harmless. */
export interface TimerHandle {
  cancel(): void;
}

/** Wall-clock time and timers. `now()` is epoch milliseconds (it feeds MicroTime and Events). */
export interface Clock {
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Runs `fn` every `ms` milliseconds until cancelled. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Resolves after `ms` milliseconds, or early (without rejecting) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Sleep built on a clock's setTimeout; shared by the system and fake clocks. */
export function sleepOn(clock: Pick<Clock, 'setTimeout'>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const onAbort = (): void => {
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The real clock: Date.now and Node timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, Math.max(1, ms));
    return { cancel: () => clearInterval(t) };
  },
  sleep(ms, signal) {
    return sleepOn(systemClock, ms, signal);
  },
};
