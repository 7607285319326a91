// The monitoring the chart ships, checked with the real Prometheus tools (hack/prometheus.sh):
// the agent's and the operator's real /metrics pass `promtool check metrics` after real drops;
// the alert rules pass `promtool check rules` and `promtool test rules`, and every alert has a
// case that fires and one that must not; every dashboard query parses, and runs on a real
// Prometheus scraping the real agent and operator, where the drop panels show the drops made here.
// Needs root (tracefs, a network namespace, nft), `npx tsc -p tsconfig.build.json` first (it runs
// dist/) and the local control plane (for the operator).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCluster, repoRoot, type Cluster } from './cluster.js';
import { cliPath, makeNetns, sendUdp, type Netns } from './helpers/kernel.js';
import { eventually } from './helpers/wait.js';

const RULES = path.join(repoRoot, 'charts/dropwatch-operator/files/prometheus-rules.yaml');
const DASHBOARD = path.join(repoRoot, 'charts/dropwatch-operator/files/grafana-dashboard.json');
const RULE_TESTS = path.join(repoRoot, 'monitoring/tests');
const NS = 'dwo-prom-test';
const POLICY = 'dwo-prom-test';
// Inside the test's own network namespace: nothing listens on CLOSED_PORT (NO_SOCKET drops) and
// an nft rule drops everything sent to FILTERED_PORT (NETFILTER_DROP drops).
const CLOSED_PORT = 9;
const FILTERED_PORT = 4000;

let promBin: string;
let tmp: string;
let cluster: Cluster;
let netns: Netns | undefined;
const procs: { name: string; child: ChildProcess; output: () => string }[] = [];

