// Exponential backoff with full jitter and a cap (the AWS "full jitter" scheme): the delay before
// retry n is uniform in [0, min(cap, initial * factor^n)]. Used by the work queue for per-key
// retries, by informers to restart watches and by leader election.

/** How delays grow. */
export interface BackoffOptions {
  /** Upper bound of the first delay, in ms. */
  readonly initialMs: number;
  /** No delay is ever above this, in ms. */
  readonly maxMs: number;
  /** Growth per attempt; default 2. */
  readonly factor?: number;
  /** 'full' (default): uniform in [0, bound]; 'none': exactly the bound (for tests and logs). */
  readonly jitter?: 'full' | 'none';
  /** Source of randomness in [0, 1); default Math.random. */
  readonly random?: () => number;
}

/** The delay bound (before jitter) for a zero-based attempt number. */
export function backoffCeiling(attempt: number, opts: BackoffOptions): number {
  const factor = opts.factor ?? 2;
  // Past about 60 doublings the power overflows to Infinity; the cap applies either way.
  const raw = opts.initialMs * Math.pow(factor, Math.min(Math.max(0, attempt), 64));
  return Math.min(opts.maxMs, Number.isFinite(raw) ? raw : opts.maxMs);
}

/** The delay for a zero-based attempt number, jitter applied. */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const ceiling = backoffCeiling(attempt, opts);
  if (opts.jitter === 'none') return ceiling;
  const random = opts.random ?? Math.random;
  return Math.floor(random() * ceiling);
}

/** A stateful backoff: next() returns the delay for the next attempt; reset() after a success. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /** Delay before the next attempt (ms); each call grows the bound until the cap. */
  next(): number {
    const delay = backoffDelay(this.attempt, this.opts);
    this.attempt++;
    return delay;
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** Starts again from the initial delay. */
  reset(): void {
    this.attempt = 0;
  }
}
