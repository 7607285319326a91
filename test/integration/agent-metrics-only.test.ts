// `dropwatch-operator agent --metrics-only` on the real kernel: no policy, no API server, only
// /metrics and /healthz (what the daemonset/ kustomize base runs). The drops come from an nftables
// rule in a network namespace this test makes, so the expected count is exact and no other test's
// host counters move.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { cliPath, makeNetns, ourInstances, sendUdp, type Netns } from './helpers/kernel.js';
import { eventually } from './helpers/wait.js';

let agent: ChildProcess | undefined;
let ns: Netns | undefined;

afterEach(async () => {
  if (agent !== undefined && agent.exitCode === null) {
    const exited = new Promise((r) => agent?.once('exit', r));
    agent.kill('SIGKILL');
    await exited;
  }
  agent = undefined;
  ns?.remove();
  ns = undefined;
});

/** The value of one sample line, e.g. `dropwatch_site_drops_total{...reason="NETFILTER_DROP"...}`. */
function sample(body: string, name: string, match: RegExp = /.*/): number {
  let total = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith(name) || !match.test(line)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('agent --metrics-only (real kernel)', () => {
  it('counts nftables drops into /metrics, exactly, and removes its tracefs instance on SIGTERM', async () => {
    ns = makeNetns('mo');
    ns.exec('nft', ['add', 'table', 'inet', 'dwot']);
    ns.exec('nft', ['add', 'chain', 'inet', 'dwot', 'input', '{ type filter hook input priority 0; policy accept; }']);
    ns.exec('nft', ['add', 'rule', 'inet', 'dwot', 'input', 'udp', 'dport', '9999', 'drop']);

    const before = new Set(ourInstances());
    const child = spawn(process.execPath, [cliPath, 'agent', '--metrics-only', '--metrics-bind-address', '127.0.0.1:0', '--sampling-interval', '100ms', '--report-interval', '1s'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent = child;
    let log = '';
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const port = await eventually('the agent to listen', 15_000, () => {
      const m = /"address":"127\.0\.0\.1:(\d+)"/.exec(log);
      return m?.[1] === undefined ? undefined : Number(m[1]);
    });
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // The site counter is labelled by symbol and layer too; sum every NETFILTER_DROP line.
    const netfilter = (body: string): number => sample(body, 'dropwatch_site_drops_total{', /reason="NETFILTER_DROP"/);
    const base = netfilter(await scrape());

    const K = 250;
    expect(await sendUdp('127.0.0.1', 9999, K, { netns: ns.name })).toBe(K);
    const body = await eventually('the drops in /metrics', 15_000, async () => {
      const b = await scrape();
      return netfilter(b) - base >= K ? b : undefined;
    });
    expect(netfilter(body) - base).toBe(K);
    expect(sample(body, 'dropwatch_layer_drops_total{', /layer="netfilter"/)).toBeGreaterThanOrEqual(K);
    expect(sample(body, 'dropwatch_source_info{', /source="tracefs-ring"/)).toBe(1);
    // No report writer in this mode: the write counter has no samples.
    expect(body).not.toMatch(/^dropwatch_report_writes_total\{/m);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(log).toMatch(/"mode":"metrics-only"/);
    expect(log).not.toMatch(/DropWatchPolicy|kubeconfig/i);

    const mine = ourInstances().filter((n) => !before.has(n));
    expect(mine).toHaveLength(1);
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(ourInstances()).not.toContain(mine[0]);
  });
});
