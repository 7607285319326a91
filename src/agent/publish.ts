// The agent's publish loop: every report interval it closes a monitor window, carries it into
// the pending (unwritten) summary, and writes the node report when something material changed or
// the heartbeat is due. A failed write keeps everything pending and backs off; no count is lost,
// the next successful report simply spans the longer window. Called by `dropwatch-operator agent`.
import { mergeSnapshots } from '../domain/merge.js';
import { isMaterialChange, reportName, toReportStatus, type ReportMeta } from '../domain/report.js';
import type { DropSnapshot } from '../domain/snapshot.js';
import type { DropWatchNodeReportStatus } from '../api/generated/types.js';
import { Backoff, type BackoffOptions } from '../runtime/backoff.js';
import type { Clock } from '../runtime/clock.js';
import { toDwoError, type DwoError } from '../runtime/errors.js';

/** One report as the sink writes it (server-side apply of spec and status). */
export interface NodeReport {
  readonly name: string;
  readonly policy: string;
  readonly nodeName: string;
  readonly status: DropWatchNodeReportStatus;
}

/** Where reports go: the Kubernetes adapter in production, a recorder in tests. */
export interface ReportSink {
  write(report: NodeReport): Promise<void>;
}

export interface PublisherOptions {
  readonly policy: string;
  readonly nodeName: string;
  readonly policyGeneration: number;
  readonly agentVersion: string;
  /** Write at least this often even when nothing changed (ms). */
  readonly heartbeatIntervalMs: number;
  readonly requestedSources?: ReportMeta['requestedSources'];
  readonly maxSites?: number;
  readonly clock: Clock;
  /** Retry timing after a failed write (default 1 s doubling to 60 s, full jitter). */
  readonly backoff?: BackoffOptions;
  /** Called after every attempt, for logs and metrics. */
  readonly onResult?: (r: PublishResult) => void;
}

export type PublishResult =
  | { readonly kind: 'written'; readonly reason: 'first' | 'material' | 'heartbeat' | 'final'; readonly windowSeconds: number }
  | { readonly kind: 'skipped' }
  | { readonly kind: 'failed'; readonly error: DwoError; readonly retryInMs: number }
  | { readonly kind: 'backing-off'; readonly retryInMs: number };

/** Keeps the pending summary and decides when to write it. */
export class Publisher {
  private pending: DropSnapshot | undefined;
  private lastWritten: DropWatchNodeReportStatus | undefined;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private retryAt = Number.NEGATIVE_INFINITY;
  private readonly backoff: Backoff;
  private latestSnapshot: DropSnapshot | undefined;
  readonly name: string;

  constructor(
    private readonly sink: ReportSink,
    private readonly opts: PublisherOptions,
  ) {
    this.name = reportName(opts.policy, opts.nodeName);
    this.backoff = new Backoff(opts.backoff ?? { initialMs: 1000, maxMs: 60_000 });
  }

  /** The most recent window, written or not (for /healthz and metrics). */
  get latest(): DropSnapshot | undefined {
    return this.latestSnapshot;
  }

  /** Whether some measured window has not reached the API server yet. */
  get hasPending(): boolean {
    return this.pending !== undefined;
  }

  /** Takes one closed window and writes if it should. Never throws. */
  async offer(window: DropSnapshot): Promise<PublishResult> {
    this.latestSnapshot = window;
    this.pending = this.pending ? mergeSnapshots(this.pending, window, this.opts.maxSites ?? 50) : window;
    const now = this.opts.clock.now();
    if (now < this.retryAt) return this.report({ kind: 'backing-off', retryInMs: this.retryAt - now });

    const status = toReportStatus(this.pending, this.meta(now));
    const heartbeatDue = now - this.lastWriteAt >= this.opts.heartbeatIntervalMs;
    const reason = this.lastWritten === undefined ? 'first' : isMaterialChange(this.lastWritten, status) ? 'material' : heartbeatDue ? 'heartbeat' : undefined;
    if (reason === undefined) {
      // Nothing to say yet: the window stays pending so the next report still counts it.
      return this.report({ kind: 'skipped' });
    }
    try {
      await this.sink.write({ name: this.name, policy: this.opts.policy, nodeName: this.opts.nodeName, status });
    } catch (err) {
      const error = toDwoError(err);
      const delay = this.backoff.next();
      this.retryAt = now + delay;
      return this.report({ kind: 'failed', error, retryInMs: delay });
    }
    const windowSeconds = this.pending.window.seconds;
    this.backoff.reset();
    this.retryAt = Number.NEGATIVE_INFINITY;
    this.lastWritten = status;
    this.lastWriteAt = now;
    this.pending = undefined;
    return this.report({ kind: 'written', reason, windowSeconds });
  }

  /**
   * Writes the pending summary now, whatever the change test and the backoff say: the last
   * attempt before the agent exits. Never throws; a failure leaves the summary pending.
   */
  async flush(): Promise<PublishResult> {
    if (this.pending === undefined) return this.report({ kind: 'skipped' });
    const now = this.opts.clock.now();
    const status = toReportStatus(this.pending, this.meta(now));
    try {
      await this.sink.write({ name: this.name, policy: this.opts.policy, nodeName: this.opts.nodeName, status });
    } catch (err) {
      return this.report({ kind: 'failed', error: toDwoError(err), retryInMs: 0 });
    }
    const windowSeconds = this.pending.window.seconds;
    this.lastWritten = status;
    this.lastWriteAt = now;
    this.pending = undefined;
    return this.report({ kind: 'written', reason: 'final', windowSeconds });
  }

  private meta(now: number): ReportMeta {
    const m: ReportMeta = { agentVersion: this.opts.agentVersion, policyGeneration: this.opts.policyGeneration, now: new Date(now) };
    return this.opts.requestedSources ? { ...m, requestedSources: this.opts.requestedSources } : m;
  }

  private report(r: PublishResult): PublishResult {
    this.opts.onResult?.(r);
    return r;
  }
}
