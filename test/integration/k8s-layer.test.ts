// The src/k8s layer against a real kube-apiserver: informers (events, resync, recovery after a
// broken watch and an unreachable API server, the stall watchdog), server-side apply with two
// field managers, status apply on a DropWatchPolicy, a Node condition next to kwok's, Lease
// leader election (takeover after a crash and after a release) and Event series.
// Watch faults are made for real: the informers talk through a TCP proxy the test can reset,
// close or freeze, so the client sees genuine socket errors and silent connections.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DropWatchPolicyResource } from '../../src/api/generated/types.js';
import { applyCustomStatus, applyNodeConditions, applyObject, FIELD_MANAGER, type ApplyObject } from '../../src/k8s/apply.js';
import { createKubeClients, isNotFound, kubeCall, type KubeClients } from '../../src/k8s/client.js';
import { EventRecorder } from '../../src/k8s/events.js';
import { Informer, type InformerReason, type InformerStatus } from '../../src/k8s/informer.js';
import { LeaderElector } from '../../src/k8s/leader.js';
import { DwoError } from '../../src/runtime/errors.js';
import { ensureCluster, repoRoot, type Cluster } from './cluster.js';
import { eventually } from './helpers/wait.js';
import { FaultyProxy } from './helpers/faulty-proxy.js';

const NS = 'dwo-k8s-layer';
const LABEL = 'dropwatch.dev/test';
const LABEL_VALUE = 'k8s-layer';
const NODE = 'dwo-k8s-layer-node';
const POLICY = 'dwo-k8s-layer-policy';

let cluster: Cluster;
let clients: KubeClients;
let tmp: string;

function configMap(name: string, data: Record<string, string>): V1ConfigMap & ApplyObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS, labels: { [LABEL]: LABEL_VALUE } }, data };
}

interface Seen {
  readonly type: 'add' | 'update' | 'delete';
  readonly name: string;
  readonly reason: InformerReason;
  readonly data: Record<string, string> | undefined;
  readonly at: number;
}

function configMapInformer(kubeconfigPath: string, extra: { resyncMs?: number; stallMs?: number }) {
  const viaProxy = createKubeClients({ kubeconfigPath });
  const seen: Seen[] = [];
  const statuses: (InformerStatus & { at: number })[] = [];
  const informer = new Informer<V1ConfigMap>({
    kubeConfig: viaProxy.kubeConfig,
    path: `/api/v1/namespaces/${NS}/configmaps`,
    labelSelector: `${LABEL}=${LABEL_VALUE}`,
    list: () => viaProxy.core.listNamespacedConfigMap({ namespace: NS, labelSelector: `${LABEL}=${LABEL_VALUE}` }),
    restartBackoff: { initialMs: 200, maxMs: 2000 },
    listTimeoutMs: 10_000,
    onStatus: (s) => statuses.push({ ...s, at: Date.now() }),
    ...extra,
  });
  for (const type of ['add', 'update', 'delete'] as const) {
    informer.on(type, (cm, info) => seen.push({ type, name: cm.metadata?.name ?? '', reason: info.reason, data: cm.data, at: Date.now() }));
  }
  return { informer, seen, statuses };
}

