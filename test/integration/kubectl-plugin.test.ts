// `kubectl dropwatch` on the real control plane, run the way users run it: through kubectl's plugin
// discovery (an executable kubectl-dropwatch on PATH, KUBECONFIG in the environment). The real
// operator (in-process) turns reports from replay agents (recorded snapshots through the agent's
// real report path) into PacketLoss conditions, Events and policy status; one more report is
// written with an old heartbeat, and one selected node never reports. Checks the nodes table
// (order, states, columns), -o json, the node view (sites, ladder, hints, condition, Events), the
// fleet top (sums across nodes, overlapping policies counted once), and the error paths.
// Needs `npx tsc -p tsconfig.build.json` first (it runs dist/).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOperatorConfig } from '../../src/config/operator.js';
import { toReportStatus } from '../../src/domain/report.js';
import type { DropSnapshot } from '../../src/domain/snapshot.js';
import { runOperator, type RunningOperator } from '../../src/operator/main.js';
import { ensureCluster, repoRoot, writeTokenKubeconfig, type Cluster } from './cluster.js';
import { eventually } from './helpers/wait.js';

const NS = 'dwo-plugin-test';
const LABEL = 'dwo-plugin-test';
const P1 = 'plug-sensors'; // thresholds: judges the nodes
const P2 = 'plug-span'; // no thresholds, overlaps P1 on the hot node
const NODES = { hot: 'plug-hot', warm: 'plug-warm', cool: 'plug-cool', stale: 'plug-stale', silent: 'plug-silent' } as const;
const WARNING = 1000;
const SCALE = { hot: 10, warm: 1, cool: 0.2, stale: 3 } as const;
const REPLAY = path.join(repoRoot, 'test/integration/helpers/replay-agent.mjs');
const ENTRY = path.join(repoRoot, 'dist/cli/kubectl-dropwatch.js');
const RECORDED = path.join(repoRoot, 'test/fixtures/snapshots/udp-no-socket.json');

let cluster: Cluster;
let tmp: string;
let pluginDir: string;
let operator: RunningOperator | undefined;
const replays: ChildProcess[] = [];
let fixture: DropSnapshot;
let fixtureFile: string;

/** The recorded snapshot plus an actionable site (a full UDP receive buffer) of ~120 drops/s. */
function withSocketDrops(recorded: DropSnapshot): DropSnapshot {
  const seconds = recorded.window.seconds;
  const count = 480;
  const rate = Math.round((count / seconds) * 1000) / 1000;
  const site = {
    symbol: '__udp_enqueue_schedule_skb', offset: 0x1a0, size: 0x2c0, address: '0xffffffff82047a10', location: '__udp_enqueue_schedule_skb+0x1a0/0x2c0',
    reason: 'SOCKET_RCVBUFF', layer: 'socket' as const, classifiedBy: 'reason' as const, actionable: true, count, rate,
    hint: 'socket receive buffer full: raise net.core.rmem_max and rmem_default (or SO_RCVBUF in the app) and make the reader faster',
  };
  const drops = recorded.totals.drops + count;
  return {
    ...recorded,
    totals: { ...recorded.totals, drops, dropsPerSecond: Math.round((drops / seconds) * 1000) / 1000, actionableDropsPerSecond: rate },
    ladder: recorded.ladder.map((l) => (l.layer === 'socket' ? { ...l, drops: l.drops + count, rate: Math.round((l.rate + rate) * 1000) / 1000, from: 'tracepoint' as const } : l)),
    drops: [...recorded.drops, site],
  };
}

