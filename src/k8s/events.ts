// An events.k8s.io/v1 recorder with series deduplication (STYLE.md 10): the same event about the
// same object within a window becomes one Event whose series.count grows, and series updates
// are rate-limited per Event. The operator's outputs (threshold exceeded/recovered on Nodes and
// policies) and the controllers' terminal errors record through it.
import { V1MicroTime, type EventsV1Event, type V1ObjectReference } from '@kubernetes/client-node';
import { systemClock, type Clock, type TimerHandle } from '../runtime/clock.js';
import { callOptions, isNotFound, kubeCall, type KubeClients } from './client.js';

/** The object an Event is about (regarding) or a related one. */
export interface EventObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** Absent for cluster-scoped objects; their Events go to namespace "default". */
  readonly namespace?: string;
  readonly uid?: string;
}

/** One occurrence to record. */
export interface EventInput {
  readonly regarding: EventObjectRef;
  readonly related?: EventObjectRef;
  readonly type: 'Normal' | 'Warning';
  /** UpperCamelCase, e.g. DropThresholdExceeded. */
  readonly reason: string;
  /** What we did or observed, e.g. Evaluate. */
  readonly action: string;
  /** Human-readable, up to 1 kB (longer notes are cut). */
  readonly note: string;
}

/** Recorder settings. */
export interface EventRecorderOptions {
  readonly clients: Pick<KubeClients, 'events'>;
  /** Qualified name of the component, e.g. dropwatch.dev/operator. */
  readonly reportingController: string;
  /** This process, e.g. the pod name. */
  readonly reportingInstance: string;
  readonly clock?: Clock;
  /** Repeats this close to the last one join its series; default 10 min. */
  readonly seriesWindowMs?: number;
  /** At most one series update per Event this often; default 30 s (the first repeat is written at once). */
  readonly minUpdateIntervalMs?: number;
  /** Series remembered; the least recently seen is forgotten first; default 1000. */
  readonly maxSeries?: number;
  readonly requestTimeoutMs?: number;
  /** Failed writes (events are best effort: record() never rejects). */
  readonly onError?: (err: unknown) => void;
}

interface Series {
  readonly name: string;
  readonly namespace: string;
  count: number;
  written: number;
  lastSeen: number;
  lastWrite: number;
  /** Writes for one Event run one after another. */
  chain: Promise<void>;
  timer: TimerHandle | undefined;
  /** False until the create succeeded. */
  created: boolean;
}

const NOTE_MAX_BYTES = 1024;

function truncateNote(note: string): string {
  const buf = Buffer.from(note, 'utf8');
  if (buf.length <= NOTE_MAX_BYTES) return note;
  // Cut on a character boundary and mark the cut.
  let s = buf.subarray(0, NOTE_MAX_BYTES - 3).toString('utf8');
  if (s.endsWith('\uFFFD')) s = s.slice(0, -1);
  return `${s}...`;
}

function refKey(r: EventObjectRef): string {
  return `${r.apiVersion}/${r.kind}/${r.namespace ?? ''}/${r.name}/${r.uid ?? ''}`;
}

function toReference(r: EventObjectRef): V1ObjectReference {
  const ref: V1ObjectReference = { apiVersion: r.apiVersion, kind: r.kind, name: r.name };
  if (r.namespace !== undefined) ref.namespace = r.namespace;
  if (r.uid !== undefined) ref.uid = r.uid;
  return ref;
}

/** Records Events and folds repeats into series. */
export class EventRecorder {
  private readonly o: EventRecorderOptions;
  private readonly clock: Clock;
  private readonly windowMs: number;
  private readonly minUpdateMs: number;
  private readonly maxSeries: number;
  /** Insertion order doubles as recency order: a hit is moved to the end. */
  private readonly series = new Map<string, Series>();
  private nameCounter = 0;

  constructor(opts: EventRecorderOptions) {
    this.o = opts;
    this.clock = opts.clock ?? systemClock;
    this.windowMs = opts.seriesWindowMs ?? 10 * 60_000;
    this.minUpdateMs = opts.minUpdateIntervalMs ?? 30_000;
    this.maxSeries = Math.max(1, opts.maxSeries ?? 1000);
  }

