import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FakeClock, settle } from '../../test/support/fake-clock.js';
import { parseAgentConfig, type MonitorConfig } from '../config/agent.js';
import { buildSnapshot, type DropSnapshot } from '../domain/snapshot.js';
import type { Capabilities } from '../domain/types.js';
import { DwoError } from '../runtime/errors.js';
import type { NodeReport } from './publish.js';
import { runAgent, type AgentMonitor, type PolicyInfo } from './run.js';

const caps: Capabilities = { tracefs: { available: true, writable: true }, kfreeSkb: { available: true, reasonField: true }, kallsyms: { visible: true }, histTriggers: false, dropMonitor: false, ethtool: false };

/** A monitor whose windows hold `perWindow()` NO_SOCKET drops; records close(). */
class FakeMonitor implements AgentMonitor {
  closed = false;
  taken = 0;
  private start: number;
  constructor(
    private readonly clock: FakeClock,
    private readonly perWindow: () => number,
    readonly sourceInfo = { kind: 'tracefs-ring', reason: 'test' },
  ) {
    this.start = clock.now();
  }
  async snapshot(): Promise<DropSnapshot> {
    const end = this.clock.now();
    const count = this.perWindow();
    this.taken += count;
    const s = buildSnapshot({
      kernel: { release: 'r', machine: 'm' },
      source: { kind: 'tracefs-ring', reason: '' },
      capabilities: caps,
      ignoredReasons: [],
      startMs: this.start,
      endMs: end,
      sites: count > 0 ? [{ location: 0xffffffff81000010n, reasonCode: 3, reason: 'NO_SOCKET', count }] : [],
      symbolize: () => ({ symbol: '__udp4_lib_rcv', offset: 0x10, size: 0x100 }),
      monitor: { lostEvents: 0, parseErrors: 0 },
    });
    this.start = end;
    return s;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function harness(opts: { policies?: (PolicyInfo | undefined)[]; failWrites?: () => boolean; perWindow?: () => number; startMonitor?: (c: MonitorConfig) => Promise<AgentMonitor>; sources?: string; metricsOnly?: boolean } = {}) {
  const clock = new FakeClock();
  const identity = opts.metricsOnly === true ? { metricsOnly: true } : { policy: 'sensors', nodeName: 'node-a' };
  const config = parseAgentConfig({ ...identity, reportInterval: '15s', heartbeatInterval: '60s', metricsBindAddress: '127.0.0.1:0', ...(opts.sources ? { sources: opts.sources } : {}) });
  const written: NodeReport[] = [];
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as { msg: string });
      cb();
    },
  });
  const policies = [...(opts.policies ?? [{ generation: 1 }])];
  let lastPolicy: PolicyInfo | undefined = policies[0];
  const monitor = new FakeMonitor(clock, opts.perWindow ?? (() => 10));
  const stop = new AbortController();
  let port = 0;
  let policyReads = 0;
  const publish = {
    policy: 'sensors',
    nodeName: 'node-a',
    sink: {
      async write(r: NodeReport) {
        if (opts.failWrites?.()) throw new DwoError('DWO_E_API_UNAVAILABLE', 'connect ECONNREFUSED');
        written.push(r);
      },
    },
    readPolicy: async () => {
      policyReads++;
      if (policies.length > 0) lastPolicy = policies.shift();
      return lastPolicy;
    },
  };
  const done = runAgent({
    config,
    version: '0.1.0',
    ...(opts.metricsOnly === true ? {} : { publish }),
    onListening: (p) => (port = p),
    logger: pino({ level: 'debug' }, stream),
    signal: stop.signal,
    clock,
    startMonitor: opts.startMonitor ?? (async () => monitor),
  });
  const windows = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await settle(10);
      await clock.advance(15_000);
      await settle(10);
    }
  };
  return { clock, written, lines, monitor, stop, done, windows, port: () => port, policyReads: () => policyReads };
}

const drops = (r: NodeReport | undefined) => r?.status.totals?.drops ?? 0;

