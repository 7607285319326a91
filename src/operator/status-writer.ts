// Batches DropWatchPolicy status writes (STYLE.md 10): last write wins per policy, at most one
// write per policy per interval, nothing written when the planned status equals what is already
// stored. Used by the policy controller; the write itself is a status-subresource apply.
import { canonicalJson } from '../domain/daemonset-plan.js';
import type { DropWatchPolicyStatus } from '../api/generated/types.js';
import { systemClock, type Clock, type TimerHandle } from '../runtime/clock.js';

/** Writes one policy's status (server-side apply of the status subresource). */
export type StatusWrite = (policy: string, status: DropWatchPolicyStatus) => Promise<void>;

/** Settings of a {@link StatusWriter}. */
export interface StatusWriterOptions {
  readonly write: StatusWrite;
  /** Minimum time between two writes for one policy; default 1000 ms. */
  readonly minIntervalMs?: number;
  readonly clock?: Clock;
  /** A write failed; the caller requeues the policy (the next plan is submitted again). */
  readonly onError?: (policy: string, err: unknown) => void;
  /** A write succeeded (for metrics and logs). */
  readonly onWritten?: (policy: string) => void;
}

interface Slot {
  pending: DropWatchPolicyStatus | undefined;
  pendingJson: string | undefined;
  /** What we last wrote successfully (canonical JSON). */
  written: string | undefined;
  writtenStatus: DropWatchPolicyStatus | undefined;
  lastWriteMs: number;
  timer: TimerHandle | undefined;
  inFlight: Promise<void> | undefined;
}

/** Per-policy status batching with a minimum interval and change detection. */
export class StatusWriter {
  private readonly o: StatusWriterOptions;
  private readonly clock: Clock;
  private readonly minMs: number;
  private readonly slots = new Map<string, Slot>();
  private stopped = false;

  constructor(opts: StatusWriterOptions) {
    this.o = opts;
    this.clock = opts.clock ?? systemClock;
    this.minMs = opts.minIntervalMs ?? 1000;
  }

  /** The status last written for a policy (for lastTransitionTime), if any. */
  lastWritten(policy: string): DropWatchPolicyStatus | undefined {
    return this.slots.get(policy)?.writtenStatus;
  }

  /**
   * Offers a planned status. Skipped when it equals the stored one (`observed`, from the cache)
   * or the one we last wrote; otherwise written now, or at the end of the current interval with
   * whatever was offered last by then.
   */
  submit(policy: string, status: DropWatchPolicyStatus, observed: DropWatchPolicyStatus | undefined): void {
    if (this.stopped) return;
    const json = canonicalJson(status);
    const slot = this.slot(policy);
    if (json === slot.written || (observed !== undefined && json === canonicalJson(observed))) {
      // Nothing to write; a pending older plan is superseded by this one.
      slot.pending = undefined;
      slot.pendingJson = undefined;
      slot.timer?.cancel();
      slot.timer = undefined;
      if (slot.written === undefined) {
        slot.written = json;
        slot.writtenStatus = status;
      }
      return;
    }
    slot.pending = status;
    slot.pendingJson = json;
    this.schedule(policy, slot);
  }

  /** Forgets a policy (deleted): pending writes are dropped. */
  forget(policy: string): void {
    const slot = this.slots.get(policy);
    slot?.timer?.cancel();
    this.slots.delete(policy);
  }

  /** Writes every pending status now (graceful shutdown), then refuses new submissions. */
  async flush(): Promise<void> {
    const all = [...this.slots.entries()];
    await Promise.all(all.map(async ([policy, slot]) => {
      slot.timer?.cancel();
      slot.timer = undefined;
      await slot.inFlight;
      if (slot.pending !== undefined) await this.writeNow(policy, slot);
    }));
  }

  /** Cancels timers and drops pending writes. */
  stop(): void {
    this.stopped = true;
    for (const s of this.slots.values()) s.timer?.cancel();
  }

  private slot(policy: string): Slot {
    let s = this.slots.get(policy);
    if (s === undefined) {
      s = { pending: undefined, pendingJson: undefined, written: undefined, writtenStatus: undefined, lastWriteMs: Number.NEGATIVE_INFINITY, timer: undefined, inFlight: undefined };
      this.slots.set(policy, s);
    }
    return s;
  }

  private schedule(policy: string, slot: Slot): void {
    if (slot.timer !== undefined || slot.inFlight !== undefined) return; // the running write or timer picks up the latest
    const wait = slot.lastWriteMs + this.minMs - this.clock.now();
    if (wait <= 0) {
      void this.writeNow(policy, slot);
      return;
    }
    slot.timer = this.clock.setTimeout(() => {
      slot.timer = undefined;
      void this.writeNow(policy, slot);
    }, wait);
  }

  private writeNow(policy: string, slot: Slot): Promise<void> {
    const status = slot.pending;
    const json = slot.pendingJson;
    if (status === undefined || json === undefined || this.slots.get(policy) !== slot) return Promise.resolve();
    slot.pending = undefined;
    slot.pendingJson = undefined;
    slot.lastWriteMs = this.clock.now();
    const run = (async () => {
      try {
        await this.o.write(policy, status);
        slot.written = json;
        slot.writtenStatus = status;
        this.o.onWritten?.(policy);
      } catch (err) {
        slot.written = undefined;
        this.o.onError?.(policy, err);
      } finally {
        slot.inFlight = undefined;
      }
      // A newer plan arrived while writing: write it after the interval.
      if (slot.pending !== undefined && !this.stopped) this.schedule(policy, slot);
    })();
    slot.inFlight = run;
    return run;
  }
}
