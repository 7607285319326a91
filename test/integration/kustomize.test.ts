// The daemonset/ kustomize base (metrics-only agents, no operator) on the real control plane with
// kwok nodes: it builds with `kubectl kustomize`, passes a server-side dry run, applies, runs an
// agent pod on every node that admits it, and deletes cleanly. Its pod matches what the operator
// plans for a policy with default spec (planAgentDaemonSet, imported here, so the two cannot
// drift), every privilege it grants carries its reason as a comment, and the overlay from
// daemonset/README.md changes the namespace, the image and the nodes.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { DropWatchPolicySpec } from '../../src/api/generated/types.js';
import { AGENT_FLAGS, planAgentDaemonSet, PRIVILEGE_REASONS, type DaemonSetManifest } from '../../src/domain/daemonset-plan.js';
import { ensureCluster, repoRoot, type Cluster } from './cluster.js';
import { eventually } from './helpers/wait.js';

const BASE = path.join(repoRoot, 'daemonset');
const BASE_NS = 'dropwatch-system';
const OVERLAY_NS = 'sensor-monitoring';
const IMAGE = 'ghcr.io/dropwatch/dropwatch-agent:0.1.0';
const LABEL = 'dwo-kustomize-test';
const TAINT = { key: 'dropwatch.dev/sensor-only', value: 'true', effect: 'NoSchedule' };
// tainted: a sensor the README overlay tolerates; span: an untainted sensor; plain: not a sensor.
const NODES = { tainted: 'kz-sensor-tainted', span: 'kz-sensor-span', plain: 'kz-plain' } as const;

let cluster: Cluster;
let tmp: string;

interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}
type DaemonSetDoc = DaemonSetManifest & { spec: { template: { spec: DaemonSetManifest['spec']['template']['spec'] & { nodeSelector?: Record<string, string>; tolerations?: unknown[] } } } };

async function build(dir: string): Promise<Doc[]> {
  const out = await cluster.kubectl(['kustomize', dir]);
  return parseAllDocuments(out).map((d) => d.toJSON() as Doc);
}

const daemonSetOf = (docs: Doc[]): DaemonSetDoc => docs.find((d) => d.kind === 'DaemonSet') as unknown as DaemonSetDoc;

/** The agent pods of a namespace, Running ones by node. */
async function runningPods(ns: string): Promise<string[]> {
  const pods = JSON.parse(await cluster.kubectl(['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/name=dropwatch-agent', '-o', 'json'])) as {
    items: { spec: { nodeName?: string }; status: { phase: string } }[];
  };
  return pods.items.filter((p) => p.status.phase === 'Running').map((p) => p.spec.nodeName ?? '').filter((n) => (Object.values(NODES) as string[]).includes(n)).sort();
}

async function nsGone(ns: string): Promise<boolean> {
  const r = await cluster.kubectlResult(['get', 'namespace', ns, '-o', 'name', '--ignore-not-found']);
  return r.code === 0 && r.stdout.trim() === '';
}

/** The spec the API server gives a DropWatchPolicy that sets only a nodeSelector (the CRD's defaults). */
async function defaultPolicySpec(): Promise<DropWatchPolicySpec> {
  const policy = { apiVersion: 'dropwatch.dev/v1alpha1', kind: 'DropWatchPolicy', metadata: { name: 'kz-defaults' }, spec: { nodeSelector: { matchLabels: { [LABEL]: 'x' } } } };
  const out = await cluster.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(policy));
  return (JSON.parse(out) as { spec: DropWatchPolicySpec }).spec;
}

/** Removes what a base or overlay created; kwok finishes the pods' deletion. */
async function remove(ns: string): Promise<void> {
  await cluster.kubectlResult(['delete', 'daemonset', 'dropwatch-agent', '-n', ns, '--ignore-not-found', '--wait=false']);
  // A pod on a node without a kubelet (another test's leftover Node) would block the namespace.
  await cluster.kubectlResult(['delete', 'pods', '-n', ns, '-l', 'app.kubernetes.io/name=dropwatch-agent', '--force', '--grace-period=0', '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'namespace', ns, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

beforeAll(async () => {
  cluster = ensureCluster();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dwo-kustomize-'));
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=dwo-test', '-f', path.join(repoRoot, 'crds')]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/dropwatchpolicies.dropwatch.dev']);
  for (const ns of [BASE_NS, OVERLAY_NS]) await remove(ns);
  await cluster.kubectlResult(['delete', 'node', ...Object.values(NODES), '--ignore-not-found']);
  for (const [key, name] of Object.entries(NODES)) {
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { [LABEL]: 'true', 'kubernetes.io/hostname': name, ...(key === 'plain' ? {} : { 'dropwatch.dev/sensor': 'span' }) } },
      spec: key === 'tainted' ? { taints: [TAINT] } : {},
    }));
  }
  await eventually('kwok nodes Ready', 60_000, async () => {
    for (const n of Object.values(NODES)) {
      const j = JSON.parse(await cluster.kubectl(['get', 'node', n, '-o', 'json'])) as { status: { conditions?: { type: string; status: string }[] } };
      if (!j.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return false;
    }
    return true;
  });
}, 300_000);

