// The per-key work queue under every controller (STYLE.md 7, client-go workqueue semantics,
// kopf's per-object queues). Informer handlers and mappers add keys; one handler call runs per
// key at a time, keys run in parallel up to a limit, failures are classified with the error
// catalogue (errors.ts): transient -> retried with per-key backoff, terminal -> reported once,
// NotFound -> done. Used by the operator's controllers and the agent's publisher.
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { CATALOGUE, DwoError, type ErrorCode } from './errors.js';

/** What a handler may return: nothing, or a request to run the key again later. */
export type WorkResult = void | { readonly requeueAfterMs?: number };

/** Passed to the handler with each key. */
export interface WorkContext {
  /** Consecutive transient failures of this key before this run (0 on a first try). */
  readonly attempt: number;
  /** Aborts when the queue shuts down in 'cancel' mode. */
  readonly signal: AbortSignal;
}

/** Processes one key; level-based: it re-reads the world for that key. */
export type WorkHandler = (key: string, ctx: WorkContext) => Promise<WorkResult> | WorkResult;

/** How a failure is handled: retry with backoff, report without retry, or treat as done. */
export type FailureClass = 'transient' | 'terminal' | 'done';

/** Reported for every failed run (after classification). */
export interface WorkFailure {
  readonly key: string;
  readonly error: unknown;
  readonly class: FailureClass;
  /** Failures in a row for this key, this one included. */
  readonly failures: number;
  /** Delay of the scheduled retry for transient failures; undefined when none was scheduled. */
  readonly retryInMs: number | undefined;
}

/** Outcome of one handler run, for metrics. */
export type WorkOutcome = 'success' | FailureClass;

/** Queue settings; only `handler` is required. */
export interface WorkQueueOptions {
  readonly handler: WorkHandler;
  /** Keys processed at once; default 4. */
  readonly concurrency?: number;
  readonly clock?: Clock;
  /** Per-key retry delays; default 1 s doubling to 5 min with full jitter. */
  readonly retry?: BackoffOptions;
  /** Transient failures in a row after which a key is reported as terminal; default unlimited. */
  readonly maxRetries?: number;
  /** Overrides classifyFailure. */
  readonly classify?: (err: unknown) => FailureClass;
  /** Called after every failed run; terminal failures are where callers set conditions and Events. */
  readonly onFailure?: (f: WorkFailure) => void;
  /** Called after every run with its outcome and duration. */
  readonly onProcessed?: (key: string, outcome: WorkOutcome, durationMs: number) => void;
}

/** How shutdown treats work: 'drain' finishes queued keys, 'cancel' drops them and aborts runs. */
export interface ShutdownOptions {
  readonly mode: 'drain' | 'cancel';
  /** For 'drain': switch to 'cancel' after this many ms. */
  readonly timeoutMs?: number;
}

const DEFAULT_RETRY: BackoffOptions = { initialMs: 1000, maxMs: 5 * 60_000 };