function promtool(args: readonly string[], input?: string): { code: number; out: string } {
  const r = spawnSync(path.join(promBin, 'promtool'), [...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`.trim() };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function start(name: string, cmd: string, args: readonly string[]): void {
  const child = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  procs.push({ name, child, output: () => text });
}

async function stopAll(): Promise<void> {
  await Promise.all(
    procs.splice(0).map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`/metrics on ${port}: HTTP ${res.status}`);
  return res.text();
}

/** Sends a burst to both ports in the netns every 300 ms until the signal aborts. */
async function keepDropping(ns: Netns, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await Promise.all([sendUdp('127.0.0.1', CLOSED_PORT, 300, { netns: ns.name }), sendUdp('127.0.0.1', FILTERED_PORT, 200, { netns: ns.name })]);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** PromQL of a dashboard target with Grafana's variables replaced (All = ".*"). */
function grafanaToPromql(expr: string, rangeSeconds: number): string {
  return expr
    .replace(/\$__rate_interval/g, '15s')
    .replace(/\$__range/g, `${rangeSeconds}s`)
    .replace(/\$\{?(namespace|node|policy)\}?/g, '.*');
}

interface DashTarget {
  refId: string;
  expr: string;
  legendFormat?: string;
}
interface DashPanel {
  id: number;
  type: string;
  title: string;
  targets?: DashTarget[];
}
const panels = (JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: DashPanel[] }).panels.filter((p) => p.type !== 'row');

let agentPort: number;
let operatorPort: number;
const stopDrops = new AbortController();
let dropping: Promise<void> | undefined;

beforeAll(async () => {
  // Builds promtool and prometheus on a cold cache (minutes), a no-op after.
  execFileSync('bash', [path.join(repoRoot, 'hack/prometheus.sh'), 'build'], { stdio: ['ignore', 'inherit', 'inherit'] });
  promBin = execFileSync('bash', [path.join(repoRoot, 'hack/prometheus.sh'), 'bin-dir'], { encoding: 'utf8' }).trim();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dwo-prom-'));
  cluster = ensureCluster();
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=dwo-test', '-f', path.join(repoRoot, 'crds')]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/dropwatchpolicies.dropwatch.dev']);
  await cleanupObjects();
  await cluster.kubectl(['create', 'namespace', NS]);

  netns = makeNetns('prom');
  netns.exec('nft', ['add table inet dwot_prom']);
  netns.exec('nft', ['add chain inet dwot_prom input { type filter hook input priority 0 ; }']);
  netns.exec('nft', [`add rule inet dwot_prom input udp dport ${FILTERED_PORT} drop`]);

  agentPort = await freePort();
  start('agent', process.execPath, [cliPath, 'agent', '--metrics-only', '--metrics-bind-address', `127.0.0.1:${agentPort}`, '--sampling-interval', '500ms', '--report-interval', '1s']);
  operatorPort = await freePort();
  start('operator', process.execPath, [cliPath, 'operator', '--kubeconfig', cluster.kubeconfig, '--namespace', NS, '--agent-image', 'example.invalid/dropwatch-agent:test', '--identity', 'prom-test', '--metrics-bind-address', `127.0.0.1:${operatorPort}`]);
  const policy = {
    apiVersion: 'dropwatch.dev/v1alpha1',
    kind: 'DropWatchPolicy',
    metadata: { name: POLICY },
    // Selects no node: the operator reconciles it (and writes its status) without agents.
    spec: { nodeSelector: { matchLabels: { 'dwo-prom-test': 'no-such-node' } }, thresholds: [{ name: 'any', metric: 'dropsPerSecond', warning: 100 }] },
  };
  await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(policy));
  dropping = keepDropping(netns, stopDrops.signal);
});

async function cleanupObjects(): Promise<void> {
  const r = await cluster.kubectlResult(['get', 'dwp', POLICY, '-o', 'name', '--ignore-not-found']);
  if (r.stdout.trim() !== '') {
    await cluster.kubectlResult(['patch', 'dwp', POLICY, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await cluster.kubectlResult(['delete', 'dwp', POLICY, '--wait=false', '--ignore-not-found']);
  }
  await cluster.kubectlResult(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

afterAll(async () => {
  stopDrops.abort();
  await dropping?.catch(() => undefined);
  if (cluster !== undefined) await cluster.kubectlResult(['delete', 'dwp', POLICY, '--ignore-not-found', '--wait=true', '--timeout=20s']);
  await stopAll();
  netns?.remove();
  if (cluster !== undefined) await cleanupObjects();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('real /metrics pass promtool check metrics', () => {
  it('the agent, after real NO_SOCKET and NETFILTER_DROP drops in a network namespace', async () => {
    const text = await eventually('the agent to count both kinds of drops', 30_000, async () => {
      const t = await scrape(agentPort);
      return /dropwatch_site_drops_total\{[^}]*reason="NO_SOCKET"[^}]*\} [1-9]/.test(t) && /dropwatch_site_drops_total\{[^}]*reason="NETFILTER_DROP"[^}]*\} [1-9]/.test(t) ? t : undefined;
    }, 500);
    // Labelled series are there to be linted, not only the families' headers.
    for (const family of ['dropwatch_layer_drops_total{layer="transport"}', 'dropwatch_layer_drops_total{layer="netfilter"}', 'dropwatch_interface_receive_packets_total{interface=', 'dropwatch_source_info{source=']) {
      expect(text).toContain(family);
    }
    const r = promtool(['check', 'metrics'], text);
    expect(r).toEqual({ code: 0, out: '' });
  });

  it('the operator, leading and reconciling a policy', async () => {
    const text = await eventually('the operator to lead and reconcile', 60_000, async () => {
      const t = await scrape(operatorPort);
      return /^dropwatch_operator_leader 1$/m.test(t) && /dropwatch_operator_reconciles_total\{outcome="success"\} [1-9]/.test(t) && /dropwatch_operator_status_writes_total\{policy=/.test(t) ? t : undefined;
    }, 500);
    expect(text).toContain('dropwatch_operator_reconcile_duration_seconds_bucket{le="0.005"}');
    const r = promtool(['check', 'metrics'], text);
    expect(r).toEqual({ code: 0, out: '' });
  });

  it('promtool check metrics is not a no-op: it flags a badly named counter', () => {
    const r = promtool(['check', 'metrics'], '# HELP dropwatch_drops Drops.\n# TYPE dropwatch_drops counter\ndropwatch_drops 1\n');
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/counter metrics should have "_total" suffix/);
  });
});

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface RuleTestFile {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

describe('alert rules', () => {
  const alerts = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules).flatMap((r) => (r.alert === undefined ? [] : [r.alert]));
  const testFiles = readdirSync(RULE_TESTS).filter((f) => f.endsWith('.yaml')).map((f) => path.join(RULE_TESTS, f));

  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', RULES]);
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('pass promtool test rules', () => {
    expect(testFiles.length).toBeGreaterThan(0);
    const r = promtool(['test', 'rules', ...testFiles]);
    expect(r.out).not.toContain('FAILED');
    expect(r.code, r.out).toBe(0);
  });

  it('every alert has a test case where it fires and one where it must not', () => {
    const firing = new Set<string>();
    const silent = new Set<string>();
    for (const f of testFiles) {
      const t = parse(readFileSync(f, 'utf8')) as RuleTestFile;
      expect(t.rule_files.map((r) => path.resolve(path.dirname(f), r))).toContain(RULES);
      for (const c of t.tests.flatMap((x) => x.alert_rule_test ?? [])) ((c.exp_alerts ?? []).length > 0 ? firing : silent).add(c.alertname);
    }
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    expect(alerts.filter((a) => !firing.has(a))).toEqual([]);
    expect(alerts.filter((a) => !silent.has(a))).toEqual([]);
  });

  it('promtool test rules is not a no-op: a rule file with a lower threshold fails the tests', () => {
    const dir = path.join(tmp, 'mutated');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.join(dir, 'tests'), { recursive: true });
    mkdirSync(path.join(dir, 'rules'), { recursive: true });
    const mutated = readFileSync(RULES, 'utf8').replace(/\) > 100\n/, ') > 10\n');
    expect(mutated).not.toBe(readFileSync(RULES, 'utf8'));
    writeFileSync(path.join(dir, 'rules/rules.yaml'), mutated);
    const t = parse(readFileSync(path.join(RULE_TESTS, 'node.test.yaml'), 'utf8')) as RuleTestFile;
    t.rule_files = ['../rules/rules.yaml'];
    writeFileSync(path.join(dir, 'tests/node.test.yaml'), stringify(t));
    const r = promtool(['test', 'rules', path.join(dir, 'tests/node.test.yaml')]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('node dropping stays silent');
  });
});

describe('grafana dashboard queries', () => {
  const targets = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t })));

  it('every query parses (promtool check rules on them as recording rules)', () => {
    const file = path.join(tmp, 'dashboard-queries.yaml');
    const rules = targets.map(({ panel, target }) => ({ record: `dashboard:panel_${panel.id}_${target.refId}`, expr: grafanaToPromql(target.expr, 60) }));
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = promtool(['check', 'rules', file]);
    expect(r.out).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.code).toBe(0);
  });

  it('every query runs on a real Prometheus scraping the agent and the operator, and shows the drops made here', async () => {
    const port = await freePort();
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [RULES],
      scrape_configs: [
        { job_name: 'dropwatch-agent', static_configs: [{ targets: [`127.0.0.1:${agentPort}`], labels: { namespace: NS, pod: 'agent-test', node: os.hostname() } }] },
        { job_name: 'dropwatch-operator', static_configs: [{ targets: [`127.0.0.1:${operatorPort}`], labels: { namespace: NS, pod: 'operator-test' } }] },
      ],
    };
    writeFileSync(path.join(tmp, 'prometheus.yml'), stringify(config));
    start('prometheus', path.join(promBin, 'prometheus'), [`--config.file=${path.join(tmp, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(tmp, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`]);
    const api = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (body.status !== 'success') throw new Error(`${q}: ${body.error ?? res.status}`);
      return body.data?.result ?? [];
    };
    // Enough scrapes for a 15 s rate window, with drops going on all along.
    await eventually('Prometheus to have 8 s of agent samples', 60_000, async () => (await api('count_over_time(up{job="dropwatch-agent"}[1m]) >= 8')).length > 0, 1000);

    const results = new Map<string, { metric: Record<string, string>; value: [number, string] }[]>();
    for (const { panel, target } of targets) results.set(`${panel.title} ${target.refId}`, await api(grafanaToPromql(target.expr, 60)));
    const value = (key: string): number => Number(results.get(key)?.[0]?.value[1] ?? NaN);

    expect(value('Loss ladder: drops/s by layer (wire → application) F')).toBeGreaterThan(0); // transport: NO_SOCKET
    expect(value('Loss ladder: drops/s by layer (wire → application) D')).toBeGreaterThan(0); // netfilter: the nft rule
    const sites = results.get('Top drop sites (kfree_skb) over the time range A') ?? [];
    expect(sites.map((s) => s.metric['reason'])).toEqual(expect.arrayContaining(['NO_SOCKET', 'NETFILTER_DROP']));
    expect(sites.find((s) => s.metric['reason'] === 'NO_SOCKET')?.metric['layer']).toBe('transport');
    expect((results.get('Drops/s by node A') ?? []).map((s) => s.metric['node'])).toEqual([os.hostname()]);
    expect(results.get('Leader and writes A')?.map((s) => [s.metric['pod'], s.value[1]])).toEqual([['operator-test', '1']]);
    expect((results.get('Operator reconciles by outcome A') ?? []).map((s) => s.metric['outcome'])).toContain('success');
    // The recording rules the alerts read are evaluated by the real server too.
    await eventually('the recording rule for the ladder', 20_000, async () => (await api(`namespace_node_layer:dropwatch_layer_drops:rate5m{layer="transport", node="${os.hostname()}"} > 0`)).length > 0, 1000);
  });
});