describe('runAgent', () => {
  it('metrics only: counts every window into /metrics, reads no policy, writes no report', async () => {
    const h = harness({ metricsOnly: true });
    await h.windows(3);
    const body = await (await fetch(`http://127.0.0.1:${h.port()}/metrics`)).text();
    // 3 windows of 10 drops each, all seen by the metrics (the fake monitor's drops are transport layer).
    expect(body).toMatch(/^dropwatch_layer_drops_total\{layer="transport"\} 30$/m);
    expect(body).not.toMatch(/^dropwatch_report_writes_total\{/m);
    const health = await fetch(`http://127.0.0.1:${h.port()}/healthz`);
    expect(health.status).toBe(200);
    h.stop.abort();
    await h.done;
    expect(h.written).toEqual([]);
    expect(h.policyReads()).toBe(0);
    expect(h.monitor.closed).toBe(true);
    expect(h.lines.at(-1)).toMatchObject({ msg: 'Agent stopped', mode: 'metrics-only', writes: 0 });
  });

  it('writes the first window, heartbeats, logs one line per write, and flushes on shutdown', async () => {
    const h = harness();
    await h.windows(5); // first write at 15 s, then quiet until the 60 s heartbeat (at 75 s)
    expect(h.written.map((r) => r.status.policyGeneration)).toEqual([1, 1]);
    expect(h.written.map(drops)).toEqual([10, 40]);
    await h.windows(1);
    h.stop.abort();
    await h.done;
    expect(h.monitor.closed).toBe(true);
    // Nothing lost: every drop the monitor saw was written (the last two windows by the final write).
    expect(h.written.reduce((a, r) => a + drops(r), 0)).toBe(h.monitor.taken);
    expect(h.written.at(-1)?.name).toBe('sensors.node-a');
    expect(h.lines.filter((l) => l.msg === 'Wrote DropWatchNodeReport').map((l) => l['reason'])).toEqual(['first', 'heartbeat', expect.stringMatching(/^(material|final)$/)]);
    expect(h.lines.at(-1)).toMatchObject({ msg: 'Agent stopped', policy: 'sensors', node: 'node-a', writes: 3 });
  });

  it('re-reads the policy on the heartbeat and reports the new generation', async () => {
    const h = harness({ policies: [{ generation: 1 }, { generation: 4 }] });
    await h.windows(5);
    expect(h.written.map((r) => r.status.policyGeneration)).toEqual([1, 4]);
    h.stop.abort();
    await h.done;
  });

  it('keeps running when the policy is gone, and says so once', async () => {
    const h = harness({ policies: [undefined] });
    await h.windows(6);
    expect(h.lines.filter((l) => /DropWatchPolicy not found/.test(l.msg))).toHaveLength(1);
    expect(h.written.length).toBeGreaterThan(0);
    h.stop.abort();
    await h.done;
    expect(h.monitor.closed).toBe(true);
  });

  it('keeps the counts while writes fail and writes them all once the API is back', async () => {
    let failing = true;
    const h = harness({ failWrites: () => failing });
    await h.windows(8);
    expect(h.written).toHaveLength(0);
    expect(h.lines.filter((l) => l.msg.startsWith('Writing DropWatchNodeReport failed')).length).toBeGreaterThan(0);
    failing = false;
    await h.windows(6);
    h.stop.abort();
    await h.done;
    expect(h.written.reduce((a, r) => a + drops(r), 0)).toBe(h.monitor.taken);
  });

  it('falls back to counters when only the tracepoint was asked for and tracefs is unusable', async () => {
    const asked: string[] = [];
    const h = harness({
      sources: 'tracepoint,counters',
      startMonitor: async (c) => {
        asked.push(c.source);
        if (c.source === 'tracefs') throw new DwoError('DWO_E_TRACEFS_PERMISSION', 'tracefs is not writable');
        return new FakeMonitor(new FakeClock(), () => 0, { kind: 'counters-only', reason: 'counters only' });
      },
    });
    await settle(10);
    h.stop.abort();
    await h.done;
    expect(asked).toEqual(['tracefs', 'counters']);
    expect(h.lines.some((l) => l.msg === 'No kernel drop source on this node; reporting counters only' && l['code'] === 'DWO_E_TRACEFS_PERMISSION')).toBe(true);
  });

  it('does not fall back when the policy enabled hist triggers (auto already degrades)', async () => {
    const h = harness({ startMonitor: async () => Promise.reject(new DwoError('DWO_E_NO_KFREE_SKB', 'no skb:kfree_skb event')) });
    await expect(h.done).rejects.toMatchObject({ code: 'DWO_E_NO_KFREE_SKB' });
  });
});
