// The whole story on the real control plane, with real processes only: two `dropwatch-operator
// operator` replicas (built dist/, leader election between them), kwok sensor nodes, a Node for
// this host, the real `dropwatch-operator agent` for this host (real kernel drops from a UDP flood
// to a closed port) and replay agents (recorded snapshot, real report sink) standing in for the
// kwok nodes. Checks what a person sees: Events, the PacketLoss Node condition, `kubectl describe
// node`, `kubectl describe dwp`, `kubectl get dwp`; a kill -9 of the leader hands over without a
// duplicate Event; deleting the policy removes the DaemonSet, the reports and the conditions.
// Needs root and `npx tsc -p tsconfig.build.json` first (it runs dist/).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClients, type KubeClients } from '../../src/k8s/client.js';
import { ensureCluster, repoRoot, writeTokenKubeconfig, type Cluster } from './cluster.js';
import { cliPath, closedUdpPort, ourInstances } from './helpers/kernel.js';
import { eventually } from './helpers/wait.js';

// The namespace deploy/ (agent RBAC and admission policy) is written for.
const NS = 'dropwatch-system';
const POLICY = 'e2e-sensors';
const LABEL = 'dwo-e2e';
// The host's Node has no kwok annotation, so no kubelet serves it: its agent pod is scheduled
// there (the test gives the Node a capacity) but stays Pending. That is expected here; the real
// agent for this node runs as a child process of the test instead, with a token bound to that pod
// (so deploy/'s RBAC and admission policy apply to it as they would in the pod).
const HOST_NODE = 'dwo-e2e-host';
const KWOK = { a: 'dwo-e2e-sensor-a', b: 'dwo-e2e-sensor-b', plain: 'dwo-e2e-plain' } as const;
const OPERATORS = ['e2e-op-1', 'e2e-op-2'] as const;
const REPORT_INTERVAL_MS = 1000;
const HEARTBEAT = '5s';
const FLOOD_RATE = 12_000; // datagrams per second to a closed port: one NO_SOCKET drop each
// Well above what other tests on this host make (bursts of a few thousand NO_SOCKET drops).
const WARNING = 4000;
const CLEAR = 1000;
const FIXTURE = path.join(repoRoot, 'test/fixtures/snapshots/udp-no-socket.json');
const REPLAY = path.join(repoRoot, 'test/integration/helpers/replay-agent.mjs');
const FLOOD = path.join(repoRoot, 'test/integration/helpers/udp-flood.mjs');
const LOGS = path.join(os.tmpdir(), 'dwo-e2e-logs');

let cluster: Cluster;
let clients: KubeClients;
const suiteStart = Math.floor(Date.now() / 1000) * 1000;

/** A child process with its output in LOGS/<name>.log. */
interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}
const procs: Proc[] = [];

function start(name: string, args: readonly string[]): Proc {
  const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const file = createWriteStream(path.join(LOGS, `${name}.log`));
  let text = '';
  const collect = (d: Buffer): void => {
    text += d.toString();
    file.write(d);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => {
    file.end();
    resolve(code);
  }));
  const p: Proc = { name, child, exited, output: () => text };
  procs.push(p);
  return p;
}

const alive = (p: Proc): boolean => p.child.exitCode === null && p.child.signalCode === null;

async function stopProc(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (alive(p)) p.child.kill(signal);
  const timer = setTimeout(() => alive(p) && p.child.kill('SIGKILL'), 5000);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

async function getJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await cluster.kubectl(['get', ...args, '-o', 'json'])) as T;
}

