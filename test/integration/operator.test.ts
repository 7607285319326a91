// The policy controller end to end on the real control plane with kwok fake nodes: two operator
// instances (one leads), a DropWatchPolicy rolls out its agent DaemonSet onto exactly the matching
// tainted nodes, reports written as the agent would write them drive Events, the Node condition
// PacketLoss and the policy status; the leader crashes and the standby takes over without
// repeating Events; a spec change rolls the DaemonSet; deletion cleans up through the finalizer.
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DropWatchNodeReportStatus } from '../../src/api/generated/types.js';
import { parseOperatorConfig } from '../../src/config/operator.js';
import { runOperator, type RunningOperator } from '../../src/operator/main.js';
import { ensureCluster, repoRoot, type Cluster } from './cluster.js';
import { eventually } from './helpers/wait.js';

const NS = 'dwo-operator-test';
const TEST_LABEL = 'dwo-test';
const TEST_VALUE = 'operator';
const POLICY = 'op-sensors';
const POLICY_B = 'op-span-only';
const NODES = { a: 'op-sensor-a', b: 'op-sensor-b', other: 'op-plain', ids: 'op-ids-01' } as const;
const EXAMPLE = path.join(repoRoot, 'examples/03-dedicated-sensor-pool.yaml');
const TAINT = { key: 'dropwatch.dev/sensor-only', value: 'true', effect: 'NoSchedule' };
const AGENT = 'dropwatch-agent';

let cluster: Cluster;
let tmp: string;
const operators: RunningOperator[] = [];
const suiteStart = Math.floor(Date.now() / 1000) * 1000;

async function getJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await cluster.kubectl(['get', ...args, '-o', 'json'])) as T;
}

async function exists(...args: string[]): Promise<boolean> {
  const r = await cluster.kubectlResult(['get', ...args, '-o', 'name', '--ignore-not-found']);
  return r.stdout.trim() !== '';
}

function policyManifest(name: string, selector: object, extra: object = {}): object {
  return {
    apiVersion: 'dropwatch.dev/v1alpha1',
    kind: 'DropWatchPolicy',
    metadata: { name },
    spec: {
      nodeSelector: selector,
      tolerations: [{ key: TAINT.key, operator: 'Exists', effect: 'NoSchedule' }],
      samplingInterval: '1s',
      reportInterval: '2s',
      heartbeatInterval: '30s',
      ignoreReasons: ['OTHERHOST'],
      thresholds: [{ name: 'kernel-drops', metric: 'dropsPerSecond', warning: 100, critical: 1000, clear: 50, for: '0s' }],
      agent: { securityMode: 'leastPrivilege', resources: { requests: { cpu: '50m', memory: '64Mi' } } },
      ...extra,
    },
  };
}

