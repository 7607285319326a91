// Informers with the guarantees client-node's ListWatch lacks: restart with backoff after any
// watch or list error (ListWatch stops on every error except 410), periodic resync, a stall
// watchdog, and a cache that survives restarts with deletes detected on relist. The operator's
// controllers and the agent use it to watch policies, reports, Nodes and DaemonSets.
import {
  ListWatch,
  loadYaml,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { Backoff, type BackoffOptions } from '../runtime/backoff.js';
import { systemClock, type Clock, type TimerHandle } from '../runtime/clock.js';
import { toKubeError } from './client.js';

/** Why a handler is called: a watch event, a difference found by a (re)list, or a periodic resync. */
export type InformerReason = 'watch' | 'relist' | 'resync';

/** Second argument of every handler. */
export interface InformerEventInfo<T> {
  readonly reason: InformerReason;
  /** The cached object before this update (for resync: the same object). */
  readonly old?: T;
}

/** An add, update or delete handler. Handlers must be quick: enqueue a key and return. */
export type InformerHandler<T> = (obj: T, info: InformerEventInfo<T>) => void;

/** Life-cycle notes for logs and metrics. */
export type InformerStatus =
  | { readonly type: 'listed'; readonly count: number }
  | { readonly type: 'watching' }
  | { readonly type: 'error'; readonly error: unknown; readonly retryInMs: number }
  | { readonly type: 'stalled'; readonly idleMs: number }
  | { readonly type: 'resync'; readonly count: number }
  | { readonly type: 'handler-error'; readonly error: unknown };

/** Informer settings. */
export interface InformerOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** API path of the collection, e.g. /api/v1/nodes or /apis/dropwatch.dev/v1alpha1/dropwatchpolicies. */
  readonly path: string;
  /** Lists the collection with the same selectors as the watch. */
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Turns a raw watch object into T; the list call's own decoding applies to listed objects. */
  readonly decode?: (raw: unknown) => T;
  /** Re-deliver every cached object to update handlers this often; 0 (default) disables. */
  readonly resyncMs?: number;
  /** Restart list+watch when neither an event nor a successful watch (re)connect came this long; default 120 s. */
  readonly stallMs?: number;
  /** A list slower than this is abandoned and retried; default 60 s. */
  readonly listTimeoutMs?: number;
  /** Delays between restarts after errors; default 500 ms doubling to 60 s, full jitter. */
  readonly restartBackoff?: BackoffOptions;
  readonly clock?: Clock;
  readonly onStatus?: (s: InformerStatus) => void;
}

/**
 * Decodes a raw watch object into client-node's typed model (Date fields and all), matching what
 * typed list calls return. Costs a JSON round trip per event; use for built-in kinds only when the
 * typed shape matters (custom resources are plain JSON either way).
 */
export function decodeTyped<T>(raw: unknown): T {
  return loadYaml<T>(JSON.stringify(raw));
}

/** A watch connected at least this long counts as healthy when it later fails. */
const HEALTHY_WATCH_MS = 10_000;

function keyOf(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace ?? '';
  return `${ns}/${obj.metadata?.name ?? ''}`;
}

/** Hooks the watch connection so the informer sees every raw event and each successful connect. */
class ObservedWatch extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly hooks: { active(): boolean; onEvent(): void; onConnected(): void },
  ) {
    super(kc);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    // A ListWatch stopped while its list was in flight still goes on to watch; do not connect.
    if (!this.hooks.active()) return new AbortController();
    let ended = false;
    const controller = await super.watch(
      path,
      // Bookmarks keep the resume resourceVersion fresh on quiet collections (fewer 410 relists).
      { ...queryParams, allowWatchBookmarks: true },
      (phase, obj, raw) => {
        this.hooks.onEvent();
        callback(phase, obj, raw);
      },
      (err) => {
        ended = true;
        done(err);
      },
    );
    // super.watch resolves once response headers arrived (or after done(err) on failure).
    if (!ended) this.hooks.onConnected();
    return controller;
  }
}

