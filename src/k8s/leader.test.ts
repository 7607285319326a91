// Leader election timing with a fake clock and an in-memory Lease API that enforces
// resourceVersion compare-and-swap like the API server: one leader, takeover bounds after a
// crash and a release, stepping down when renewals fail or another holder appears.
import { ApiException, type V1Lease } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../test/support/fake-clock.js';
import type { KubeClients } from './client.js';
import { LeaderElector } from './leader.js';

/** A one-Lease store with optimistic concurrency; `down` makes every call fail like a dead server. */
class FakeLeases {
  lease: V1Lease | undefined;
  rv = 0;
  down = false;

  private check(): void {
    if (this.down) throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
  }

  private copy(l: V1Lease): V1Lease {
    return JSON.parse(JSON.stringify(l)) as V1Lease;
  }

  api(): KubeClients['coordination'] {
    return {
      readNamespacedLease: async () => {
        this.check();
        if (!this.lease) throw new ApiException(404, 'Unknown API Status Code!', JSON.stringify({ reason: 'NotFound', message: 'leases "x" not found' }), {});
        return this.copy(this.lease);
      },
      createNamespacedLease: async ({ body }: { body: V1Lease }) => {
        this.check();
        if (this.lease) throw new ApiException(409, 'Unknown API Status Code!', JSON.stringify({ reason: 'AlreadyExists' }), {});
        this.lease = { ...this.copy(body), metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
        return this.copy(this.lease);
      },
      replaceNamespacedLease: async ({ body }: { body: V1Lease }) => {
        this.check();
        if (body.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) {
          throw new ApiException(409, 'Unknown API Status Code!', JSON.stringify({ reason: 'Conflict' }), {});
        }
        this.lease = { ...this.copy(body), metadata: { ...body.metadata, resourceVersion: String(++this.rv) } };
        return this.copy(this.lease);
      },
    } as unknown as KubeClients['coordination'];
  }
}

function setup() {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const store = new FakeLeases();
  const log: string[] = [];
  const make = (identity: string) =>
    new LeaderElector({
      clients: { coordination: store.api() },
      namespace: 'ns',
      name: 'lease',
      identity,
      clock,
      random: () => 0.5,
      onStartedLeading: () => void log.push(`${identity}+`),
      onStoppedLeading: () => void log.push(`${identity}-`),
    });
  /** Advances in 100 ms steps until `cond` holds; returns the fake time it took. */
  const until = async (cond: () => boolean, limitMs = 60_000): Promise<number> => {
    const start = clock.now();
    while (!cond()) {
      if (clock.now() - start > limitMs) throw new Error('condition not reached');
      await clock.advance(100);
    }
    return clock.now() - start;
  };
  return { clock, store, log, make, until };
}

describe('LeaderElector', () => {
  it('elects exactly one leader and renews the lease', async () => {
    const { clock, store, make, until } = setup();
    const a = make('a');
    const b = make('b');
    a.start();
    b.start();
    await until(() => a.isLeader() || b.isLeader());
    for (let i = 0; i < 100; i++) {
      expect(Number(a.isLeader()) + Number(b.isLeader())).toBe(1);
      await clock.advance(100);
    }
    const leader = a.isLeader() ? 'a' : 'b';
    expect(store.lease?.spec?.holderIdentity).toBe(leader);
    expect(store.lease?.spec?.leaseDurationSeconds).toBe(10);
    // Renewed at least every retry period (2 s).
    const renewed = new Date(String(store.lease?.spec?.renewTime)).getTime();
    expect(clock.now() - renewed).toBeLessThanOrEqual(2100);
    expect(String(store.lease?.spec?.renewTime)).toMatch(/\.\d{6}Z$/);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('a standby takes over within 12.5 s after the leader stops renewing', async () => {
    const { store, log, make, until } = setup();
    const a = make('a');
    a.start();
    await until(() => a.isLeader());
    const b = make('b');
    b.start();
    await until(() => false, 5000).catch(() => undefined); // b watches the lease for a while
    expect(b.isLeader()).toBe(false);
    await a.stop({ release: false });
    const took = await until(() => b.isLeader());
    expect(took).toBeGreaterThanOrEqual(8_000);
    expect(took).toBeLessThanOrEqual(12_500);
    expect(store.lease?.spec?.leaseTransitions).toBe(1);
    expect(log).toEqual(['a+', 'a-', 'b+']);
    await b.stop();
  });

  it('a release hands over within one retry period', async () => {
    const { store, make, until } = setup();
    const a = make('a');
    a.start();
    await until(() => a.isLeader());
    const b = make('b');
    b.start();
    await until(() => false, 3000).catch(() => undefined);
    await a.stop();
    expect(store.lease?.spec?.holderIdentity).toBe('');
    const took = await until(() => b.isLeader());
    expect(took).toBeLessThanOrEqual(2_300);
    await b.stop();
  });

  it('steps down when it cannot renew within the renew deadline, before others may take over', async () => {
    const { clock, store, log, make, until } = setup();
    const a = make('a');
    a.start();
    await until(() => a.isLeader());
    store.down = true;
    const lastRenew = Date.parse(String(store.lease?.spec?.renewTime));
    await until(() => !a.isLeader());
    const sinceRenew = clock.now() - lastRenew;
    expect(sinceRenew).toBeGreaterThanOrEqual(7_000);
    expect(sinceRenew).toBeLessThan(10_000); // the lease (10 s) has not expired for others yet
    expect(log).toEqual(['a+', 'a-']);
    await a.stop();
  });

  it('steps down at once when the lease shows another holder', async () => {
    const { store, log, make, until } = setup();
    const a = make('a');
    a.start();
    await until(() => a.isLeader());
    const lease = store.lease;
    if (!lease?.spec) throw new Error('no lease');
    store.lease = { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder' }, metadata: { ...lease.metadata, resourceVersion: String(++store.rv) } };
    const took = await until(() => !a.isLeader());
    expect(took).toBeLessThanOrEqual(2_100);
    expect(log).toEqual(['a+', 'a-']);
    await a.stop();
  });

  it('rejects timings where the renew deadline is not below the lease duration', () => {
    const { make } = setup();
    expect(() => make('a')).not.toThrow();
    expect(
      () =>
        new LeaderElector({
          clients: { coordination: new FakeLeases().api() },
          namespace: 'ns',
          name: 'l',
          identity: 'x',
          leaseDurationMs: 5000,
          renewDeadlineMs: 5000,
          onStartedLeading: () => undefined,
          onStoppedLeading: () => undefined,
        }),
    ).toThrow(RangeError);
  });
});
