// Lease-based leader election (coordination.k8s.io/v1), client-go's algorithm in a small form:
// optimistic concurrency on resourceVersion, expiry judged by when *we* saw the record change
// (no cross-host clock comparison), renew deadline shorter than the lease, and a release on
// shutdown so a standby takes over at once. The operator's main runs its controllers under it.
import { V1MicroTime, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../runtime/clock.js';
import { callOptions, isNotFound, kubeCall, type KubeClients } from './client.js';

/** Timings chosen so a standby takes over within 15 s of a leader dying (measured: about 10-12 s). */
export const LEADER_DEFAULTS = {
  leaseDurationMs: 10_000,
  renewDeadlineMs: 7_000,
  retryPeriodMs: 2_000,
} as const;

/** Leader election settings. */
export interface LeaderElectionOptions {
  readonly clients: Pick<KubeClients, 'coordination'>;
  readonly namespace: string;
  /** Lease name, one per controller group (e.g. "dropwatch-operator"). */
  readonly name: string;
  /** Unique per process: pod name plus a random suffix. */
  readonly identity: string;
  /** How long a lease is valid after its last renewal, as others see it. */
  readonly leaseDurationMs?: number;
  /** A leader that could not renew for this long steps down; must be below leaseDurationMs. */
  readonly renewDeadlineMs?: number;
  /** Time between attempts, for the leader (renew) and the candidates (acquire). */
  readonly retryPeriodMs?: number;
  /** Timeout of each API request; default 5 s. */
  readonly requestTimeoutMs?: number;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Called on becoming leader; `signal` aborts when leadership ends. Start the controllers here. */
  readonly onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called when leadership ends (lost, or stop()). Stop the controllers here. */
  readonly onStoppedLeading: () => void;
  /** Called when the observed holder changes ('' when the lease was released). */
  readonly onNewLeader?: (identity: string) => void;
  /** API failures while acquiring or renewing (they are retried). */
  readonly onError?: (err: unknown) => void;
}

type Attempt = 'acquired' | 'held' | 'failed';

/** One candidate in a Lease election; start() it once, stop() it once. */
export class LeaderElector {
  private readonly o: LeaderElectionOptions;
  private readonly clock: Clock;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly requestTimeoutMs: number;
  private readonly random: () => number;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  private leading: AbortController | undefined;
  private lastRenew = 0;
  /** resourceVersion of the record we saw last, and when (our clock) it last changed. */
  private observedRv: string | undefined;
  private observedAt = 0;
  private observedHolder: string | undefined;
  private observedDurationMs = 0;

  constructor(opts: LeaderElectionOptions) {
    this.o = opts;
    this.clock = opts.clock ?? systemClock;
    this.leaseDurationMs = opts.leaseDurationMs ?? LEADER_DEFAULTS.leaseDurationMs;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? LEADER_DEFAULTS.renewDeadlineMs;
    this.retryPeriodMs = opts.retryPeriodMs ?? LEADER_DEFAULTS.retryPeriodMs;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
    this.random = opts.random ?? Math.random;
    if (!(this.renewDeadlineMs < this.leaseDurationMs)) throw new RangeError('renewDeadlineMs must be below leaseDurationMs');
    if (!(this.retryPeriodMs < this.renewDeadlineMs)) throw new RangeError('retryPeriodMs must be below renewDeadlineMs');
  }

  /** Starts campaigning in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Whether this process holds the lease right now. */
  isLeader(): boolean {
    return this.leading !== undefined;
  }

  /** The holder last seen on the lease ('' when released, undefined before the first read). */
  observedLeader(): string | undefined {
    return this.observedHolder;
  }

  /**
   * Stops campaigning. With `release` (the default) a leader empties the lease's holder so a
   * standby acquires it on its next attempt instead of waiting for expiry.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopController.abort();
    const started = this.loop !== undefined;
    await this.loop;
    this.stepDown();
    // Also when an acquire was in flight as stop() came: release() checks the holder is us.
    if (started && (opts.release ?? true)) await this.release();
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (!this.leading) {
        const result = await this.tryAcquireOrRenew();
        if (this.stopping) break;
        if (result === 'acquired') {
          this.lastRenew = this.clock.now();
          this.becomeLeader();
          await this.clock.sleep(this.retryPeriodMs, this.stopController.signal);
        } else {
          await this.clock.sleep(this.candidateDelay(), this.stopController.signal);
        }
        continue;
      }
      const result = await this.tryAcquireOrRenew();
      if (this.stopping) break;
      if (result === 'acquired') {
        this.lastRenew = this.clock.now();
      } else if (result === 'held' || this.clock.now() - this.lastRenew >= this.renewDeadlineMs) {
        // Someone else holds a valid lease, or we could not renew in time: stop acting at once.
        this.stepDown();
        continue;
      }
      await this.clock.sleep(this.retryPeriodMs, this.stopController.signal);
    }
  }

  /** A candidate polls every retry period, but wakes right when the observed lease expires. */
  private candidateDelay(): number {
    const jittered = this.retryPeriodMs * (1 + 0.1 * this.random());
    if (!this.observedHolder) return jittered;
    const untilExpiry = this.observedAt + this.observedDurationMs - this.clock.now();
    return Math.max(50, Math.min(jittered, untilExpiry + 50));
  }

  private becomeLeader(): void {
    const controller = new AbortController();
    this.leading = controller;
    void Promise.resolve()
      .then(() => this.o.onStartedLeading(controller.signal))
      .catch((err: unknown) => this.o.onError?.(err));
  }

  private stepDown(): void {
    const controller = this.leading;
    if (!controller) return;
    this.leading = undefined;
    controller.abort();
    try {
      this.o.onStoppedLeading();
    } catch (err) {
      this.o.onError?.(err);
    }
  }

  private observe(lease: V1Lease): void {
    const rv = lease.metadata?.resourceVersion;
    if (rv !== this.observedRv) {
      this.observedRv = rv;
      this.observedAt = this.clock.now();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    this.observedDurationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== this.observedHolder) {
      this.observedHolder = holder;
      this.o.onNewLeader?.(holder);
    }
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { namespace, name, identity } = this.o;
    const api = this.o.clients.coordination;
    const options = callOptions({ timeoutMs: this.requestTimeoutMs });
    const now = new V1MicroTime(this.clock.now());
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    try {
      let current: V1Lease;
      try {
        current = await kubeCall(`read Lease ${namespace}/${name}`, () => api.readNamespacedLease({ name, namespace }, options));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const created = await kubeCall(`create Lease ${namespace}/${name}`, () =>
          api.createNamespacedLease(
            {
              namespace,
              body: {
                apiVersion: 'coordination.k8s.io/v1',
                kind: 'Lease',
                metadata: { name, namespace },
                spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
              },
            },
            options,
          ),
        );
        this.observe(created);
        return 'acquired';
      }
      this.observe(current);
      const spec = current.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const mine = holder === identity;
      if (holder !== '' && !mine && this.clock.now() < this.observedAt + this.observedDurationMs) return 'held';
      const acquireTime = mine && spec.acquireTime !== undefined ? new V1MicroTime(new Date(spec.acquireTime).getTime()) : now;
      const updated = await this.replaceLease('update', current, {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime,
        renewTime: now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      });
      this.observe(updated);
      return 'acquired';
    } catch (err) {
      this.o.onError?.(err);
      return 'failed';
    }
  }

  /**
   * Replaces the Lease with a new spec. Sending the read object's resourceVersion makes this a
   * compare-and-swap: a concurrent writer gets 409.
   */
  private replaceLease(action: 'update' | 'release', current: V1Lease, spec: V1LeaseSpec): Promise<V1Lease> {
    const { namespace, name } = this.o;
    const options = callOptions({ timeoutMs: this.requestTimeoutMs });
    return kubeCall(`${action} Lease ${namespace}/${name}`, () =>
      this.o.clients.coordination.replaceNamespacedLease(
        { name, namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...current.metadata, name, namespace }, spec } },
        options,
      ),
    );
  }

  /** Empties the holder (if it is still us) with a 1 s duration, as client-go does on release. */
  private async release(): Promise<void> {
    const { namespace, name, identity } = this.o;
    const api = this.o.clients.coordination;
    const options = callOptions({ timeoutMs: this.requestTimeoutMs });
    try {
      const current = await kubeCall(`read Lease ${namespace}/${name}`, () => api.readNamespacedLease({ name, namespace }, options));
      if ((current.spec?.holderIdentity ?? '') !== identity) return;
      const now = new V1MicroTime(this.clock.now());
      await this.replaceLease('release', current, { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: current.spec?.leaseTransitions ?? 0 });
    } catch (err) {
      // The lease then simply expires; a standby waits leaseDuration instead.
      this.o.onError?.(err);
    }
  }
}