/** A report body as the agent writes it (modelled on a recorded snapshot of a sensor). */
function reportStatus(dropsPerSecond: number): DropWatchNodeReportStatus {
  const now = new Date();
  const seconds = 2;
  return {
    policyGeneration: 1,
    window: { start: new Date(now.getTime() - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'), end: now.toISOString().replace(/\.\d{3}Z$/, 'Z'), seconds },
    agent: {
      version: '0.1.0',
      kernel: '6.18.0-1-amd64',
      sources: ['tracepoint', 'counters'],
      capabilities: { tracefs: true, reasonField: true, kallsyms: true, histTriggers: false, dropMonitor: false, ethtool: true },
      unknownReasons: [],
    },
    totals: { drops: dropsPerSecond * seconds, dropsPerSecond },
    ladder: { transport: { drops: dropsPerSecond * seconds, dropsPerSecond } },
    drops: dropsPerSecond === 0 ? [] : [
      {
        symbol: '__udp4_lib_rcv', offset: 0x4bc, address: '0xffffffff8204674c', reason: 'NO_SOCKET', layer: 'transport',
        count: dropsPerSecond * seconds, rate: dropsPerSecond, hint: 'no listener on the port: benign on a sensor; add NO_SOCKET to spec.ignoreReasons',
      },
    ],
    interfaces: [{ name: 'ens1f0', rxPackets: 1_000_000, drops: { rx_missed_errors: 0 }, lossPercent: 0 }],
    softnet: { dropped: 0, timeSqueeze: 0, flowLimit: 0 },
    monitor: { lostEvents: 0, parseErrors: 0 },
    lastHeartbeatTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

/** Writes a report the way the agent does: SSA of the object, then SSA of its status subresource. */
async function writeReport(policy: string, node: string, dropsPerSecond: number): Promise<void> {
  const name = `${policy}.${node}`;
  const obj = { apiVersion: 'dropwatch.dev/v1alpha1', kind: 'DropWatchNodeReport', metadata: { name, labels: { [TEST_LABEL]: TEST_VALUE } }, spec: { policy, nodeName: node } };
  await cluster.kubectl(['apply', '--server-side', `--field-manager=${AGENT}`, '-f', '-'], JSON.stringify(obj));
  await cluster.kubectl(['apply', '--server-side', `--field-manager=${AGENT}`, '--subresource=status', '-f', '-'], JSON.stringify({ ...obj, status: reportStatus(dropsPerSecond) }));
}

interface EventJson {
  metadata: { name: string; creationTimestamp: string };
  reason: string;
  type: string;
  note: string;
  reportingController: string;
  reportingInstance: string;
  regarding: { kind: string; name: string };
  series?: { count: number };
  eventTime: string;
}

async function ourEvents(kind: string, name: string, reason?: string): Promise<EventJson[]> {
  const list = await getJson<{ items: EventJson[] }>('events.v1.events.k8s.io', '-n', 'default');
  // Events outlive the objects (same names in earlier runs): count only this run's.
  return list.items.filter((e) => Date.parse(e.eventTime) >= suiteStart && e.reportingController === 'dropwatch.dev/operator' && e.regarding.kind === kind && e.regarding.name === name && (reason === undefined || e.reason === reason));
}

interface NodeJson {
  status: { conditions?: { type: string; status: string; reason: string; message: string; lastTransitionTime: string }[] };
  metadata: { managedFields?: { manager: string; subresource?: string; fieldsV1?: Record<string, unknown> }[] };
}

async function packetLoss(node: string): Promise<{ status: string; reason: string; message: string } | undefined> {
  const n = await getJson<NodeJson>('node', node);
  return n.status.conditions?.find((c) => c.type === 'PacketLoss');
}

interface PolicyJson {
  metadata: { uid: string; finalizers?: string[]; generation: number };
  status?: {
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason: string; message: string; observedGeneration: number }[];
    nodes?: { matching: number; reporting: number; alerting: number; critical: number; overlappingCount?: number; overlapping?: { node: string; policies: string[] }[] };
    fleet?: { dropsPerSecond: number };
    daemonSet?: { desired: number; available: number };
    worstNodes?: { node: string; state: string; threshold?: string }[];
    topSites?: { symbol: string; hint?: string }[];
  };
}

function leader(): RunningOperator | undefined {
  return operators.find((o) => o.isLeader() && o.controller() !== undefined);
}

async function startOperator(identity: string): Promise<RunningOperator> {
  const logger = pino({ level: 'debug', base: { test: 'operator' } }, pino.destination({ dest: path.join(tmp, `${identity}.log`), sync: true }));
  const config = parseOperatorConfig({ kubeconfig: cluster.kubeconfig, namespace: NS, agentImage: 'registry.invalid/dropwatch-operator:test', identity, resyncMs: 60_000 });
  const op = await runOperator(config, { version: '0.1.0', logger });
  operators.push(op);
  return op;
}

async function forceDelete(kind: string, name: string): Promise<void> {
  if (!(await exists(kind, name))) return;
  await cluster.kubectlResult(['patch', kind, name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  await cluster.kubectlResult(['delete', kind, name, '--wait=false', '--ignore-not-found']);
}

async function cleanup(): Promise<void> {
  for (const p of [POLICY, POLICY_B, 'ids-pool']) await forceDelete('dwp', p);
  await cluster.kubectlResult(['delete', 'priorityclass', 'dropwatch-sensor-monitor', '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'dwnr', '-l', `${TEST_LABEL}=${TEST_VALUE}`, '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'node', ...Object.values(NODES), '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

beforeAll(async () => {
  cluster = ensureCluster();
  // One fixed directory for the operators' JSON logs, replaced on each run (kept for a look after a failure).
  tmp = path.join(os.tmpdir(), 'dwo-operator-test-logs');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=dwo-test', '-f', path.join(repoRoot, 'crds')]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/dropwatchpolicies.dropwatch.dev', 'crd/dropwatchnodereports.dropwatch.dev']);
  await cleanup();
  await cluster.kubectl(['create', 'namespace', NS]);
  // The Helm chart creates the agents' ServiceAccount; without it the DaemonSet cannot create pods.
  await cluster.kubectl(['create', 'serviceaccount', 'dropwatch-agent', '-n', NS]);
  const node = (name: string, labels: Record<string, string>, tainted: boolean): object => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { type: 'kwok', [TEST_LABEL]: TEST_VALUE, 'kubernetes.io/hostname': name, ...labels } },
    spec: tainted ? { taints: [TAINT] } : {},
  });
  for (const n of [
    node(NODES.a, { 'dropwatch.dev/sensor': 'span' }, true),
    node(NODES.b, { 'dropwatch.dev/sensor': 'tap' }, true),
    node(NODES.other, {}, false),
  ]) await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(n));
  await eventually('kwok nodes Ready', 60_000, async () => {
    for (const n of [NODES.a, NODES.b, NODES.other]) {
      const j = await getJson<NodeJson>('node', n);
      if (!j.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return false;
    }
    return true;
  });
}, 300_000);

afterAll(async () => {
  for (const op of operators) {
    const text = await op.metrics.registry.getSingleMetricAsString('dropwatch_operator_status_writes_total');
    console.log(`${op.identity}: ${text.split('\n').filter((l) => l.startsWith('dropwatch')).join('; ')}`);
  }
  for (const op of operators) await op.stop().catch(() => undefined);
  if (cluster) await cleanup();
  if (tmp) console.log(`operator logs: ${tmp}`);
}, 120_000);

const selector = { matchLabels: { [TEST_LABEL]: TEST_VALUE }, matchExpressions: [{ key: 'dropwatch.dev/sensor', operator: 'In', values: ['span', 'tap'] }] };

describe('policy controller', () => {
  it('elects one leader among two replicas', async () => {
    await startOperator('op-1');
    await eventually('op-1 to lead', 20_000, () => operators[0]?.isLeader());
    await startOperator('op-2');
    await new Promise((r) => setTimeout(r, 2500));
    expect(operators.filter((o) => o.isLeader()).map((o) => o.identity)).toEqual(['op-1']);
    expect(operators[1]?.controller()).toBeUndefined();
  });

  it('rolls out an owned DaemonSet onto exactly the matching nodes', async () => {
    await cluster.kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], JSON.stringify(policyManifest(POLICY, selector)));
    const policy = await eventually('the finalizer', 15_000, async () => {
      const p = await getJson<PolicyJson>('dwp', POLICY);
      return p.metadata.finalizers?.includes('dropwatch.dev/cleanup') ? p : undefined;
    });
    const ds = await eventually('the DaemonSet', 15_000, async () => {
      const list = await getJson<{ items: { metadata: { name: string; ownerReferences?: { uid: string; kind: string; controller?: boolean }[]; managedFields?: { manager: string }[] }; spec: { template: { spec: { containers: { args: string[]; securityContext: { capabilities?: { add: string[] } } }[]; tolerations?: object[]; volumes: { hostPath: { path: string } }[] } } } }[] }>(
        'daemonsets', '-n', NS, '-l', `dropwatch.dev/policy=${POLICY}`, '--show-managed-fields');
      return list.items[0];
    });
    expect(ds.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'DropWatchPolicy', uid: policy.metadata.uid, controller: true })]);
    expect(ds.metadata.managedFields?.map((m) => m.manager)).toContain('dropwatch-operator');
    const pod = ds.spec.template.spec;
    expect(pod.containers[0]?.args).toEqual(expect.arrayContaining(['agent', '--policy', POLICY, '--ignore-reason', 'OTHERHOST']));
    expect(pod.containers[0]?.securityContext.capabilities?.add).toEqual(['SYSLOG']);
    expect(pod.volumes.map((v) => v.hostPath.path)).toEqual(['/sys/kernel/tracing']);

    const running = await eventually('agent pods Running on the two sensors', 60_000, async () => {
      const pods = await getJson<{ items: { spec: { nodeName?: string }; status: { phase: string } }[] }>('pods', '-n', NS, '-l', `dropwatch.dev/policy=${POLICY}`);
      const on = pods.items.filter((p) => p.status.phase === 'Running').map((p) => p.spec.nodeName ?? '').sort();
      return on.length === 2 && pods.items.length === 2 ? on : undefined;
    }, 500);
    expect(running).toEqual([NODES.a, NODES.b]);

    // Before any report: not Ready, waiting for reports; PacketLoss Unknown on the sensors.
    const p = await eventually('status AwaitingReports', 20_000, async () => {
      const j = await getJson<PolicyJson>('dwp', POLICY);
      const ready = j.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.reason === 'AwaitingReports' ? j : undefined;
    });
    expect(p.status?.nodes).toMatchObject({ matching: 2, reporting: 0 });
    expect(p.status?.daemonSet).toMatchObject({ desired: 2, available: 2 });
    expect((await packetLoss(NODES.other))).toBeUndefined();
  });

  it('becomes Ready once every matching node reports, and fills the printer columns', async () => {
    await writeReport(POLICY, NODES.a, 10);
    await writeReport(POLICY, NODES.b, 20);
    const wait = await cluster.kubectlResult(['wait', '--for=condition=Ready', `dwp/${POLICY}`, '--timeout=30s']);
    if (wait.code !== 0) console.log(JSON.stringify((await getJson<PolicyJson>('dwp', POLICY)).status, null, 1));
    expect(wait.stderr).toBe('');
    expect(wait.code).toBe(0);
    const table = await eventually('printer columns', 10_000, async () => {
      const out = await cluster.kubectl(['get', 'dwp', POLICY, '--no-headers']);
      const cols = out.trim().split(/\s+/);
      return cols[5] === 'True' && cols[4] === '30' ? cols : undefined;
    });
    // NAME NODES REPORTING ALERTING DROPS/S READY AGE — the "Ready" column shows the condition status.
    expect(table.slice(0, 4)).toEqual([POLICY, '2', '2', '0']);
    for (const n of [NODES.a, NODES.b]) {
      const c = await eventually(`PacketLoss=False on ${n}`, 10_000, async () => {
        const pl = await packetLoss(n);
        return pl?.status === 'False' ? pl : undefined;
      });
      expect(c.reason).toBe('NoPacketLoss');
    }
  });

  it('turns a drop spike into one Warning Event on the Node and the policy and PacketLoss=True', async () => {
    const t0 = Date.now();
    await writeReport(POLICY, NODES.a, 5000);
    const [ev] = await eventually('DropThresholdExceeded on the Node', 15_000, () => ourEvents('Node', NODES.a, 'DropThresholdExceeded').then((l) => (l.length > 0 ? l : undefined)), 50);
    const latencyMs = Date.now() - t0;
    console.log(`spike -> DropThresholdExceeded Event observed after ${latencyMs} ms`);
    expect(latencyMs).toBeLessThan(5000);
    expect(ev?.type).toBe('Warning');
    expect(ev?.note).toContain('critical');
    expect(ev?.note).toContain('__udp4_lib_rcv+0x4bc (NO_SOCKET)');
    expect(ev?.note).toContain('add NO_SOCKET to spec.ignoreReasons');
    const cond = await eventually('PacketLoss=True', 10_000, async () => {
      const c = await packetLoss(NODES.a);
      return c?.status === 'True' ? c : undefined;
    });
    expect(cond.reason).toBe('DropThresholdCritical');
    expect(cond.message).toContain('threshold kernel-drops of policy op-sensors');
    expect(cond.message).toContain('__udp4_lib_rcv+0x4bc (NO_SOCKET)');
    expect(cond.message).toContain('add NO_SOCKET to spec.ignoreReasons');
    expect(await ourEvents('DropWatchPolicy', POLICY, 'DropThresholdExceeded')).toHaveLength(1);
    const status = await eventually('status alerting 1', 10_000, async () => {
      const j = await getJson<PolicyJson>('dwp', POLICY);
      return j.status?.nodes?.alerting === 1 ? j.status : undefined;
    });
    expect(status.worstNodes?.[0]).toMatchObject({ node: NODES.a, state: 'Critical', threshold: 'kernel-drops' });
    expect(status.topSites?.[0]).toMatchObject({ symbol: '__udp4_lib_rcv' });
    // Another report with the same spike: still one Event, no series.
    await writeReport(POLICY, NODES.a, 5200);
    await new Promise((r) => setTimeout(r, 1500));
    const again = await ourEvents('Node', NODES.a, 'DropThresholdExceeded');
    expect(again).toHaveLength(1);
    expect(again[0]?.series).toBeUndefined();
  });

  it('reports a node matched by two policies in status.nodes.overlapping', async () => {
    await cluster.kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
      JSON.stringify(policyManifest(POLICY_B, { matchLabels: { [TEST_LABEL]: TEST_VALUE, 'dropwatch.dev/sensor': 'span' } })));
    const nodes = await eventually('overlap in status', 15_000, async () => {
      const j = await getJson<PolicyJson>('dwp', POLICY);
      return (j.status?.nodes?.overlappingCount ?? 0) === 1 ? j.status?.nodes : undefined;
    });
    expect(nodes.overlapping).toEqual([{ node: NODES.a, policies: [POLICY_B] }]);
    // The breach of the first policy still decides the Node condition.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await packetLoss(NODES.a))?.status).toBe('True');
  });

  it('two agents on one node need two metrics ports: the scheduler says so, spec.agent.metricsPort fixes it', async () => {
    interface PodList {
      items: { metadata: { name: string }; spec: { nodeName?: string; containers: { ports?: { containerPort: number }[] }[] }; status: { phase: string; conditions?: { type: string; reason?: string; message?: string }[] } }[];
    }
    const podsOf = async (policy: string) => (await getJson<PodList>('pods', '-n', NS, '-l', `dropwatch.dev/policy=${policy}`)).items;
    // Both agents use the host network and the default port 9847: the second cannot be placed on the
    // node the first already runs on (the real scheduler's NodePorts filter).
    const pending = await eventually('policy B\'s agent unschedulable', 30_000, async () => {
      const p = (await podsOf(POLICY_B))[0];
      const c = p?.status.conditions?.find((x) => x.type === 'PodScheduled');
      return c?.reason === 'Unschedulable' ? c : undefined;
    });
    expect(pending.message).toMatch(/free ports/);
    await cluster.kubectl(['patch', 'dwp', POLICY_B, '--type=merge', '-p', JSON.stringify({ spec: { agent: { metricsPort: 19847 } } })]);
    const running = await eventually('policy B\'s agent running on the shared node', 30_000, async () => {
      const p = (await podsOf(POLICY_B)).find((x) => x.spec.nodeName === NODES.a && x.status.phase === 'Running');
      return p?.spec.containers[0]?.ports?.[0]?.containerPort === 19847 ? p : undefined;
    });
    expect(running.spec.nodeName).toBe(NODES.a);
    expect((await podsOf(POLICY)).some((x) => x.spec.nodeName === NODES.a && x.status.phase === 'Running')).toBe(true);
  });

  it('hands over to the standby when the leader dies, without repeating Events', async () => {
    const old = leader();
    expect(old?.identity).toBe('op-1');
    const crashAt = Date.now();
    await old?.stop({ release: false }); // like a crash: the Lease is left to expire
    const next = await eventually('op-2 to lead', 30_000, () => leader(), 200);
    console.log(`standby ${next.identity} took over ${Date.now() - crashAt} ms after the leader stopped renewing`);
    expect(next.identity).toBe('op-2');
    await next.controller()?.whenIdle();
    await new Promise((r) => setTimeout(r, 2000));
    await writeReport(POLICY, NODES.a, 5100); // still breached
    await new Promise((r) => setTimeout(r, 2000));
    expect(await ourEvents('Node', NODES.a, 'DropThresholdExceeded')).toHaveLength(1);
    expect(await ourEvents('DropWatchPolicy', POLICY, 'DropThresholdExceeded')).toHaveLength(1);
    expect((await packetLoss(NODES.a))?.status).toBe('True');
  });

  it('recovers: a Normal Event and PacketLoss=False, announced by the new leader', async () => {
    const t0 = Date.now();
    await writeReport(POLICY, NODES.a, 10);
    const [ev] = await eventually('DropThresholdRecovered', 15_000, () => ourEvents('Node', NODES.a, 'DropThresholdRecovered').then((l) => (l.length > 0 ? l : undefined)), 50);
    console.log(`recovery -> DropThresholdRecovered Event observed after ${Date.now() - t0} ms`);
    expect(ev?.type).toBe('Normal');
    expect(ev?.reportingInstance).toBe('op-2');
    // op-span-only (no report from node a yet) keeps it from being plainly False: it cannot see the node.
    const c = await eventually('PacketLoss not True', 10_000, async () => {
      const pl = await packetLoss(NODES.a);
      return pl?.status !== 'True' ? pl : undefined;
    });
    expect(c.status).toBe('Unknown');
    await writeReport(POLICY_B, NODES.a, 10);
    await writeReport(POLICY, NODES.b, 20); // its last report is older than twice the heartbeat by now
    await eventually('PacketLoss=False', 10_000, async () => (await packetLoss(NODES.a))?.status === 'False');
    await eventually('PacketLoss=False on node b', 10_000, async () => (await packetLoss(NODES.b))?.status === 'False');
    expect(await ourEvents('Node', NODES.a, 'DropThresholdRecovered')).toHaveLength(1);
  });

  it('removes PacketLoss from a node that no policy covers any more (label removed)', async () => {
    await cluster.kubectl(['label', 'node', NODES.b, 'dropwatch.dev/sensor-']);
    await eventually('PacketLoss removed from node b', 10_000, async () => (await packetLoss(NODES.b)) === undefined);
    const p = await eventually('one matching node', 10_000, async () => {
      const j = await getJson<PolicyJson>('dwp', POLICY);
      return j.status?.nodes?.matching === 1 ? j : undefined;
    });
    expect(p.status?.worstNodes?.map((w) => w.node)).toEqual([NODES.a]);
    expect((await packetLoss(NODES.a))?.status).toBe('False');
  });

  it('rolls the DaemonSet when the policy changes', async () => {
    const hashOf = async (): Promise<string> => {
      const ds = await getJson<{ items: { spec: { template: { metadata: { annotations: Record<string, string> } } } }[] }>('daemonsets', '-n', NS, '-l', `dropwatch.dev/policy=${POLICY}`);
      return ds.items[0]?.spec.template.metadata.annotations['dropwatch.dev/spec-hash'] ?? '';
    };
    const before = await hashOf();
    await cluster.kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], JSON.stringify(policyManifest(POLICY, selector, { samplingInterval: '2s' })));
    await eventually('a new pod template', 15_000, async () => (await hashOf()) !== before);
    const p = await eventually('observedGeneration 2', 15_000, async () => {
      const j = await getJson<PolicyJson>('dwp', POLICY);
      return j.status?.observedGeneration === 2 ? j : undefined;
    });
    expect(p.status?.conditions?.every((c) => c.observedGeneration === 2)).toBe(true);
  });

  it('cleans up on delete: DaemonSet, reports, our Node condition, then the finalizer', async () => {
    await cluster.kubectl(['delete', 'dwp', POLICY, '--wait=true', '--timeout=30s']);
    expect(await exists('dwp', POLICY)).toBe(false);
    await eventually('DaemonSet gone', 15_000, async () => !(await exists('daemonsets', '-n', NS, '-l', `dropwatch.dev/policy=${POLICY}`)));
    expect(await exists('dwnr', `${POLICY}.${NODES.a}`)).toBe(false);
    expect(await exists('dwnr', `${POLICY}.${NODES.b}`)).toBe(false);
    // Node b was covered only by the deleted policy: condition removed. Node a is still covered.
    await eventually('PacketLoss removed from node b', 10_000, async () => (await packetLoss(NODES.b)) === undefined);
    expect((await packetLoss(NODES.a))?.status).toBe('False');
    expect((await packetLoss(NODES.a))?.message).toContain(POLICY_B);
    expect((await packetLoss(NODES.a))?.message).not.toContain(`${POLICY},`);

    await cluster.kubectl(['delete', 'dwp', POLICY_B, '--wait=true', '--timeout=30s']);
    await eventually('PacketLoss removed from node a', 10_000, async () => (await packetLoss(NODES.a)) === undefined);
    const n = await getJson<NodeJson>('node', NODES.a);
    expect(n.status.conditions?.some((c) => c.type === 'Ready')).toBe(true);
    expect(await exists('dwnr', `${POLICY_B}.${NODES.a}`)).toBe(false);
  });

  it('runs examples/03 as users apply it: priority class, requests, the tolerated taint', async () => {
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: NODES.ids, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { type: 'kwok', [TEST_LABEL]: TEST_VALUE, dedicated: 'ids' } },
      spec: { taints: [{ key: 'dedicated', value: 'ids', effect: 'NoSchedule' }] },
    }));
    await cluster.kubectl(['apply', '-f', EXAMPLE]);
    const pods = await eventually('the example agent Running on the ids node', 60_000, async () => {
      const list = await getJson<{ items: { spec: { nodeName?: string; priorityClassName?: string; containers: { resources: { requests?: Record<string, string> } }[] }; status: { phase: string } }[] }>(
        'pods', '-n', NS, '-l', 'dropwatch.dev/policy=ids-pool');
      return list.items.length === 1 && list.items[0]?.status.phase === 'Running' ? list.items : undefined;
    }, 500);
    expect(pods[0]?.spec.nodeName).toBe(NODES.ids);
    expect(pods[0]?.spec.priorityClassName).toBe('dropwatch-sensor-monitor');
    expect(pods[0]?.spec.containers[0]?.resources.requests).toBeDefined();
    await cluster.kubectl(['delete', '-f', EXAMPLE, '--wait=true', '--timeout=30s']);
    await eventually('the example DaemonSet gone', 15_000, async () => !(await exists('daemonsets', '-n', NS, '-l', 'dropwatch.dev/policy=ids-pool')));
  });

  it('releases the Lease on a graceful stop', async () => {
    const op = leader();
    await op?.stop();
    const lease = await getJson<{ spec: { holderIdentity?: string } }>('lease', '-n', NS, 'dropwatch-operator');
    expect(lease.spec.holderIdentity ?? '').toBe('');
  });
});