function codeOf(err: unknown): ErrorCode | undefined {
  if (err instanceof DwoError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in CATALOGUE ? (code as ErrorCode) : undefined;
}

/**
 * Default classification: DWO_E_API_NOT_FOUND is done (the object is gone), other catalogue codes
 * follow their kind, and anything else (a bug, an unexpected library error) is transient so it is
 * retried with backoff rather than dropped, as controller-runtime does.
 */
export function classifyFailure(err: unknown): FailureClass {
  const code = codeOf(err);
  if (code === undefined) return 'transient';
  if (code === 'DWO_E_API_NOT_FOUND') return 'done';
  return CATALOGUE[code].kind;
}

interface Delayed {
  readonly due: number;
  readonly timer: TimerHandle;
}

/** A keyed work queue: in order per key, never concurrent per key, merged while waiting. */
export class WorkQueue {
  private readonly handler: WorkHandler;
  private readonly concurrency: number;
  private readonly clock: Clock;
  private readonly retry: BackoffOptions;
  private readonly maxRetries: number;
  private readonly classify: (err: unknown) => FailureClass;
  private readonly onFailure: ((f: WorkFailure) => void) | undefined;
  private readonly onProcessed: ((key: string, outcome: WorkOutcome, durationMs: number) => void) | undefined;

  /** Keys ready to run, in arrival order (a Set keeps insertion order and merges duplicates). */
  private readonly waiting = new Set<string>();
  private readonly running = new Map<string, AbortController>();
  /** Keys added while running: they run again right after. */
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly failures = new Map<string, number>();
  private idleWaiters: (() => void)[] = [];
  private stopping: 'drain' | 'cancel' | undefined;

  constructor(opts: WorkQueueOptions) {
    this.handler = opts.handler;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.clock = opts.clock ?? systemClock;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.maxRetries = opts.maxRetries ?? Number.POSITIVE_INFINITY;
    this.classify = opts.classify ?? classifyFailure;
    this.onFailure = opts.onFailure;
    this.onProcessed = opts.onProcessed;
  }

  /** Queues a key now. Returns false once shutdown has begun (the key is dropped). */
  add(key: string): boolean {
    if (this.stopping) return false;
    this.enqueue(key);
    return true;
  }

  /**
   * Queues a key after `delayMs`. One delayed entry per key: an earlier due time replaces a later
   * one, a later one is ignored. A direct add() meanwhile does not cancel it.
   */
  addAfter(key: string, delayMs: number): boolean {
    if (this.stopping) return false;
    if (delayMs <= 0) return this.add(key);
    const due = this.clock.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.due <= due) return true;
    existing?.timer.cancel();
    const timer = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      if (!this.stopping) this.enqueue(key);
    }, delayMs);
    this.delayed.set(key, { due, timer });
    return true;
  }

  /** Forgets a key's failure count and any delayed re-add (e.g. the object was deleted). */
  forget(key: string): void {
    this.failures.delete(key);
    this.delayed.get(key)?.timer.cancel();
    this.delayed.delete(key);
  }

  /** Counts for metrics and tests. */
  stats(): { waiting: number; running: number; delayed: number; failing: number } {
    return { waiting: this.waiting.size, running: this.running.size, delayed: this.delayed.size, failing: this.failures.size };
  }

  /** Resolves when nothing is waiting or running (delayed keys do not count). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops the queue: no new keys are accepted and delayed keys are dropped. 'drain' lets waiting
   * and running keys finish (failures are not retried); 'cancel' drops waiting keys and aborts
   * running handlers' signals. Resolves when no handler is running.
   */
  async shutdown(opts: ShutdownOptions = { mode: 'drain' }): Promise<void> {
    if (this.stopping !== 'cancel') this.stopping = opts.mode;
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    if (opts.mode === 'cancel') this.cancelAll();
    let timer: TimerHandle | undefined;
    if (opts.mode === 'drain' && opts.timeoutMs !== undefined) {
      timer = this.clock.setTimeout(() => {
        this.stopping = 'cancel';
        this.cancelAll();
      }, opts.timeoutMs);
    }
    await this.whenIdle();
    timer?.cancel();
  }

  private cancelAll(): void {
    this.waiting.clear();
    this.dirty.clear();
    for (const c of this.running.values()) c.abort(new Error('work queue shut down'));
    this.notifyIdle();
  }

  private enqueue(key: string): void {
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.waiting.add(key);
    this.pump();
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.stopping !== 'cancel') {
      const next = this.waiting.values().next();
      if (next.done) break;
      this.waiting.delete(next.value);
      this.start(next.value);
    }
  }

  private start(key: string): void {
    const controller = new AbortController();
    this.running.set(key, controller);
    const attempt = this.failures.get(key) ?? 0;
    const started = this.clock.now();
    void Promise.resolve()
      .then(() => this.handler(key, { attempt, signal: controller.signal }))
      .then(
        (result) => this.succeeded(key, result, started),
        (err: unknown) => this.failed(key, err, attempt, started),
      )
      .finally(() => this.finish(key))
      // A throwing onFailure/onProcessed hook must not become an unhandled rejection.
      .catch(() => undefined);
  }

  private succeeded(key: string, result: WorkResult, started: number): void {
    this.failures.delete(key);
    this.onProcessed?.(key, 'success', this.clock.now() - started);
    const after = result?.requeueAfterMs;
    if (after !== undefined && !this.stopping) this.addAfter(key, after);
  }

  private failed(key: string, error: unknown, attempt: number, started: number): void {
    let cls = this.classify(error);
    const failures = attempt + 1;
    if (cls === 'transient' && failures > this.maxRetries) cls = 'terminal';
    let retryInMs: number | undefined;
    if (cls === 'transient') {
      this.failures.set(key, failures);
      if (!this.stopping) {
        retryInMs = backoffDelay(attempt, this.retry);
        this.addAfter(key, Math.max(1, retryInMs));
      }
    } else {
      this.failures.delete(key);
    }
    this.onProcessed?.(key, cls, this.clock.now() - started);
    if (cls !== 'done') this.onFailure?.({ key, error, class: cls, failures, retryInMs });
  }

  private finish(key: string): void {
    this.running.delete(key);
    if (this.dirty.delete(key) && this.stopping !== 'cancel') this.waiting.add(key);
    this.pump();
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return this.running.size === 0 && (this.waiting.size === 0 || this.stopping === 'cancel');
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
