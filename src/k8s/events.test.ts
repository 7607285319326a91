// EventRecorder series logic with a fake clock and an in-memory events API: first repeat written
// at once, later repeats merged and rate-limited, flush, the window, the bounded cache, the
// namespace for cluster-scoped subjects, and a series whose Event expired.
import { ApiException, type EventsV1Event } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../test/support/fake-clock.js';
import type { KubeClients } from './client.js';
import { EventRecorder, type EventInput } from './events.js';

class FakeEvents {
  readonly events = new Map<string, EventsV1Event>();
  readonly writes: string[] = [];

  api(): KubeClients['events'] {
    return {
      createNamespacedEvent: async ({ namespace, body }: { namespace: string; body: EventsV1Event }) => {
        const key = `${namespace}/${body.metadata?.name ?? ''}`;
        if (this.events.has(key)) throw new ApiException(409, 'x', JSON.stringify({ reason: 'AlreadyExists' }), {});
        this.events.set(key, JSON.parse(JSON.stringify(body)) as EventsV1Event);
        this.writes.push(`create ${key}`);
        return body;
      },
      patchNamespacedEvent: async ({ name, namespace, body }: { name: string; namespace: string; body: { series: { count: number } } }) => {
        const key = `${namespace}/${name}`;
        const e = this.events.get(key);
        if (!e) throw new ApiException(404, 'x', JSON.stringify({ reason: 'NotFound', message: 'not found' }), {});
        const merged = { ...e, ...(JSON.parse(JSON.stringify(body)) as object) } as EventsV1Event;
        this.events.set(key, merged);
        this.writes.push(`patch ${key} count=${body.series.count}`);
        return merged;
      },
    } as unknown as KubeClients['events'];
  }
}

const nodeEvent: EventInput = {
  regarding: { apiVersion: 'v1', kind: 'Node', name: 'sensor-1' },
  type: 'Warning',
  reason: 'DropThresholdExceeded',
  action: 'Evaluate',
  note: 'DWO: 1200 drops/s',
};

function setup(opts: { maxSeries?: number } = {}) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const fake = new FakeEvents();
  const errors: unknown[] = [];
  const recorder = new EventRecorder({
    clients: { events: fake.api() },
    reportingController: 'dropwatch.dev/operator',
    reportingInstance: 'op-0',
    clock,
    onError: (e) => errors.push(e),
    ...opts,
  });
  return { clock, fake, errors, recorder };
}

describe('EventRecorder', () => {
  it('creates one Event in default for a Node and folds repeats into its series, rate-limited', async () => {
    const { clock, fake, errors, recorder } = setup();
    await recorder.record(nodeEvent);
    const [created] = [...fake.events.values()];
    expect(created).toMatchObject({
      metadata: { namespace: 'default' },
      reportingController: 'dropwatch.dev/operator',
      reportingInstance: 'op-0',
      action: 'Evaluate',
      reason: 'DropThresholdExceeded',
      type: 'Warning',
      regarding: { apiVersion: 'v1', kind: 'Node', name: 'sensor-1' },
      note: 'DWO: 1200 drops/s',
    });
    expect(String(created?.eventTime)).toMatch(/\.\d{6}Z$/);
    expect(created?.metadata?.name).toMatch(/^sensor-1\.[0-9a-f]+$/);

    await recorder.record(nodeEvent); // first repeat: written at once
    await clock.advance(1000);
    await recorder.record(nodeEvent); // within 30 s of the last write: merged
    await recorder.record(nodeEvent);
    expect(fake.writes).toHaveLength(2);
    await clock.advance(30_000); // the deferred update goes out with the latest count
    expect(fake.writes.at(-1)).toMatch(/count=4$/);
    expect(fake.writes).toHaveLength(3);
    await recorder.record(nodeEvent);
    await recorder.flush();
    expect(fake.writes.at(-1)).toMatch(/count=5$/);
    expect(fake.events.size).toBe(1);
    expect(errors).toEqual([]);
    recorder.stop();
  });

  it('a different note, subject or a repeat after the window makes a new Event', async () => {
    const { clock, fake, recorder } = setup();
    await recorder.record(nodeEvent);
    await recorder.record({ ...nodeEvent, note: 'other' });
    await recorder.record({ ...nodeEvent, regarding: { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: 'ns1' } });
    await clock.advance(11 * 60_000);
    await recorder.record(nodeEvent);
    expect(fake.writes.filter((w) => w.startsWith('create')).map((w) => w.split(' ')[1]?.split('/')[0])).toEqual(['default', 'default', 'ns1', 'default']);
    recorder.stop();
  });

  it('keeps at most maxSeries series', async () => {
    const { recorder } = setup({ maxSeries: 3 });
    for (let i = 0; i < 10; i++) await recorder.record({ ...nodeEvent, note: `n${i}` });
    expect(recorder.size()).toBe(3);
    recorder.stop();
  });

  it('starts a new Event when the series Event is gone', async () => {
    const { fake, errors, recorder } = setup();
    await recorder.record(nodeEvent);
    fake.events.clear();
    await recorder.record(nodeEvent); // the patch finds nothing: reported, the series ends
    expect(errors).toHaveLength(1);
    await recorder.record(nodeEvent);
    expect(fake.writes.filter((w) => w.startsWith('create'))).toHaveLength(2);
    recorder.stop();
  });

  it('cuts notes to 1 kB', async () => {
    const { fake, recorder } = setup();
    await recorder.record({ ...nodeEvent, note: 'é'.repeat(2000) });
    const note = [...fake.events.values()][0]?.note ?? '';
    expect(Buffer.byteLength(note)).toBeLessThanOrEqual(1024);
    expect(note.endsWith('...')).toBe(true);
    recorder.stop();
  });
});
