// A manual clock for unit tests of anything that takes a Clock (work queue, backoff users,
// informer timers, leader election, event series). Time moves only when a test calls advance().
import { sleepOn, type Clock, type TimerHandle } from '../../src/runtime/clock.js';

interface Scheduled {
  readonly id: number;
  due: number;
  readonly fn: () => void;
  /** Repeat period for intervals; undefined for one-shot timers. */
  readonly every: number | undefined;
}

/** Lets pending promise chains run (everything queued before the next macrotask). */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A Clock whose time only moves under test control; timers fire in due order during advance(). */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, Scheduled>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.schedule(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.schedule(fn, ms, Math.max(1, ms));
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Number of timers still scheduled. */
  pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way in order, and lets
   * promise chains started by each timer run before the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > target) break;
      this.current = Math.max(this.current, next.due);
      if (next.every === undefined) this.timers.delete(next.id);
      else next.due += next.every;
      next.fn();
      await settle();
    }
    this.current = target;
    await settle();
  }

  private schedule(fn: () => void, ms: number, every: number | undefined): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, due: this.current + Math.max(0, ms), fn, every });
    return { cancel: () => void this.timers.delete(id) };
  }

  private earliest(): Scheduled | undefined {
    let best: Scheduled | undefined;
    for (const t of this.timers.values()) if (!best || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  }
}