beforeAll(async () => {
  cluster = ensureCluster();
  clients = createKubeClients({ kubeconfigPath: cluster.kubeconfig });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dwo-k8s-layer-'));
  await cluster.kubectl(['apply', '--server-side', '-f', path.join(repoRoot, 'crds')]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', `${DropWatchPolicyResource.plural}.${DropWatchPolicyResource.group}`]);
  await cluster.kubectlResult(['delete', 'namespace', NS, '--wait=true', '--ignore-not-found']);
  await cluster.kubectl(['create', 'namespace', NS]);
});

afterAll(async () => {
  if (!cluster) return;
  await cluster.kubectlResult(['delete', 'node', NODE, '--ignore-not-found']);
  await cluster.kubectlResult(['delete', DropWatchPolicyResource.plural, POLICY, '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A kubeconfig whose server is the proxy. */
function proxiedKubeconfig(proxy: FaultyProxy): string {
  const text = readFileSync(cluster.kubeconfig, 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: https://127.0.0.1:${proxy.port}`);
  const file = path.join(tmp, `kubeconfig-${proxy.port}`);
  writeFileSync(file, text);
  return file;
}

function apiServerPort(): number {
  const m = /server: https:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(cluster.kubeconfig, 'utf8'));
  if (!m?.[1]) throw new Error('no server port in the kubeconfig');
  return Number(m[1]);
}

describe('informer', () => {
  it('delivers add, update and delete, resyncs, and recovers from a reset watch and an outage', async () => {
    const proxy = new FaultyProxy(apiServerPort());
    await proxy.listen();
    const { informer, seen, statuses } = configMapInformer(proxiedKubeconfig(proxy), { resyncMs: 1500 });
    try {
      await kubeCall('create', () => clients.core.createNamespacedConfigMap({ namespace: NS, body: configMap('pre', { v: '0' }) }));
      informer.start();
      await informer.waitForSync();
      expect(informer.hasSynced()).toBe(true);
      expect(informer.get('pre', NS)?.data).toEqual({ v: '0' });
      expect(seen).toContainEqual(expect.objectContaining({ type: 'add', name: 'pre', reason: 'relist' }));
      await eventually('a watch connection', 10_000, () => statuses.some((s) => s.type === 'watching'));

      await clients.core.createNamespacedConfigMap({ namespace: NS, body: configMap('a', { v: '1' }) });
      await eventually('add of a', 10_000, () => seen.find((s) => s.type === 'add' && s.name === 'a' && s.reason === 'watch'));
      await clients.core.replaceNamespacedConfigMap({ name: 'a', namespace: NS, body: configMap('a', { v: '2' }) });
      await eventually('update of a', 10_000, () => seen.find((s) => s.type === 'update' && s.name === 'a' && s.reason === 'watch' && s.data?.['v'] === '2'));
      await clients.core.deleteNamespacedConfigMap({ name: 'a', namespace: NS });
      await eventually('delete of a', 10_000, () => seen.find((s) => s.type === 'delete' && s.name === 'a' && s.reason === 'watch'));
      expect(informer.get('a', NS)).toBeUndefined();

      // Resync re-delivers every cached object to the update handlers, without an API change.
      const before = Date.now();
      await eventually('a resync of pre', 5000, () => seen.find((s) => s.type === 'update' && s.name === 'pre' && s.reason === 'resync' && s.at >= before));

      // 1. Reset the watch connection mid-stream: client-node's ListWatch reports an error and
      //    stops; the informer must start a new list+watch by itself.
      const errorsBefore = statuses.filter((s) => s.type === 'error').length;
      const resetAt = Date.now();
      proxy.resetAll();
      const err = await eventually('the watch error', 10_000, () => statuses.find((s) => s.type === 'error' && s.at >= resetAt));
      const rewatch = await eventually('a new watch', 10_000, () => statuses.find((s) => s.type === 'watching' && s.at > err.at));
      console.log(`watch reset: error reported after ${err.at - resetAt} ms, watching again after ${rewatch.at - resetAt} ms`);
      expect(statuses.filter((s) => s.type === 'error').length).toBeGreaterThan(errorsBefore);
      await clients.core.createNamespacedConfigMap({ namespace: NS, body: configMap('b', { v: '1' }) });
      await eventually('add of b after the reset', 10_000, () => seen.find((s) => s.type === 'add' && s.name === 'b'));

      // 2. The API server becomes unreachable (connections refused) while objects change; after
      //    it is back, a relist brings the cache up to date, including the delete it missed.
      const downAt = Date.now();
      await proxy.down();
      await eventually('errors while down', 10_000, () => statuses.filter((s) => s.type === 'error' && s.at >= downAt).length >= 2);
      await clients.core.deleteNamespacedConfigMap({ name: 'b', namespace: NS });
      await clients.core.createNamespacedConfigMap({ namespace: NS, body: configMap('c', { v: '1' }) });
      await new Promise((r) => setTimeout(r, 2000));
      const upAt = Date.now();
      await proxy.listen();
      const missedDelete = await eventually('delete of b by relist', 15_000, () => seen.find((s) => s.type === 'delete' && s.name === 'b' && s.reason === 'relist'));
      await eventually('add of c by relist', 15_000, () => seen.find((s) => s.type === 'add' && s.name === 'c' && s.reason === 'relist'));
      const retries = statuses.filter((s) => s.type === 'error' && s.at >= downAt && s.at <= upAt);
      console.log(`outage: ${retries.length} failed restarts in ${upAt - downAt} ms (retry delays ${retries.map((r) => (r.type === 'error' ? r.retryInMs : 0)).join(', ')} ms); caught up ${missedDelete.at - upAt} ms after the server was back`);
      expect(informer.get('b', NS)).toBeUndefined();
      expect(informer.get('c', NS)?.data).toEqual({ v: '1' });
      await clients.core.replaceNamespacedConfigMap({ name: 'c', namespace: NS, body: configMap('c', { v: '2' }) });
      await eventually('watch events after recovery', 10_000, () => seen.find((s) => s.type === 'update' && s.name === 'c' && s.reason === 'watch'));
    } finally {
      await informer.stop();
      await proxy.close();
    }
  });

  it('the stall watchdog restarts a watch whose connection went silent', async () => {
    const proxy = new FaultyProxy(apiServerPort());
    await proxy.listen();
    const { informer, seen, statuses } = configMapInformer(proxiedKubeconfig(proxy), { stallMs: 3000 });
    try {
      informer.start();
      await informer.waitForSync();
      await eventually('a watch connection', 10_000, () => statuses.some((s) => s.type === 'watching'));
      const frozen = proxy.freezeOpen();
      const frozenAt = Date.now();
      expect(frozen).toBeGreaterThan(0);
      await clients.core.createNamespacedConfigMap({ namespace: NS, body: configMap('during-stall', { v: '1' }) });
      const got = await eventually('the object created during the stall', 20_000, () => seen.find((s) => s.name === 'during-stall'));
      const stall = statuses.find((s) => s.type === 'stalled' && s.at >= frozenAt);
      console.log(`stall: watchdog fired ${stall ? stall.at - frozenAt : '?'} ms after the freeze; object seen after ${got.at - frozenAt} ms via ${got.reason}`);
      expect(stall).toBeDefined();
      // client-node's own inactivity timer (30 s) would have caught it much later.
      expect(got.at - frozenAt).toBeLessThan(15_000);
      expect(got.reason).toBe('relist');
    } finally {
      await informer.stop();
      await proxy.close();
    }
  });
});

describe('server-side apply', () => {
  it('two field managers own their own fields of one object', async () => {
    const name = 'ssa-two-managers';
    await applyObject(clients, configMap(name, { fromOperator: 'a' }), { fieldManager: FIELD_MANAGER.operator });
    await applyObject(clients, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { fromAgent: 'b' } }, { fieldManager: FIELD_MANAGER.agent });
    // The operator re-applies its intent without the agent's key: the agent's key stays.
    await applyObject(clients, configMap(name, { fromOperator: 'a2' }), { fieldManager: FIELD_MANAGER.operator });
    const cm = await clients.core.readNamespacedConfigMap({ name, namespace: NS });
    expect(cm.data).toEqual({ fromOperator: 'a2', fromAgent: 'b' });
    const managers = (cm.metadata?.managedFields ?? []).map((m) => [m.manager, m.operation, Object.keys((m.fieldsV1 as { 'f:data'?: object } | undefined)?.['f:data'] ?? {})]);
    expect(managers).toEqual(
      expect.arrayContaining([
        [FIELD_MANAGER.operator, 'Apply', ['f:fromOperator']],
        [FIELD_MANAGER.agent, 'Apply', ['f:fromAgent']],
      ]),
    );

    // Taking a field the other manager owns is a terminal conflict unless forced.
    const conflict = await applyObject(clients, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { fromAgent: 'b', fromOperator: 'x' } }, { fieldManager: FIELD_MANAGER.agent }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(DwoError);
    expect((conflict as DwoError).code).toBe('DWO_E_API_FIELD_CONFLICT');
    expect((conflict as DwoError).kind).toBe('terminal');
    await applyObject(clients, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { fromAgent: 'b', fromOperator: 'x' } }, { fieldManager: FIELD_MANAGER.agent, force: true });
    const after = await clients.core.readNamespacedConfigMap({ name, namespace: NS });
    expect(after.data).toEqual({ fromOperator: 'x', fromAgent: 'b' });
  });

  it('maps API errors to catalogue codes', async () => {
    const missing = await kubeCall('read', () => clients.core.readNamespacedConfigMap({ name: 'does-not-exist', namespace: NS })).catch((e: unknown) => e);
    expect(isNotFound(missing)).toBe(true);
    expect((missing as DwoError).code).toBe('DWO_E_API_NOT_FOUND');
    const invalid = await kubeCall('create', () => clients.core.createNamespacedConfigMap({ namespace: NS, body: configMap('Not_A_Valid_Name', {}) })).catch((e: unknown) => e);
    expect((invalid as DwoError).code).toBe('DWO_E_API_INVALID');
    expect((invalid as DwoError).message).toContain('Not_A_Valid_Name');
    await applyObject(clients, configMap('errors-existing', {}), { fieldManager: FIELD_MANAGER.operator });
    const exists = await kubeCall('create', () => clients.core.createNamespacedConfigMap({ namespace: NS, body: configMap('errors-existing', {}) })).catch((e: unknown) => e);
    expect((exists as DwoError).code).toBe('DWO_E_API_CONFLICT');
    const refused = createKubeClients({ kubeconfigPath: proxiedKubeconfigTo(1) });
    const down = await kubeCall('list', () => refused.core.listNamespacedConfigMap({ namespace: NS })).catch((e: unknown) => e);
    expect((down as DwoError).code).toBe('DWO_E_API_UNAVAILABLE');
    expect((down as DwoError).kind).toBe('transient');
  });

  it('applies the status subresource of a DropWatchPolicy without touching its spec', async () => {
    await cluster.kubectl(['apply', '--server-side', '--field-manager', 'gitops', '-f', '-'], JSON.stringify({
      apiVersion: DropWatchPolicyResource.apiVersion,
      kind: DropWatchPolicyResource.kind,
      metadata: { name: POLICY },
      spec: { nodeSelector: { matchLabels: { 'dropwatch.dev/sensor': 'k8s-layer-test' } } },
    }));
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const status = {
      observedGeneration: 1,
      conditions: [{ type: 'Ready', status: 'False', observedGeneration: 1, lastTransitionTime: now, reason: 'NoNodes', message: 'no node matches the selector' }],
    };
    const applied = await applyCustomStatus(clients, DropWatchPolicyResource, { name: POLICY }, status, { fieldManager: FIELD_MANAGER.operator, force: true });
    expect((applied as { status?: unknown }).status).toMatchObject(status);
    const policy = JSON.parse(await cluster.kubectl(['get', DropWatchPolicyResource.plural, POLICY, '-o', 'json', '--show-managed-fields'])) as {
      spec: unknown;
      status: { conditions: { type: string }[] };
      metadata: { managedFields: { manager: string; operation: string; subresource?: string }[] };
    };
    expect(policy.spec).toMatchObject({ nodeSelector: { matchLabels: { 'dropwatch.dev/sensor': 'k8s-layer-test' } } });
    expect(policy.metadata.managedFields).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ manager: FIELD_MANAGER.operator, operation: 'Apply', subresource: 'status' }),
        expect.objectContaining({ manager: 'gitops', operation: 'Apply' }),
      ]),
    );
    // The user re-applies the spec: the status stays.
    await cluster.kubectl(['apply', '--server-side', '--field-manager', 'gitops', '-f', '-'], JSON.stringify({
      apiVersion: DropWatchPolicyResource.apiVersion,
      kind: DropWatchPolicyResource.kind,
      metadata: { name: POLICY },
      spec: { nodeSelector: { matchLabels: { 'dropwatch.dev/sensor': 'k8s-layer-test-2' } } },
    }));
    const again = JSON.parse(await cluster.kubectl(['get', DropWatchPolicyResource.plural, POLICY, '-o', 'json'])) as { status: { conditions: { type: string }[] } };
    expect(again.status.conditions.map((c) => c.type)).toEqual(['Ready']);
  });

  it('adds a PacketLoss condition to a kwok node without clobbering kwok-owned conditions, across a kwok heartbeat', async () => {
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: NODE, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { type: 'kwok', [LABEL]: LABEL_VALUE } },
    }));
    const ready = await eventually('kwok to report Ready', 60_000, async () => {
      const n = await clients.core.readNode({ name: NODE });
      return n.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
    });
    const t0 = new Date();
    await applyNodeConditions(clients, NODE, [{ type: 'PacketLoss', status: 'False', reason: 'NoDrops', message: 'no threshold breached', lastHeartbeatTime: t0, lastTransitionTime: t0 }], { fieldManager: FIELD_MANAGER.agent, force: true });
    const node = await clients.core.readNode({ name: NODE });
    const types = (node.status?.conditions ?? []).map((c) => c.type);
    expect(types).toEqual(expect.arrayContaining(['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure', 'PacketLoss']));
    const owners = Object.fromEntries((node.metadata?.managedFields ?? []).filter((m) => m.subresource === 'status').map((m) => [m.manager, Object.keys((m.fieldsV1 as { 'f:status'?: { 'f:conditions'?: object } })['f:status']?.['f:conditions'] ?? {})]));
    expect(owners[FIELD_MANAGER.agent]).toEqual(['k:{"type":"PacketLoss"}']);
    expect(owners['kwok']).toContain('k:{"type":"Ready"}');

    // kwok rewrites its conditions on a heartbeat (about every 50 s here): ours must survive it.
    const beforeBeat = new Date(ready.lastHeartbeatTime ?? 0).getTime();
    const beat = await eventually('a kwok heartbeat', 100_000, async () => {
      const n = await clients.core.readNode({ name: NODE });
      const r = n.status?.conditions?.find((c) => c.type === 'Ready');
      return r && new Date(r.lastHeartbeatTime ?? 0).getTime() > beforeBeat ? n : undefined;
    });
    const pl = beat.status?.conditions?.find((c) => c.type === 'PacketLoss');
    expect(pl).toMatchObject({ status: 'False', reason: 'NoDrops' });

    // Flipping our condition changes only ours.
    const t1 = new Date();
    await applyNodeConditions(clients, NODE, [{ type: 'PacketLoss', status: 'True', reason: 'DropThresholdExceeded', message: 'DWO: 1200 drops/s', lastHeartbeatTime: t1, lastTransitionTime: t1 }], { fieldManager: FIELD_MANAGER.agent, force: true });
    const flipped = await clients.core.readNode({ name: NODE });
    expect(flipped.status?.conditions?.find((c) => c.type === 'PacketLoss')?.status).toBe('True');
    expect(flipped.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  }, 180_000);
});