/** A figure as the replay agent writes it: scaled and rounded to 3 decimals (twice, as it does). */
const scaled = (x: number, scale: number): number => Math.round(Math.round(x * scale * 1000) / 1000 * 1000) / 1000;
const siteRate = (reason: string): number => fixture.drops.find((d) => d.reason === reason)?.rate ?? Number.NaN;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `kubectl ARGS` with our plugin directory first on PATH and KUBECONFIG set, as a user would. */
function kubectlPlugin(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      path.join(cluster.binDir, 'kubectl'),
      [...args],
      { env: { ...process.env, PATH: `${pluginDir}:${cluster.binDir}:${process.env['PATH'] ?? ''}`, KUBECONFIG: cluster.kubeconfig, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function dropwatch(...args: string[]): Promise<string> {
  const r = await kubectlPlugin(['dropwatch', ...args]);
  if (r.code !== 0) throw new Error(`kubectl dropwatch ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

interface Row {
  node: string;
  policy: string;
  state: string;
  dropsPerSecond?: number;
  actionablePerSecond?: number;
  topLayer?: string;
  topSite?: string;
  lostEvents?: number;
  ageSeconds?: number;
  condition?: { status: string; reason: string };
}

function policy(name: string, thresholds: boolean): object {
  return {
    apiVersion: 'dropwatch.dev/v1alpha1',
    kind: 'DropWatchPolicy',
    metadata: { name },
    spec: {
      nodeSelector: { matchLabels: name === P1 ? { [LABEL]: 'sensor' } : { [LABEL]: 'sensor', 'dropwatch.dev/span': 'true' } },
      samplingInterval: '1s',
      reportInterval: '2s',
      heartbeatInterval: '10s',
      ...(thresholds ? { thresholds: [{ name: 'kernel-drops', metric: 'dropsPerSecond', warning: WARNING, critical: 1_000_000, clear: WARNING / 2, for: '0s' }] } : {}),
    },
  };
}

function startReplay(policyName: string, scale: number, file: string, ...nodes: string[]): void {
  const child = spawn(
    process.execPath,
    [REPLAY, '--kubeconfig', cluster.kubeconfig, '--policy', policyName, '--fixture', file, '--heartbeat-seconds', '4', '--scale', String(scale), ...nodes],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  replays.push(child);
}

async function forceDelete(kind: string, name: string): Promise<void> {
  const r = await cluster.kubectlResult(['get', kind, name, '-o', 'name', '--ignore-not-found']);
  if (r.stdout.trim() === '') return;
  await cluster.kubectlResult(['patch', kind, name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  await cluster.kubectlResult(['delete', kind, name, '--wait=false', '--ignore-not-found']);
}

async function cleanup(): Promise<void> {
  for (const p of [P1, P2]) await forceDelete('dwp', p);
  const reports = (await cluster.kubectl(['get', 'dwnr', '-o', 'name'])).split('\n').filter((n) => /\/plug-(sensors|span)\./.test(n));
  if (reports.length > 0) await cluster.kubectlResult(['delete', ...reports, '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'node', ...Object.values(NODES), '--ignore-not-found']);
  // Events outlive their objects: drop ours, so the node view shows only this run's.
  for (const n of [...Object.values(NODES), P1, P2]) {
    await cluster.kubectlResult(['delete', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${n}`, '--ignore-not-found']);
  }
  await cluster.kubectlResult(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

/** Writes the stale node's report as its agent would have, ten minutes ago. */
async function writeStaleReport(): Promise<void> {
  const then = new Date(Date.now() - 10 * 60_000);
  const x = SCALE.stale;
  const snap: DropSnapshot = {
    ...fixture,
    window: { start: new Date(then.getTime() - fixture.window.seconds * 1000).toISOString(), end: then.toISOString(), seconds: fixture.window.seconds },
    totals: { ...fixture.totals, drops: fixture.totals.drops * x, dropsPerSecond: fixture.totals.dropsPerSecond * x },
    ladder: fixture.ladder.map((l) => ({ ...l, drops: l.drops * x, rate: l.rate * x })),
    drops: fixture.drops.map((d) => ({ ...d, count: d.count * x, rate: d.rate * x })),
  };
  const name = `${P1}.${NODES.stale}`;
  const obj = { apiVersion: 'dropwatch.dev/v1alpha1', kind: 'DropWatchNodeReport', metadata: { name }, spec: { policy: P1, nodeName: NODES.stale } };
  await cluster.kubectl(['apply', '--server-side', '--field-manager=dropwatch-agent', '-f', '-'], JSON.stringify(obj));
  const status = toReportStatus(snap, { agentVersion: 'test', policyGeneration: 1, now: then });
  await cluster.kubectl(['apply', '--server-side', '--field-manager=dropwatch-agent', '--subresource=status', '-f', '-'], JSON.stringify({ ...obj, status }));
}

beforeAll(async () => {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run \`make build\` first`);
  cluster = ensureCluster();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dwo-plugin-'));
  // kubectl's plugin discovery: an executable named kubectl-dropwatch on PATH.
  pluginDir = path.join(tmp, 'bin');
  const wrapper = path.join(pluginDir, 'kubectl-dropwatch');
  mkdirSync(pluginDir);
  writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${ENTRY}" "$@"\n`);
  chmodSync(wrapper, 0o755);

  fixture = withSocketDrops(JSON.parse(readFileSync(RECORDED, 'utf8')) as DropSnapshot);
  fixtureFile = path.join(tmp, 'udp-with-rcvbuf.json');
  writeFileSync(fixtureFile, JSON.stringify(fixture));

  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=dwo-test', '-f', path.join(repoRoot, 'crds')]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/dropwatchpolicies.dropwatch.dev', 'crd/dropwatchnodereports.dropwatch.dev']);
  await cleanup();
  await cluster.kubectl(['create', 'namespace', NS]);
  await cluster.kubectl(['create', 'serviceaccount', 'dropwatch-agent', '-n', NS]);
  for (const [key, name] of Object.entries(NODES)) {
    const labels: Record<string, string> = { [LABEL]: 'sensor', 'kubernetes.io/hostname': name, ...(key === 'hot' ? { 'dropwatch.dev/span': 'true' } : {}) };
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels, annotations: { 'kwok.x-k8s.io/node': 'fake' } } }));
  }
  const logger = pino({ level: 'info' }, pino.destination({ dest: path.join(tmp, 'operator.log'), sync: true }));
  operator = await runOperator(
    parseOperatorConfig({ kubeconfig: cluster.kubeconfig, namespace: NS, agentImage: 'registry.invalid/dropwatch-operator:test', identity: 'plugin-test', resyncMs: 60_000 }),
    { version: '0.1.0', logger },
  );
  await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(policy(P1, true)));
  await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(policy(P2, false)));
  await writeStaleReport();
  startReplay(P1, SCALE.hot, fixtureFile, NODES.hot);
  startReplay(P1, SCALE.warm, fixtureFile, NODES.warm);
  startReplay(P1, SCALE.cool, RECORDED, NODES.cool);
  startReplay(P2, SCALE.hot, fixtureFile, NODES.hot);
  // The operator's verdicts, as the plugin will show them.
  await eventually('PacketLoss on every reporting node', 60_000, async () => {
    const want: Record<string, string> = { [NODES.hot]: 'True', [NODES.warm]: 'False', [NODES.cool]: 'False', [NODES.stale]: 'Unknown' };
    for (const [n, status] of Object.entries(want)) {
      const j = JSON.parse(await cluster.kubectl(['get', 'node', n, '-o', 'json'])) as { status: { conditions?: { type: string; status: string }[] } };
      if (j.status.conditions?.find((c) => c.type === 'PacketLoss')?.status !== status) return false;
    }
    return true;
  }, 500);
}, 300_000);