afterAll(async () => {
  if (cluster) {
    for (const ns of [BASE_NS, OVERLAY_NS]) await remove(ns);
    await cluster.kubectlResult(['delete', 'node', ...Object.values(NODES), '--ignore-not-found']);
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe('daemonset/ kustomize base', () => {
  it('builds: a Namespace, a token-less ServiceAccount and the DaemonSet, all in dropwatch-system', async () => {
    const docs = await build(BASE);
    expect(docs.map((d) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`)).toEqual([
      `Namespace//${BASE_NS}`,
      `ServiceAccount/${BASE_NS}/dropwatch-agent-metrics`,
      `DaemonSet/${BASE_NS}/dropwatch-agent`,
    ]);
    expect(docs[1]).toMatchObject({ automountServiceAccountToken: false });
    const pod = daemonSetOf(docs).spec.template.spec;
    expect(pod).toMatchObject({ serviceAccountName: 'dropwatch-agent-metrics', automountServiceAccountToken: false });
    expect(pod.containers[0]?.image).toBe(IMAGE);
    // No RBAC at all: metrics-only agents never call the API.
    expect(docs.some((d) => /Role/.test(d.kind))).toBe(false);
  });

  it('runs the pod the operator plans for a default policy (security context, mounts, network, port, probes, flags)', async () => {
    const spec = await defaultPolicySpec();
    const plan = planAgentDaemonSet({ metadata: { name: 'defaults' }, spec }, { namespace: BASE_NS, defaultImage: IMAGE, serviceAccount: 'dropwatch-agent-metrics', operatorVersion: '0.1.0' });
    const planned = plan.spec.template.spec;
    const plannedC = planned.containers[0]!;
    const ds = daemonSetOf(await build(BASE));
    const pod = ds.spec.template.spec;
    const c = pod.containers[0]!;

    expect(c.securityContext).toEqual(plannedC.securityContext);
    expect(c.volumeMounts).toEqual(plannedC.volumeMounts);
    expect(pod.volumes).toEqual(planned.volumes);
    for (const k of ['hostNetwork', 'dnsPolicy', 'enableServiceLinks', 'terminationGracePeriodSeconds'] as const) expect(pod[k]).toEqual(planned[k]);
    expect(c.name).toBe(plannedC.name);
    expect(c.ports).toEqual(plannedC.ports);
    expect(c.readinessProbe).toEqual(plannedC.readinessProbe);
    expect(c.livenessProbe).toEqual(plannedC.livenessProbe);
    expect(ds.spec.updateStrategy).toEqual(plan.spec.updateStrategy);
    expect(ds.spec.template.metadata.annotations['kubectl.kubernetes.io/default-container']).toBe(plannedC.name);
    // Resources: none by default, like the plan.
    expect(c.resources).toEqual(plannedC.resources);

    // Flags: the plan's, where they apply to an agent that publishes nothing.
    const notApplicable = new Set<string>([AGENT_FLAGS.policy, AGENT_FLAGS.nodeName, AGENT_FLAGS.heartbeatInterval]);
    const pairs = (args: readonly string[]): string[] => {
      const out: string[] = [];
      for (let i = 1; i < args.length; i++) {
        const a = args[i] ?? '';
        if (!a.startsWith('--')) continue;
        const v = args[i + 1];
        out.push(v === undefined || v.startsWith('--') ? a : `${a} ${v}`);
      }
      return out;
    };
    const planArgs = pairs(plannedC.args).filter((p) => !notApplicable.has(p.split(' ')[0] ?? ''));
    expect(c.args[0]).toBe(plannedC.args[0]);
    expect(pairs(c.args).sort()).toEqual([...planArgs, '--metrics-only'].sort());
    expect(c.env ?? []).toEqual([]);
  });

  it('gives every privilege it grants a comment naming its PRIVILEGE_REASONS entry', async () => {
    const text = readFileSync(path.join(BASE, 'daemonset.yaml'), 'utf8');
    const comments = text.split('\n').filter((l) => l.trim().startsWith('#')).join('\n');
    const pod = daemonSetOf(await build(BASE)).spec.template.spec;
    const granted = [
      ...(pod.containers[0]?.securityContext.capabilities?.add ?? []).map((cap) => `capability:${cap}`),
      ...pod.volumes.map((v) => `hostPath:${v.hostPath.path}`),
      ...(pod.hostNetwork ? ['hostNetwork'] : []),
      ...(pod.containers[0]?.securityContext.runAsUser === 0 ? ['runAsUser:0'] : []),
      ...(pod.containers[0]?.securityContext.privileged ? ['privileged'] : []),
    ];
    expect(granted).toEqual(['capability:SYSLOG', 'hostPath:/sys/kernel/tracing', 'hostNetwork', 'runAsUser:0']);
    for (const key of granted) {
      expect(PRIVILEGE_REASONS[key], key).toBeDefined();
      expect(comments, key).toContain(`PRIVILEGE_REASONS['${key}']`);
    }
  });

  it('passes a server-side dry run, applies, runs on every node that admits it, and deletes cleanly', { timeout: 180_000 }, async () => {
    // A server dry run cannot create objects in a namespace that does not exist yet: create the
    // base's own Namespace first, then dry-run everything.
    const ns = (await build(BASE)).find((d) => d.kind === 'Namespace');
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(ns));
    const dry = await cluster.kubectl(['apply', '-k', BASE, '--dry-run=server']);
    expect(dry.trim().split('\n')).toEqual([
      `namespace/${BASE_NS} unchanged (server dry run)`,
      'serviceaccount/dropwatch-agent-metrics created (server dry run)',
      'daemonset.apps/dropwatch-agent created (server dry run)',
    ]);
    expect((await cluster.kubectl(['get', 'daemonsets,serviceaccounts', '-n', BASE_NS, '-l', 'app.kubernetes.io/name=dropwatch-agent', '-o', 'name'])).trim()).toBe('');

    await cluster.kubectl(['apply', '-k', BASE]);
    // The untainted nodes get a Running agent (kwok plays the kubelet); the tainted sensor does not,
    // since the base tolerates nothing.
    const running = await eventually('agent pods Running on the untainted nodes', 60_000, async () => {
      const on = await runningPods(BASE_NS);
      return on.length === 2 ? on : undefined;
    }, 500);
    expect(running).toEqual([NODES.plain, NODES.span].sort());

    // What the API server stored keeps the planned security context and mounts.
    const stored = JSON.parse(await cluster.kubectl(['get', 'daemonset', 'dropwatch-agent', '-n', BASE_NS, '-o', 'json'])) as DaemonSetDoc;
    const spec = await defaultPolicySpec();
    const planned = planAgentDaemonSet({ metadata: { name: 'defaults' }, spec }, { namespace: BASE_NS, defaultImage: IMAGE, serviceAccount: 'x', operatorVersion: '0.1.0' }).spec.template.spec;
    expect(stored.spec.template.spec.containers[0]?.securityContext).toEqual(planned.containers[0]?.securityContext);
    expect(stored.spec.template.spec.volumes).toEqual(planned.volumes);
    expect(stored.spec.template.spec.automountServiceAccountToken).toBe(false);

    await cluster.kubectl(['delete', '-k', BASE, '--wait=true', '--timeout=90s']);
    await eventually('the namespace to be gone', 60_000, () => nsGone(BASE_NS), 500);
  });

  it('takes the README overlay: another namespace, another image, only the (tainted) sensor nodes', { timeout: 180_000 }, async () => {
    // The overlay exactly as daemonset/README.md shows it, pointed at the base.
    const readme = readFileSync(path.join(BASE, 'README.md'), 'utf8');
    const block = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const overlay = path.join(tmp, 'my-sensors');
    mkdirSync(overlay);
    writeFileSync(path.join(overlay, 'kustomization.yaml'), (block ?? '').replace('../daemonset', path.relative(overlay, BASE)));

    const docs = await build(overlay);
    expect(docs.map((d) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`)).toEqual([
      `Namespace//${OVERLAY_NS}`,
      `ServiceAccount/${OVERLAY_NS}/dropwatch-agent-metrics`,
      `DaemonSet/${OVERLAY_NS}/dropwatch-agent`,
    ]);
    const pod = daemonSetOf(docs).spec.template.spec;
    expect(pod.containers[0]?.image).toBe('registry.example.com/mirror/dropwatch-agent:0.1.0');
    expect(pod.nodeSelector).toEqual({ 'dropwatch.dev/sensor': 'span' });
    // The patch leaves the rest of the pod alone.
    expect(pod.containers[0]?.securityContext).toEqual(daemonSetOf(await build(BASE)).spec.template.spec.containers[0]?.securityContext);

    await cluster.kubectl(['apply', '-k', overlay]);
    const running = await eventually('agent pods Running on both sensors', 60_000, async () => {
      const on = await runningPods(OVERLAY_NS);
      return on.length === 2 ? on : undefined;
    }, 500);
    expect(running).toEqual([NODES.tainted, NODES.span].sort());
    expect(await nsGone(BASE_NS)).toBe(true);

    await cluster.kubectl(['delete', '-k', overlay, '--wait=true', '--timeout=90s']);
    await eventually('the overlay namespace to be gone', 60_000, () => nsGone(OVERLAY_NS), 500);
  });
});