/** A kubeconfig pointing at a port nothing listens on. */
function proxiedKubeconfigTo(port: number): string {
  const file = path.join(tmp, `kubeconfig-dead-${port}`);
  writeFileSync(file, readFileSync(cluster.kubeconfig, 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: https://127.0.0.1:${port}`));
  return file;
}

describe('leader election', () => {
  function elector(identity: string, log: string[]) {
    return new LeaderElector({
      clients,
      namespace: NS,
      name: 'dwo-k8s-layer-lease',
      identity,
      onStartedLeading: () => void log.push(`${identity} started`),
      onStoppedLeading: () => void log.push(`${identity} stopped`),
    });
  }

  it('one leader; a standby takes over within 15 s of a crash and within 3 s of a release', async () => {
    const log: string[] = [];
    const a = elector('a', log);
    const b = elector('b', log);
    const c = elector('c', log);
    try {
      a.start();
      b.start();
      await eventually('a leader', 15_000, () => a.isLeader() || b.isLeader());
      // Watch both for a few retry periods: never two leaders.
      for (let i = 0; i < 20; i++) {
        expect(Number(a.isLeader()) + Number(b.isLeader())).toBe(1);
        await new Promise((r) => setTimeout(r, 200));
      }
      const [leader, standby] = a.isLeader() ? [a, b] : [b, a];

      // Crash: the leader stops renewing and does not release.
      const crashAt = Date.now();
      await leader.stop({ release: false });
      await eventually('takeover after a crash', 20_000, () => standby.isLeader());
      const crashTakeover = Date.now() - crashAt;

      // Graceful: the new leader releases; the third candidate takes over at its next attempt.
      c.start();
      await new Promise((r) => setTimeout(r, 3000)); // c has seen the lease held
      expect(c.isLeader()).toBe(false);
      const releaseAt = Date.now();
      await standby.stop({ release: true });
      await eventually('takeover after a release', 10_000, () => c.isLeader());
      const releaseTakeover = Date.now() - releaseAt;
      console.log(`leader election: takeover after crash ${crashTakeover} ms, after release ${releaseTakeover} ms; ${log.join(', ')}`);
      expect(crashTakeover).toBeLessThan(15_000);
      expect(releaseTakeover).toBeLessThan(3_500);
      const lease = await clients.coordination.readNamespacedLease({ name: 'dwo-k8s-layer-lease', namespace: NS });
      expect(lease.spec?.holderIdentity).toBe('c');
      expect(lease.spec?.leaseTransitions).toBe(2);
    } finally {
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    }
  }, 60_000);
});

describe('events', () => {
  it('folds repeats into one Event series and puts cluster-scoped subjects in default', async () => {
    const errors: unknown[] = [];
    const recorder = new EventRecorder({
      clients,
      reportingController: 'dropwatch.dev/operator',
      reportingInstance: 'k8s-layer-test',
      onError: (e) => errors.push(e),
    });
    const subject = `dwo-k8s-layer-subject-${Date.now()}`;
    const input = {
      regarding: { apiVersion: 'v1', kind: 'Node', name: subject },
      type: 'Warning' as const,
      reason: 'DropThresholdExceeded',
      action: 'Evaluate',
      note: 'DWO: 1200 drops/s at tcp_v4_rcv+0x8a (NO_SOCKET) above the critical level 1000',
    };
    await recorder.record(input);
    await recorder.record(input);
    await recorder.record(input);
    await recorder.record({ ...input, note: 'a different note is a different series' });
    await recorder.flush();
    expect(errors).toEqual([]);
    const list = await clients.events.listNamespacedEvent({ namespace: 'default', fieldSelector: `regarding.name=${subject}` });
    const byNote = new Map(list.items.map((e) => [e.note, e]));
    expect(list.items).toHaveLength(2);
    const series = byNote.get(input.note);
    expect(series?.series?.count).toBe(3);
    expect(series).toMatchObject({ reason: 'DropThresholdExceeded', type: 'Warning', action: 'Evaluate', reportingController: 'dropwatch.dev/operator', reportingInstance: 'k8s-layer-test' });
    expect(series?.eventTime).toBeDefined();
    expect(byNote.get('a different note is a different series')?.series).toBeUndefined();

    // A namespaced subject's Event lives in its namespace.
    await recorder.record({ ...input, regarding: { apiVersion: 'v1', kind: 'ConfigMap', name: 'ssa-two-managers', namespace: NS } });
    const inNs = await clients.events.listNamespacedEvent({ namespace: NS, fieldSelector: 'regarding.name=ssa-two-managers' });
    expect(inNs.items).toHaveLength(1);
    for (const e of list.items) await clients.events.deleteNamespacedEvent({ name: e.metadata?.name ?? '', namespace: 'default' });
    recorder.stop();
  });
});