async function exists(...args: string[]): Promise<boolean> {
  const r = await cluster.kubectlResult(['get', ...args, '-o', 'name', '--ignore-not-found']);
  return r.stdout.trim() !== '';
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

async function packetLoss(node: string): Promise<Condition | undefined> {
  const n = await clients.core.readNode({ name: node });
  return n.status?.conditions?.find((c) => c.type === 'PacketLoss');
}

interface OurEvent {
  reason: string;
  type: string;
  note: string;
  kind: string;
  name: string;
  instance: string;
  count: number;
}

/** This run's Events of the operator (Events outlive objects of the same name from earlier runs). */
async function ourEvents(): Promise<OurEvent[]> {
  const list = await clients.events.listNamespacedEvent({ namespace: 'default' });
  return list.items
    .filter((e) => e.reportingController === 'dropwatch.dev/operator' && e.eventTime !== undefined && new Date(e.eventTime).getTime() >= suiteStart)
    .filter((e) => e.regarding?.name === HOST_NODE || e.regarding?.name === POLICY || Object.values(KWOK).includes(e.regarding?.name as never))
    .map((e) => ({
      reason: e.reason ?? '',
      type: e.type ?? '',
      note: e.note ?? '',
      kind: e.regarding?.kind ?? '',
      name: e.regarding?.name ?? '',
      instance: e.reportingInstance ?? '',
      count: e.series?.count ?? 1,
    }));
}

/** Occurrences per "reason kind/name" (a series counts as its count). */
function tally(events: readonly OurEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[`${e.reason} ${e.kind}/${e.name}`] = (out[`${e.reason} ${e.kind}/${e.name}`] ?? 0) + e.count;
  return out;
}

async function leaseHolder(): Promise<string> {
  try {
    const l = await clients.coordination.readNamespacedLease({ name: 'dropwatch-operator', namespace: NS });
    return l.spec?.holderIdentity ?? '';
  } catch {
    return '';
  }
}

function policyManifest(): object {
  return {
    apiVersion: 'dropwatch.dev/v1alpha1',
    kind: 'DropWatchPolicy',
    metadata: { name: POLICY },
    spec: {
      nodeSelector: { matchLabels: { [LABEL]: 'true', 'dropwatch.dev/sensor': 'span' } },
      // A drop monitor belongs on every selected sensor, whatever its taints.
      tolerations: [{ operator: 'Exists' }],
      samplingInterval: '1s',
      reportInterval: '1s',
      heartbeatInterval: '10s',
      thresholds: [{ name: 'kernel-drops', metric: 'dropsPerSecond', warning: WARNING, critical: 50_000, clear: CLEAR, for: '0s' }],
    },
  };
}

async function forceDelete(kind: string, name: string): Promise<void> {
  if (!(await exists(kind, name))) return;
  await cluster.kubectlResult(['patch', kind, name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  await cluster.kubectlResult(['delete', kind, name, '--wait=false', '--ignore-not-found']);
}

async function cleanupObjects(): Promise<void> {
  await forceDelete('dwp', POLICY);
  // No kubelet finishes the deletion of the pod bound to the host's Node: force it.
  await cluster.kubectlResult(['delete', 'pods', '-n', NS, '-l', `dropwatch.dev/policy=${POLICY}`, '--force', '--grace-period=0', '--ignore-not-found']);
  const reports = (await cluster.kubectl(['get', 'dwnr', '-o', 'name'])).split('\n').filter((n) => n.startsWith(`dropwatchnodereport.dropwatch.dev/${POLICY}.`));
  if (reports.length > 0) await cluster.kubectlResult(['delete', ...reports, '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'node', HOST_NODE, ...Object.values(KWOK), '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

/** The part of `kubectl describe` output from the line starting with `from` up to the next top-level heading. */
function section(text: string, from: RegExp): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => from.test(l));
  if (i < 0) return '';
  const j = lines.findIndex((l, k) => k > i && /^\S/.test(l));
  return lines.slice(i, j < 0 ? undefined : j).join('\n');
}

beforeAll(async () => {
  const t0 = Date.now();
  cluster = ensureCluster();
  clients = createKubeClients({ kubeconfigPath: cluster.kubeconfig });
  rmSync(LOGS, { recursive: true, force: true });
  mkdirSync(LOGS, { recursive: true });
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=dwo-test', '-f', path.join(repoRoot, 'crds')]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/dropwatchpolicies.dropwatch.dev', 'crd/dropwatchnodereports.dropwatch.dev']);
  await cleanupObjects();
  await cluster.kubectl(['create', 'namespace', NS]);
  await cluster.kubectl(['apply', '-f', path.join(repoRoot, 'deploy')]);
  const node = (name: string, sensor: boolean, kwok: boolean): object => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      ...(kwok ? { annotations: { 'kwok.x-k8s.io/node': 'fake' } } : {}),
      labels: { [LABEL]: 'true', 'kubernetes.io/hostname': name, ...(sensor ? { 'dropwatch.dev/sensor': 'span' } : {}) },
    },
  });
  for (const n of [node(KWOK.a, true, true), node(KWOK.b, true, true), node(KWOK.plain, false, true), node(HOST_NODE, true, false)]) {
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(n));
  }
  // A capacity, so the scheduler places the host's agent pod there (no kubelet will run it).
  const capacity = { cpu: '8', memory: '32Gi', pods: '110' };
  await cluster.kubectl(['patch', 'node', HOST_NODE, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { capacity, allocatable: capacity } })]);
  await eventually('kwok nodes Ready', 60_000, async () => {
    for (const n of Object.values(KWOK)) {
      const j = await clients.core.readNode({ name: n });
      if (!j.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return false;
    }
    return true;
  });
  console.log(`e2e setup: ${Date.now() - t0} ms`);
}, 300_000);