/**
 * A list+watch cache of one collection with add/update/delete handlers. Each start or restart
 * is a new client-node ListWatch ("session"); events of replaced sessions are ignored, and each
 * list is diffed against the cache so objects deleted while we were not watching get a delete.
 */
export class Informer<T extends KubernetesObject> {
  private readonly opts: InformerOptions<T>;
  private readonly clock: Clock;
  private readonly cache = new Map<string, T>();
  private readonly handlers = { add: new Set<InformerHandler<T>>(), update: new Set<InformerHandler<T>>(), delete: new Set<InformerHandler<T>>() };
  private readonly backoff: Backoff;
  private session = 0;
  private listWatch: ListWatch<T> | undefined;
  private running = false;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private lastActivity = 0;
  /** When the current session's watch connected; undefined while (re)connecting. */
  private connectedAt: number | undefined;
  private restartTimer: TimerHandle | undefined;
  private resyncTimer: TimerHandle | undefined;
  private watchdogTimer: TimerHandle | undefined;

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.backoff = new Backoff(opts.restartBackoff ?? { initialMs: 500, maxMs: 60_000 });
  }

  /** Registers a handler; returns a function that removes it. */
  on(type: 'add' | 'update' | 'delete', handler: InformerHandler<T>): () => void {
    this.handlers[type].add(handler);
    return () => this.handlers[type].delete(handler);
  }

  /** Starts listing and watching; returns at once (see waitForSync). Starting twice is a no-op. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastActivity = this.clock.now();
    const stallMs = this.opts.stallMs ?? 120_000;
    this.watchdogTimer = this.clock.setInterval(() => this.checkStall(stallMs), Math.max(250, Math.floor(stallMs / 4)));
    if ((this.opts.resyncMs ?? 0) > 0) this.resyncTimer = this.clock.setInterval(() => this.resync(), this.opts.resyncMs ?? 0);
    this.startSession();
  }

  /** Stops watching and all timers; the cache keeps its last content. */
  async stop(): Promise<void> {
    this.running = false;
    this.session++;
    this.restartTimer?.cancel();
    this.resyncTimer?.cancel();
    this.watchdogTimer?.cancel();
    const lw = this.listWatch;
    this.listWatch = undefined;
    await lw?.stop();
  }

  /** True once the first list has filled the cache (and ever after, across restarts). */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves when hasSynced() becomes true, or early when `signal` aborts. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /** The cached object, if any. Cluster-scoped objects have no namespace. */
  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(`${namespace ?? ''}/${name}`);
  }

  /** Cached objects, optionally of one namespace. */
  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => (o.metadata?.namespace ?? '') === namespace);
  }

  /** Drops the current list+watch and starts a new one (a full relist) now. */
  restart(): void {
    if (!this.running) return;
    this.restartTimer?.cancel();
    this.restartTimer = undefined;
    this.startSession();
  }

  private startSession(): void {
    const id = ++this.session;
    this.connectedAt = undefined;
    const old = this.listWatch;
    this.listWatch = undefined;
    void old?.stop();
    const current = (): boolean => this.running && id === this.session;
    const watch = new ObservedWatch(this.opts.kubeConfig, {
      active: current,
      onEvent: () => {
        if (current()) this.lastActivity = this.clock.now();
      },
      onConnected: () => {
        if (!current()) return;
        this.lastActivity = this.clock.now();
        this.connectedAt ??= this.lastActivity;
        this.opts.onStatus?.({ type: 'watching' });
      },
    });
    const listFn = async (): Promise<KubernetesListObject<T>> => {
      const listed = await this.listWithTimeout();
      if (current()) this.applyList(listed.items);
      return listed;
    };
    const lw = new ListWatch<T>(this.opts.path, watch, listFn, false, this.opts.labelSelector, this.opts.fieldSelector);
    // ListWatch also reports every listed item as an add; upsert drops those as unchanged.
    lw.on('add', (obj) => current() && this.upsert(obj, 'watch'));
    lw.on('update', (obj) => current() && this.upsert(obj, 'watch'));
    lw.on('delete', (obj) => current() && this.remove(obj, 'watch'));
    lw.on('error', (err?: unknown) => {
      if (current()) this.failed(err);
    });
    this.listWatch = lw;
    void lw.start().catch((err: unknown) => {
      if (current()) this.failed(err);
    });
  }

  private async listWithTimeout(): Promise<KubernetesListObject<T>> {
    const ms = this.opts.listTimeoutMs ?? 60_000;
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => {
        const e = new Error(`list ${this.opts.path} timed out after ${ms} ms`);
        e.name = 'TimeoutError';
        reject(e);
      }, ms);
    });
    try {
      return await Promise.race([this.opts.list(), timeout]);
    } finally {
      timer?.cancel();
    }
  }

  /** A list result: deletes for cached objects it lacks, adds/updates for the rest. */
  private applyList(items: readonly T[]): void {
    const seen = new Set(items.map(keyOf));
    for (const [key, obj] of [...this.cache]) if (!seen.has(key)) this.remove(obj, 'relist');
    for (const item of items) this.upsert(item, 'relist');
    this.lastActivity = this.clock.now();
    this.opts.onStatus?.({ type: 'listed', count: items.length });
    if (!this.synced) {
      this.synced = true;
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w();
    }
  }

  private upsert(incoming: T, reason: InformerReason): void {
    const key = keyOf(incoming);
    const old = this.cache.get(key);
    const rv = incoming.metadata?.resourceVersion;
    if (old && rv !== undefined && old.metadata?.resourceVersion === rv) return;
    const obj = reason === 'watch' ? this.decode(incoming) : incoming;
    this.cache.set(key, obj);
    if (reason === 'watch') this.backoff.reset();
    if (old) this.emit('update', obj, { reason, old });
    else this.emit('add', obj, { reason });
  }

  private remove(obj: T, reason: InformerReason): void {
    const key = keyOf(obj);
    const old = this.cache.get(key);
    if (!old) return;
    this.cache.delete(key);
    // A watch DELETED event carries the final state; a relist only knows the last cached one.
    this.emit('delete', reason === 'watch' ? this.decode(obj) : old, { reason, old });
  }

  private decode(raw: T): T {
    return this.opts.decode ? this.opts.decode(raw) : raw;
  }

  private emit(type: 'add' | 'update' | 'delete', obj: T, info: InformerEventInfo<T>): void {
    for (const h of this.handlers[type]) {
      try {
        h(obj, info);
      } catch (error) {
        this.opts.onStatus?.({ type: 'handler-error', error });
      }
    }
  }

  private failed(err: unknown): void {
    const lw = this.listWatch;
    this.listWatch = undefined;
    this.session++;
    void lw?.stop();
    // A list that works followed by a watch that fails at once must not loop at the first delay:
    // only a watch that stayed up for a while (or delivered events) earns a fresh backoff.
    if (this.connectedAt !== undefined && this.clock.now() - this.connectedAt >= HEALTHY_WATCH_MS) this.backoff.reset();
    this.connectedAt = undefined;
    const retryInMs = this.backoff.next();
    this.opts.onStatus?.({ type: 'error', error: toKubeError(err, `list/watch ${this.opts.path}`), retryInMs });
    this.restartTimer?.cancel();
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.running) this.startSession();
    }, retryInMs);
  }

  private checkStall(stallMs: number): void {
    if (!this.running || this.restartTimer) return;
    const idleMs = this.clock.now() - this.lastActivity;
    if (idleMs < stallMs) return;
    this.opts.onStatus?.({ type: 'stalled', idleMs });
    this.lastActivity = this.clock.now();
    this.startSession();
  }

  private resync(): void {
    if (!this.synced) return;
    const objects = [...this.cache.values()];
    for (const obj of objects) this.emit('update', obj, { reason: 'resync', old: obj });
    this.opts.onStatus?.({ type: 'resync', count: objects.length });
  }
}