afterAll(async () => {
  for (const c of replays) c.kill('SIGTERM');
  await Promise.all(replays.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  await operator?.stop().catch(() => undefined);
  if (cluster) await cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe('kubectl dropwatch (through kubectl plugin discovery)', () => {
  it('is listed by `kubectl plugin list`', async () => {
    const r = await kubectlPlugin(['plugin', 'list']);
    expect(r.stdout).toContain(path.join(pluginDir, 'kubectl-dropwatch'));
  });

  it('nodes: worst drop rate first, with the operator\'s verdicts', async () => {
    const out = await dropwatch('nodes');
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NODE\s+POLICY\s+STATE\s+DROPS\/S\s+ACTIONABLE\/S\s+TOP LAYER\s+TOP SITE\s+LOST\s+AGE$/);
    const rows = lines.slice(1).map((l) => l.split(/\s{3,}/));
    // node, policy, state in order: hot twice (two policies), the stale one (rate x3), warm, cool, then never reported.
    expect(rows.map((r) => [r[0], r[1], r[2]])).toEqual([
      [NODES.hot, P1, 'Warning'],
      [NODES.hot, P2, 'Reporting'],
      [NODES.stale, P1, 'STALE'],
      [NODES.warm, P1, 'Healthy'],
      [NODES.cool, P1, 'Healthy'],
      [NODES.silent, P1, 'NO REPORT'],
    ]);
    const hot = rows[0] ?? [];
    expect(Number(hot[3])).toBeCloseTo(scaled(fixture.totals.dropsPerSecond, SCALE.hot), -1);
    expect(Number(hot[4])).toBeCloseTo(scaled(siteRate('SOCKET_RCVBUFF'), SCALE.hot), -1);
    expect(hot.slice(5, 8)).toEqual(['transport', '__udp4_lib_rcv+0x4bc (NO_SOCKET)', '0']);
    expect(rows[2]?.[8]).toMatch(/^(9m|10m|11m)/);
    expect(rows[5]?.slice(3)).toEqual(['-', '-', '-', '-', '-', '-']);

    const byName = (await dropwatch('nodes', '--sort', 'name', '--no-headers')).trimEnd().split('\n').map((l) => l.split(/\s+/)[0]);
    expect(byName).toEqual([NODES.cool, NODES.hot, NODES.hot, NODES.silent, NODES.stale, NODES.warm]);

    const wide = await dropwatch('nodes', '-o', 'wide', '--policy', P1);
    expect(wide.split('\n')[0]).toMatch(/KERNEL\s+SOURCES\s+MAX LOSS %\s+CONDITION$/);
    expect(wide).toContain('PacketLoss=True (DropThresholdWarning)');
    expect(wide).toContain(fixture.kernel.release);
    expect(wide).not.toContain(P2);
  });

  it('nodes -o json: one object per row with numbers and the condition', async () => {
    const { nodes } = JSON.parse(await dropwatch('nodes', '-o', 'json')) as { nodes: Row[] };
    expect(nodes).toHaveLength(6);
    const hot = nodes.find((n) => n.node === NODES.hot && n.policy === P1);
    expect(hot).toMatchObject({ state: 'Warning', topLayer: 'transport', topSite: '__udp4_lib_rcv+0x4bc (NO_SOCKET)', lostEvents: 0, condition: { status: 'True', reason: 'DropThresholdWarning' } });
    expect(hot?.dropsPerSecond).toBeCloseTo(scaled(fixture.totals.dropsPerSecond, SCALE.hot), 2);
    // Only the SOCKET_RCVBUFF site is actionable; NO_SOCKET and QUEUE_PURGE are benign.
    expect(hot?.actionablePerSecond).toBeCloseTo(scaled(siteRate('SOCKET_RCVBUFF'), SCALE.hot), 2);
    expect(nodes.find((n) => n.node === NODES.stale)).toMatchObject({ state: 'STALE', condition: { status: 'Unknown', reason: 'DropReportStale' } });
    expect(nodes.find((n) => n.node === NODES.stale)?.ageSeconds).toBeGreaterThanOrEqual(600);
    expect(nodes.find((n) => n.node === NODES.silent)).toEqual(expect.objectContaining({ state: 'NO REPORT', policy: P1 }));
    expect(nodes.find((n) => n.node === NODES.silent)?.dropsPerSecond).toBeUndefined();

    const yaml = await dropwatch('nodes', '-o', 'yaml', '--policy', P2);
    expect(yaml).toMatch(/^nodes:\n {2}- node: plug-hot\n {4}policy: plug-span\n {4}state: Reporting\n/);
  });

  it('node NAME: header, top sites, ladder, interfaces, hints, condition and Events', async () => {
    const out = await eventually('the DropThresholdExceeded Event in the node view', 20_000, async () => {
      const o = await dropwatch('node', NODES.hot);
      return o.includes('DropThresholdExceeded') ? o : undefined;
    });
    // One section per policy covering the node.
    expect(out.match(/^Node: {8}plug-hot$/gm)).toHaveLength(2);
    expect(out).toMatch(new RegExp(`^Policy: +${P1} \\(report ${P1}\\.${NODES.hot}\\)$`, 'm'));
    expect(out).toMatch(/^State: +Warning$/m);
    expect(out).toContain(`Kernel:      ${fixture.kernel.release}`);
    // The site table, busiest first, with the rates the agent wrote.
    const table = out.split('\n').filter((l) => /^\s+\d+\s+[\d.]+\s+(transport|socket)\s/.test(l));
    expect(table.slice(0, 3).map((l) => l.trim().split(/\s+/).slice(2, 5))).toEqual([
      ['transport', 'NO_SOCKET', '__udp4_lib_rcv+0x4bc'],
      ['socket', 'SOCKET_RCVBUFF', '__udp_enqueue_schedule_skb+0x1a0'],
      ['socket', 'QUEUE_PURGE', 'sk_stream_kill_queues+0x57'],
    ]);
    expect(Number(table[0]?.trim().split(/\s+/)[0])).toBe(Math.round(1500 * SCALE.hot));
    // The ladder, wire to application.
    const ladder = out.split('\n')[out.split('\n').indexOf('loss ladder (wire -> application):') + 1] ?? '';
    expect(ladder.split('|').map((s) => s.trim().split(' ')[0])).toEqual(['nic', 'driver', 'backlog', 'netfilter', 'ip', 'transport', 'socket', 'capture']);
    expect(ladder).toContain(`transport ${Math.round(scaled(fixture.ladder.find((l) => l.layer === 'transport')?.rate ?? 0, SCALE.hot))}/s`);
    expect(out).toMatch(/^softnet: dropped \d+, time_squeeze \d+, flow_limit \d+$/m);
    expect(out).toMatch(/^INTERFACE\s+RX PACKETS\s+DROPS\s+LOSS %\s+COUNTERS\nlo\s+3081\s+0\s+0\.000\s+-\n\(3 idle interfaces not shown\)$/m);
    // Hints: the actionable site first, the benign one marked.
    const hints = out.split('\n').filter((l) => l.startsWith('  - '));
    expect(hints[0]).toContain('__udp_enqueue_schedule_skb+0x1a0 (SOCKET_RCVBUFF): socket receive buffer full: raise net.core.rmem_max');
    expect(hints.some((h) => h.includes('(NO_SOCKET): (benign) no socket listening'))).toBe(true);
    expect(out).toMatch(/^PacketLoss: +True \(DropThresholdWarning\) warning: threshold kernel-drops of policy plug-sensors/m);
    expect(out).toMatch(/^\s+Warning\s+DropThresholdExceeded\s/m);

    const one = await dropwatch('node', NODES.hot, '--policy', P2);
    expect(one.match(/^Node: /gm)).toHaveLength(1);
    expect(one).toMatch(/^State: +Reporting$/m);

    const json = JSON.parse(await dropwatch('node', NODES.warm, '-o', 'json')) as {
      node: string;
      reports: { row: Row; sites: { reason: string; actionable: boolean }[]; ladder: { layer: string; rate: number }[]; hints: { hint: string }[] }[];
      condition: { status: string };
      events: unknown[];
    };
    expect(json.node).toBe(NODES.warm);
    expect(json.reports).toHaveLength(1);
    expect(json.reports[0]?.row).toMatchObject({ state: 'Healthy', policy: P1 });
    expect(json.reports[0]?.sites.map((s) => [s.reason, s.actionable])).toEqual([['NO_SOCKET', false], ['SOCKET_RCVBUFF', true], ['QUEUE_PURGE', false]]);
    expect(json.reports[0]?.ladder).toHaveLength(8);
    expect(json.condition.status).toBe('False');
    expect(Array.isArray(json.events)).toBe(true);
  });

  it('top: sites summed across nodes, a node under two policies counted once, stale reports left out', async () => {
    const top = JSON.parse(await dropwatch('top', '-o', 'json')) as {
      sites: { symbol: string; reason: string; nodes: number; dropsPerSecond: number; worstNode: string; actionable: boolean; hint?: string }[];
      reports: number;
      nodes: number;
      staleReports: number;
    };
    expect(top).toMatchObject({ reports: 4, nodes: 3, staleReports: 1 });
    expect(top.sites.map((s) => [s.reason, s.nodes, s.worstNode])).toEqual([
      ['NO_SOCKET', 3, NODES.hot],
      ['SOCKET_RCVBUFF', 2, NODES.hot],
      ['QUEUE_PURGE', 3, NODES.hot],
    ]);
    const noSocket = siteRate('NO_SOCKET');
    // hot once (not once per policy) + warm + cool; the stale node's figures are not in it.
    expect(top.sites[0]?.dropsPerSecond).toBeCloseTo(scaled(noSocket, SCALE.hot) + scaled(noSocket, SCALE.warm) + scaled(noSocket, SCALE.cool), 2);
    expect(top.sites[1]?.dropsPerSecond).toBeCloseTo(scaled(siteRate('SOCKET_RCVBUFF'), SCALE.hot) + scaled(siteRate('SOCKET_RCVBUFF'), SCALE.warm), 2);
    expect(top.sites[1]).toMatchObject({ actionable: true });

    const text = (await dropwatch('top', '-n', '2')).trimEnd().split('\n');
    expect(text[0]).toMatch(/^DROPS\/S\s+NODES\s+LAYER\s+SITE\s+WORST NODE\s+HINT$/);
    expect(text.slice(1, 3).map((l) => l.trim().split(/\s{3,}/).slice(1, 4))).toEqual([
      ['3', 'transport', '__udp4_lib_rcv+0x4bc (NO_SOCKET)'],
      ['2', 'socket', '__udp_enqueue_schedule_skb+0x1a0 (SOCKET_RCVBUFF)'],
    ]);
    expect(text[3]).toBe('');
    expect(text[4]).toBe('4 fresh reports from 3 nodes; 1 stale left out');

    const onlyP2 = JSON.parse(await dropwatch('top', '--policy', P2, '-o', 'json')) as { sites: { nodes: number; worstNode: string }[]; reports: number };
    expect(onlyP2.reports).toBe(1);
    expect(onlyP2.sites.every((s) => s.nodes === 1 && s.worstNode === NODES.hot)).toBe(true);
  });

  it('fails with a code, the fix and a non-zero exit', async () => {
    const unknown = await kubectlPlugin(['dropwatch', 'node', 'no-such-node']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('error DWO_E_REPORT_NOT_FOUND: no DropWatchNodeReport for node no-such-node; no Node named no-such-node exists either');
    expect(unknown.stderr).toContain('fix: List the nodes that report with `kubectl dropwatch nodes`');

    const silent = await kubectlPlugin(['dropwatch', 'node', NODES.silent]);
    expect(silent.code).toBe(4);
    expect(silent.stderr).toContain('the Node exists, but no agent reports for it');

    const usage = await kubectlPlugin(['dropwatch', 'nodez']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('error DWO_E_USAGE: unknown command "nodez"');
    const badFlag = await kubectlPlugin(['dropwatch', 'top', '--sort', 'name']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('top does not take --sort');
    const badOutput = await kubectlPlugin(['dropwatch', 'nodes', '-o', 'table']);
    expect(badOutput.code).toBe(2);

    const help = await kubectlPlugin(['dropwatch', 'node', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('kubectl dropwatch node NAME [--policy P] [-o json|yaml]');

    // API server unreachable: a kubeconfig whose server is a closed port on loopback.
    const kc = readFileSync(cluster.kubeconfig, 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, 'server: https://127.0.0.1:1');
    const deadKc = path.join(tmp, 'unreachable.kubeconfig');
    writeFileSync(deadKc, kc);
    const dead = await kubectlPlugin(['dropwatch', 'nodes'], { KUBECONFIG: deadKc });
    expect(dead.code).toBe(4);
    expect(dead.stderr).toContain('error DWO_E_API_UNAVAILABLE: list DropWatchNodeReports');

    const ctx = await kubectlPlugin(['dropwatch', 'nodes', '--context', 'no-such-context']);
    expect(ctx.code).toBe(2);
    expect(ctx.stderr).toContain('DWO_E_KUBECONFIG');

    // RBAC: a ServiceAccount with no grants is refused the reports.
    await cluster.kubectl(['create', 'serviceaccount', 'nobody', '-n', NS]);
    const token = (await cluster.kubectl(['create', 'token', 'nobody', '-n', NS, '--duration=10m'])).trim();
    const nobodyKc = writeTokenKubeconfig(cluster, path.join(tmp, 'nobody.kubeconfig'), 'nobody', token);
    const forbidden = await kubectlPlugin(['dropwatch', 'nodes'], { KUBECONFIG: nobodyKc });
    expect(forbidden.code).toBe(4);
    expect(forbidden.stderr).toContain('error DWO_E_API_FORBIDDEN: list DropWatchNodeReports');
  });
});