afterAll(async () => {
  for (const p of [...procs].reverse()) await stopProc(p);
  // An agent killed before it could clean up leaves its tracefs instance: remove ours.
  const pids = new Set(procs.map((p) => p.child.pid));
  for (const inst of ourInstances()) {
    const pid = Number(/^dropwatch-(\d+)-/.exec(inst)?.[1]);
    if (pids.has(pid)) {
      try {
        rmdirSync(path.join('/sys/kernel/tracing/instances', inst));
      } catch {
        // already gone
      }
    }
  }
  if (cluster) await cleanupObjects();
  rmSync(path.join(LOGS, 'agent-kubeconfig'), { force: true });
  console.log(`e2e logs: ${LOGS} (${readdirSync(LOGS).join(', ')})`);
}, 120_000);

describe('end to end: operator, real agent, replay agents, real kernel drops', () => {
  const figures: Record<string, number | string> = {};

  it('runs the whole story', { timeout: 150_000 }, async () => {
    // --- two operator replicas; one leads --------------------------------------------------
    const operators = OPERATORS.map((id) =>
      start(id, [cliPath, 'operator', '--kubeconfig', cluster.kubeconfig, '--namespace', NS, '--agent-image', 'registry.invalid/dropwatch-operator:e2e', '--identity', id, '--log-level', 'debug']),
    );
    const firstLeader = await eventually('a leader', 20_000, async () => {
      const h = await leaseHolder();
      return (OPERATORS as readonly string[]).includes(h) ? h : undefined;
    });

    // --- the policy: DaemonSet on exactly the matching nodes ------------------------------
    await cluster.kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], JSON.stringify(policyManifest()));
    let hostPod = '';
    const pods = await eventually('agent pods: Running on both kwok sensors, bound but Pending on the host', 60_000, async () => {
      const list = await clients.core.listNamespacedPod({ namespace: NS, labelSelector: `dropwatch.dev/policy=${POLICY}` });
      const by = Object.fromEntries(list.items.map((p) => [p.spec?.nodeName ?? '(unscheduled)', p.status?.phase ?? '']));
      hostPod = list.items.find((p) => p.spec?.nodeName === HOST_NODE)?.metadata?.name ?? '';
      return list.items.length === 3 && by[KWOK.a] === 'Running' && by[KWOK.b] === 'Running' && hostPod !== '' ? by : undefined;
    }, 500);
    expect(pods).toEqual({ [KWOK.a]: 'Running', [KWOK.b]: 'Running', [HOST_NODE]: 'Pending' });

    // The agent's credentials as its pod would have them: a token of dropwatch-agent bound to the
    // host's agent pod (and so to the host's Node), never the cluster admin.
    const token = (await cluster.kubectl(['create', 'token', 'dropwatch-agent', '-n', NS, '--bound-object-kind', 'Pod', '--bound-object-name', hostPod, '--duration', '10m'])).trim();
    const agentKubeconfig = writeTokenKubeconfig(cluster, path.join(LOGS, 'agent-kubeconfig'), 'dropwatch-agent', token);
    const whoami = JSON.parse(execFileSync(path.join(cluster.binDir, 'kubectl'), ['--kubeconfig', agentKubeconfig, 'auth', 'whoami', '-o', 'json'], { encoding: 'utf8' })) as {
      status: { userInfo: { username: string; extra?: Record<string, string[]> } };
    };
    expect(whoami.status.userInfo.username).toBe(`system:serviceaccount:${NS}:dropwatch-agent`);
    expect(whoami.status.userInfo.extra?.['authentication.kubernetes.io/node-name']).toEqual([HOST_NODE]);

    // --- agents: the real one for this host, replays for the kwok nodes --------------------
    const agent = start('agent-host', [
      cliPath, 'agent', '--policy', POLICY, '--node-name', HOST_NODE, '--kubeconfig', agentKubeconfig,
      '--sampling-interval', '100ms', '--report-interval', `${REPORT_INTERVAL_MS}ms`, '--heartbeat-interval', HEARTBEAT,
      '--metrics-bind-address', '127.0.0.1:0',
    ]);
    start('replay-agents', [REPLAY, '--kubeconfig', cluster.kubeconfig, '--policy', POLICY, '--fixture', FIXTURE, '--heartbeat-seconds', '5', KWOK.a, KWOK.b]);
    await eventually('the real agent writes its report', 30_000, () => agent.output().includes('Wrote DropWatchNodeReport'));
    const instance = await eventually('the agent tracefs instance', 10_000, () => ourInstances().find((n) => n.startsWith(`dropwatch-${agent.child.pid}-`)));
    for (const n of [HOST_NODE, KWOK.a, KWOK.b]) {
      await eventually(`PacketLoss=False on ${n}`, 20_000, async () => (await packetLoss(n))?.status === 'False');
    }
    expect(await packetLoss(KWOK.plain)).toBeUndefined();

    // --- a drop spike on this host --------------------------------------------------------
    const port = await closedUdpPort();
    const spikeAt = Date.now();
    const flood = start('flood', [FLOOD, '127.0.0.1', String(port), String(FLOOD_RATE), '0']);
    let eventMs = 0;
    let conditionMs = 0;
    await eventually('Warning Event and PacketLoss=True on the host node', 10_000, async () => {
      const [evs, c] = await Promise.all([ourEvents(), packetLoss(HOST_NODE)]);
      if (eventMs === 0 && evs.some((e) => e.reason === 'DropThresholdExceeded' && e.name === HOST_NODE)) eventMs = Date.now() - spikeAt;
      if (conditionMs === 0 && c?.status === 'True') conditionMs = Date.now() - spikeAt;
      return eventMs > 0 && conditionMs > 0;
    }, 50);
    figures['spike -> Warning Event (ms)'] = eventMs;
    figures['spike -> PacketLoss=True (ms)'] = conditionMs;
    // Two report intervals, plus the poll period and one API round trip of slack.
    expect(eventMs).toBeLessThanOrEqual(2 * REPORT_INTERVAL_MS + 300);
    expect(conditionMs).toBeLessThanOrEqual(2 * REPORT_INTERVAL_MS + 300);
    const exceeded = (await ourEvents()).find((e) => e.reason === 'DropThresholdExceeded' && e.kind === 'Node' && e.name === HOST_NODE);
    expect(exceeded).toMatchObject({ type: 'Warning' });
    expect(exceeded?.note).toContain('__udp4_lib_rcv');
    const cond = await packetLoss(HOST_NODE);
    expect(cond).toMatchObject({ status: 'True', reason: 'DropThresholdWarning' });
    expect(cond?.message).toContain(`threshold kernel-drops of policy ${POLICY}`);
    expect(cond?.message).toMatch(/__udp4_lib_rcv\+0x[0-9a-f]+ \(NO_SOCKET\): no socket listening on the destination port/);
    expect((await packetLoss(KWOK.a))?.status).toBe('False');

    // --- what a person reads --------------------------------------------------------------
    const describeNode = await cluster.kubectl(['describe', 'node', HOST_NODE]);
    const conditions = section(describeNode, /^Conditions:/);
    const plLine = conditions.split('\n').find((l) => /^\s+PacketLoss\s/.test(l)) ?? '';
    console.log(`kubectl describe node ${HOST_NODE} (Conditions):\n${conditions}`);
    expect(plLine).toMatch(/PacketLoss\s+True\s+.*DropThresholdWarning\s+/);
    expect(plLine).toMatch(/\d+(\.\d+)?\/s/); // the rate
    expect(plLine).toContain('__udp4_lib_rcv');
    expect(plLine).toContain('no socket listening on the destination port'); // the hint
    const nodeEvents = section(describeNode, /^Events:/);
    expect(nodeEvents).toMatch(/Warning\s+DropThresholdExceeded\s+.*dropwatch\.dev\/operator/);

    const status = await eventually('policy status: 3 reporting, 1 alerting', 10_000, async () => {
      const p = await getJson<{ status?: { nodes?: { matching?: number; reporting?: number; alerting?: number } } }>('dwp', POLICY);
      return p.status?.nodes?.reporting === 3 && p.status.nodes.alerting === 1 ? p.status : undefined;
    });
    expect(status.nodes?.matching).toBe(3);
    const describeDwp = await cluster.kubectl(['describe', 'dwp', POLICY]);
    console.log(`kubectl describe dwp ${POLICY} (Status):\n${section(describeDwp, /^Status:/)}`);
    const dwpStatus = section(describeDwp, /^Status:/);
    expect(dwpStatus).toMatch(/Conditions:/);
    // Ready is False while the host's agent pod stays Pending: the DaemonSet never becomes fully available here.
    expect(dwpStatus).toMatch(/Message:\s+DaemonSet dropwatch-e2e-sensors: 3 of 3 updated, 2 available\s+Observed Generation:\s+1\s+Reason:\s+RollingOut\s+Status:\s+False\s+Type:\s+Ready/);
    expect(dwpStatus).toMatch(/Worst Nodes:[\s\S]*Node:\s+dwo-e2e-host[\s\S]*State:\s+Warning/);
    expect(dwpStatus).toMatch(/Top Sites:[\s\S]*Symbol:\s+__udp4_lib_rcv/);
    expect(dwpStatus).toContain('no socket listening on the destination port');
    const table = await cluster.kubectl(['get', 'dwp', POLICY]);
    console.log(`kubectl get dwp ${POLICY}:\n${table}`);
    const [header, row] = table.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'NODES', 'REPORTING', 'ALERTING', 'DROPS/S', 'READY', 'AGE']);
    const cols = row?.split(/\s+/) ?? [];
    expect(cols.slice(0, 4)).toEqual([POLICY, '3', '3', '1']);
    expect(Number(cols[4])).toBeGreaterThan(WARNING);

    // --- kill -9 the leader while the host is still breached ------------------------------
    const leaderProc = operators.find((p) => p.name === firstLeader);
    const standby = OPERATORS.find((id) => id !== firstLeader) ?? '';
    const killedAt = Date.now();
    await stopProc(leaderProc as Proc, 'SIGKILL');
    await eventually('the standby to take over', 20_000, async () => (await leaseHolder()) === standby, 100);
    const takeoverMs = Date.now() - killedAt;
    figures['kill -9 -> standby holds the Lease (ms)'] = takeoverMs;
    expect(takeoverMs).toBeLessThanOrEqual(15_000);
    // Let the new leader sync and judge a few more breached reports.
    await new Promise((r) => setTimeout(r, 4000));
    expect((await packetLoss(HOST_NODE))?.status).toBe('True');
    expect(tally(await ourEvents())[`DropThresholdExceeded Node/${HOST_NODE}`]).toBe(1);

    // --- recovery -------------------------------------------------------------------------
    const stopAt = Date.now();
    figures['datagrams sent'] = (await stopProc(flood)) === 0 ? flood.output().trim() : 'flood exited badly';
    let recoveredMs = 0;
    let falseMs = 0;
    await eventually('Normal Event and PacketLoss=False', 15_000, async () => {
      const [evs, c] = await Promise.all([ourEvents(), packetLoss(HOST_NODE)]);
      if (recoveredMs === 0 && evs.some((e) => e.reason === 'DropThresholdRecovered' && e.name === HOST_NODE)) recoveredMs = Date.now() - stopAt;
      if (falseMs === 0 && c?.status === 'False') falseMs = Date.now() - stopAt;
      return recoveredMs > 0 && falseMs > 0;
    }, 50);
    figures['drops stop -> Normal Event (ms)'] = recoveredMs;
    figures['drops stop -> PacketLoss=False (ms)'] = falseMs;
    const evs = await ourEvents();
    const recovered = evs.find((e) => e.reason === 'DropThresholdRecovered' && e.kind === 'Node' && e.name === HOST_NODE);
    expect(recovered).toMatchObject({ type: 'Normal', instance: standby });
    const counts = tally(evs);
    figures['Event counts'] = JSON.stringify(counts);
    expect(counts).toEqual({
      [`DropThresholdExceeded Node/${HOST_NODE}`]: 1,
      [`DropThresholdExceeded DropWatchPolicy/${POLICY}`]: 1,
      [`DropThresholdRecovered Node/${HOST_NODE}`]: 1,
      [`DropThresholdRecovered DropWatchPolicy/${POLICY}`]: 1,
    });
    const afterNode = section(await cluster.kubectl(['describe', 'node', HOST_NODE]), /^Conditions:/);
    expect(afterNode).toMatch(/PacketLoss\s+False\s+.*NoPacketLoss/);

    // --- delete the policy: DaemonSet, reports and conditions go --------------------------
    await cluster.kubectl(['delete', 'dwp', POLICY, '--wait=true', '--timeout=30s']);
    await eventually('DaemonSet gone', 15_000, async () => !(await exists('daemonsets', '-n', NS, '-l', `dropwatch.dev/policy=${POLICY}`)));
    // Agents still running (as pods would during their grace period) cannot bring a report back:
    // the policy is gone, so the sink refuses to write one without its owner.
    await eventually('reports gone', 15_000, async () => {
      const names = (await cluster.kubectl(['get', 'dwnr', '-o', 'name'])).split('\n').filter((n) => n.includes(`/${POLICY}.`));
      return names.length === 0;
    });
    for (const n of [HOST_NODE, KWOK.a, KWOK.b]) {
      await eventually(`PacketLoss removed from ${n}`, 10_000, async () => (await packetLoss(n)) === undefined);
    }

    // --- the real agent exits cleanly and removes its tracefs instance --------------------
    expect(await stopProc(agent)).toBe(0);
    expect(ourInstances()).not.toContain(instance);
    console.log(`e2e figures: ${JSON.stringify(figures, null, 1)}`);
  });
});