  /** Records one occurrence: a new Event, or a count on the existing series. Never rejects. */
  record(e: EventInput): Promise<void> {
    const note = truncateNote(e.note);
    const key = [refKey(e.regarding), e.type, e.reason, e.action, note].join('\u0000');
    const now = this.clock.now();
    const existing = this.series.get(key);
    if (existing && now - existing.lastSeen < this.windowMs) {
      existing.count++;
      existing.lastSeen = now;
      this.touch(key, existing);
      return this.enqueue(existing, () => this.flushSeries(existing, false));
    }
    existing?.timer?.cancel();
    const s: Series = {
      name: this.eventName(e.regarding.name, now),
      namespace: e.regarding.namespace ?? 'default',
      count: 1,
      written: 0,
      lastSeen: now,
      lastWrite: now,
      chain: Promise.resolve(),
      timer: undefined,
      created: false,
    };
    this.touch(key, s);
    return this.enqueue(s, () => this.create(s, e, note));
  }

  /** Writes every pending series count now (call before shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.series.values()].map((s) => this.enqueue(s, () => this.flushSeries(s, true))));
  }

  /** Cancels pending timers; later records still work. */
  stop(): void {
    for (const s of this.series.values()) {
      s.timer?.cancel();
      s.timer = undefined;
    }
  }

  /** Number of series remembered (bounded by maxSeries). */
  size(): number {
    return this.series.size;
  }

  private touch(key: string, s: Series): void {
    this.series.delete(key);
    this.series.set(key, s);
    while (this.series.size > this.maxSeries) {
      const oldest = this.series.entries().next();
      if (oldest.done) break;
      oldest.value[1].timer?.cancel();
      this.series.delete(oldest.value[0]);
    }
  }

  private enqueue(s: Series, step: () => Promise<void>): Promise<void> {
    const next = s.chain.then(step).catch((err: unknown) => this.o.onError?.(err));
    s.chain = next;
    return next;
  }

  /** <regarding name>.<hex time+counter>, like client-go; unique per recorder. */
  private eventName(base: string, now: number): string {
    const suffix = (BigInt(now) * 1_000_000n + BigInt(this.nameCounter++ % 1_000_000)).toString(16);
    return `${base.slice(0, 253 - suffix.length - 1)}.${suffix}`;
  }

  private async create(s: Series, e: EventInput, note: string): Promise<void> {
    const body: EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: s.name, namespace: s.namespace },
      eventTime: new V1MicroTime(this.clock.now()),
      reportingController: this.o.reportingController,
      reportingInstance: this.o.reportingInstance,
      action: e.action,
      reason: e.reason,
      type: e.type,
      regarding: toReference(e.regarding),
      note,
    };
    if (e.related) body.related = toReference(e.related);
    await kubeCall(`create Event ${s.namespace}/${s.name}`, () =>
      this.o.clients.events.createNamespacedEvent({ namespace: s.namespace, body }, callOptions({ timeoutMs: this.o.requestTimeoutMs ?? 10_000 })),
    );
    s.created = true;
    s.written = 1;
    s.lastWrite = this.clock.now();
  }

  /**
   * Writes series.count if it grew: the first repeat at once, later ones at most every
   * minUpdateIntervalMs (a timer writes the latest count when the interval is over).
   */
  private async flushSeries(s: Series, force: boolean): Promise<void> {
    if (!s.created || s.count <= s.written) return;
    const wait = s.lastWrite + this.minUpdateMs - this.clock.now();
    if (!force && s.written > 1 && wait > 0) {
      s.timer ??= this.clock.setTimeout(() => {
        s.timer = undefined;
        void this.enqueue(s, () => this.flushSeries(s, false));
      }, wait);
      return;
    }
    s.timer?.cancel();
    s.timer = undefined;
    const count = s.count;
    const patch = { series: { count, lastObservedTime: new V1MicroTime(s.lastSeen) } };
    try {
      await kubeCall(`update Event series ${s.namespace}/${s.name}`, () =>
        this.o.clients.events.patchNamespacedEvent(
          { name: s.name, namespace: s.namespace, body: patch },
          callOptions({ contentType: 'application/merge-patch+json', timeoutMs: this.o.requestTimeoutMs ?? 10_000 }),
        ),
      );
    } catch (err) {
      // Events expire (default TTL 1 h); the series simply ends and the next repeat starts anew.
      if (isNotFound(err)) s.lastSeen = Number.NEGATIVE_INFINITY;
      throw err;
    }
    s.written = Math.max(s.written, count);
    s.lastWrite = this.clock.now();
  }
}
