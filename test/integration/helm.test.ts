// The Helm chart charts/dropwatch-operator on the real control plane with the real helm: lint,
// render and server-side dry-run (defaults and every option on, with the Prometheus Operator's
// real CRDs), assertions on the rendered manifests, then install, upgrade and uninstall. The
// operator RBAC is proven sufficient by running the real operator (dist/) with a token of the
// chart's ServiceAccount through a policy's whole life, and least by `kubectl auth can-i`.
// Needs `make build` first (it runs dist/cli/main.js) and the control plane (hack/controlplane.sh).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { POLICY_LABEL } from '../../src/domain/daemonset-plan.js';
import { callOptions, createKubeClients, kubeCall } from '../../src/k8s/client.js';
import { ensureCluster, repoRoot, writeTokenKubeconfig, type Cluster } from './cluster.js';
import { eventually } from './helpers/wait.js';

const NS = 'dwo-helm-test';
const RELEASE = 'dropwatch-operator';
const CHART = path.join(repoRoot, 'charts/dropwatch-operator');
const OPERATOR_SA = 'dropwatch-operator';
const AGENT_SA = 'dropwatch-agent';
const NODE = 'helm-node-a';
const SENSOR = 'helm-sensor-a';
const POLICY = 'helm-rbac-proof';
const TEST_LABEL = 'dwo-test';
const TEST_VALUE = 'helm';
const CRDS = ['dropwatchpolicies.dropwatch.dev', 'dropwatchnodereports.dropwatch.dev'];
const CLI = path.join(repoRoot, 'dist/cli/main.js');
const APP_VERSION = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
/** Every optional part switched on. */
const ALL_ON = [
  '--set', 'metrics.serviceMonitor.enabled=true',
  '--set', 'metrics.podMonitor.enabled=true',
  '--set', 'metrics.prometheusRule.enabled=true',
  '--set', 'grafanaDashboard.enabled=true',
];

let cluster: Cluster;
let kubeVersion: string;
let tmp: string;
let operator: ChildProcess | undefined;
let operatorLog = '';
/** CRDs that existed before this file ran (another test applied them): adopted, restored after. */
const preexistingCrds: string[] = [];
const monitoringCrdsCreated: string[] = [];

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(bin: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(bin, [...args], { env: { ...process.env, KUBECONFIG: cluster.kubeconfig, ...env }, maxBuffer: 64 << 20, timeout: 150_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const helm = (...args: string[]): Promise<Result> => run(path.join(cluster.binDir, 'helm'), args);

async function helmOk(...args: string[]): Promise<string> {
  const r = await helm(...args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A Kubernetes object as rendered (only the fields the assertions read are typed). */
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

async function render(...extra: string[]): Promise<Obj[]> {
  const out = await helmOk('template', RELEASE, CHART, '--namespace', NS, '--kube-version', kubeVersion, ...extra);
  return parseAllDocuments(out).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
}

function find(objs: readonly Obj[], kind: string, name?: string): Obj {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (o === undefined) throw new Error(`no ${kind} ${name ?? ''} rendered; have ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

async function exists(...args: string[]): Promise<boolean> {
  const r = await cluster.kubectlResult(['get', ...args, '-o', 'name', '--ignore-not-found']);
  return r.code === 0 && r.stdout.trim() !== '';
}

async function getJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await cluster.kubectl(['get', ...args, '-o', 'json'])) as T;
}

async function forceDeletePolicy(name: string): Promise<void> {
  if (!(await exists('dwp', name))) return;
  await cluster.kubectlResult(['patch', 'dwp', name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  await cluster.kubectlResult(['delete', 'dwp', name, '--wait=false', '--ignore-not-found']);
}

async function stopOperator(): Promise<number | null> {
  const p = operator;
  if (p === undefined) return null;
  operator = undefined;
  if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
  const exited = new Promise<number | null>((r) => p.once('close', (code) => r(code)));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** Removes everything this file creates except the CRDs (handled in afterAll). */
async function cleanup(): Promise<void> {
  await forceDeletePolicy(POLICY);
  await cluster.kubectlResult(['delete', 'dwnr', '-l', `${TEST_LABEL}=${TEST_VALUE}`, '--ignore-not-found']);
  if ((await helm('status', RELEASE, '-n', NS)).code === 0) await helm('uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '60s');
  await cluster.kubectlResult(['delete', 'node', NODE, SENSOR, '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

/**
 * Helm adopts an existing object only when it carries the release's ownership metadata; the CRDs
 * may already be there (applied with kubectl by earlier test files, or by a user before the
 * chart). This is the adoption step the chart README documents.
 */
async function adoptCrds(): Promise<void> {
  for (const crd of CRDS) {
    if (!(await exists('crd', crd))) continue;
    preexistingCrds.push(crd);
    await cluster.kubectl(['label', 'crd', crd, '--overwrite', 'app.kubernetes.io/managed-by=Helm']);
    await cluster.kubectl(['annotate', 'crd', crd, '--overwrite', `meta.helm.sh/release-name=${RELEASE}`, `meta.helm.sh/release-namespace=${NS}`]);
  }
}

async function restoreCrds(): Promise<void> {
  for (const crd of CRDS) {
    if (preexistingCrds.includes(crd)) {
      // Leave them as the earlier test files expect them: there, but owned by no release.
      await cluster.kubectlResult(['label', 'crd', crd, 'app.kubernetes.io/managed-by-']);
      await cluster.kubectlResult(['annotate', 'crd', crd, 'meta.helm.sh/release-name-', 'meta.helm.sh/release-namespace-', 'helm.sh/resource-policy-']);
    } else {
      await cluster.kubectlResult(['delete', 'crd', crd, '--ignore-not-found']);
    }
  }
}

function kwokNode(name: string, labels: Record<string, string>): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { type: 'kwok', 'kubernetes.io/hostname': name, [TEST_LABEL]: TEST_VALUE, ...labels } },
  };
}

beforeAll(async () => {
  cluster = ensureCluster();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dwo-helm-test-'));
  const version = JSON.parse(await cluster.kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
  kubeVersion = version.serverVersion.gitVersion;
  await cleanup();
  await adoptCrds();
  // The Prometheus Operator's CRDs, fetched from the Go module proxy, for the dry run of the
  // ServiceMonitor, PodMonitor and PrometheusRule; removed at the end if this file created them.
  const files = (await run('bash', [path.join(repoRoot, 'hack/monitoring-crds.sh')])).stdout.trim().split('\n').filter((l) => l !== '');
  expect(files).toHaveLength(3);
  for (const f of files) {
    const name = `${/monitoring\.coreos\.com_(\w+)\.yaml$/.exec(f)?.[1] ?? ''}.monitoring.coreos.com`;
    if (!(await exists('crd', name))) monitoringCrdsCreated.push(name);
    await cluster.kubectl(['apply', '--server-side', '--field-manager=dwo-helm-test', '-f', f]);
  }
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...monitoringCrdsCreated.map((n) => `crd/${n}`), 'crd/servicemonitors.monitoring.coreos.com']);
  await cluster.kubectl(['create', 'namespace', NS]);
  // Somewhere for kwok to "run" the operator pods (they become Running and Ready without a kubelet).
  await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(kwokNode(NODE, {})));
}, 120_000);

afterAll(async () => {
  await stopOperator();
  if (cluster) {
    await cleanup();
    await restoreCrds();
    for (const crd of monitoringCrdsCreated) await cluster.kubectlResult(['delete', 'crd', crd, '--ignore-not-found']);
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe('helm lint and values validation', () => {
  it('lints clean (--strict) with the defaults and with every option on', async () => {
    for (const extra of [[], ALL_ON]) {
      const r = await helm('lint', CHART, '--strict', '--kube-version', kubeVersion, ...extra);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it('refuses bad values with a message naming the value', async () => {
    // [values, message, also refused by lint]: `helm lint` reports a template's `fail` as INFO
    // only, so the cross-value check is asserted on `helm template` (and install) alone.
    const cases: [string[], RegExp, boolean?][] = [
      [['--set', 'replicas=two'], /\/replicas.*got string, want integer/],
      [['--set', 'replicas=0'], /\/replicas.*minimum/],
      [['--set', 'logLevel=verbose'], /\/logLevel.*value must be one of 'trace', 'debug', 'info', 'warn', 'error'/],
      [['--set', 'replicaCount=2'], /additional properties 'replicaCount' not allowed/],
      [['--set', 'metrics.serviceMonitor.enable=true'], /\/metrics\/serviceMonitor.*additional properties 'enable' not allowed/],
      [['--set', 'image.digest=latest'], /\/image\/digest.*does not match pattern/],
      [['--set', 'serviceAccount.name=dropwatch-agent'], /serviceAccount\.name and agent\.serviceAccount\.name must differ/, false],
    ];
    for (const [values, message, lint = true] of cases) {
      const t = await helm('template', RELEASE, CHART, '--namespace', NS, '--kube-version', kubeVersion, ...values);
      expect(t.code, `template ${values.join(' ')}`).not.toBe(0);
      expect(t.stderr, `template ${values.join(' ')}`).toMatch(message);
      if (!lint) continue;
      const l = await helm('lint', CHART, '--strict', '--kube-version', kubeVersion, ...values);
      expect(l.code, `lint ${values.join(' ')}`).not.toBe(0);
      expect(l.stdout + l.stderr, `lint ${values.join(' ')}`).toMatch(message);
    }
  });
});

describe('rendered manifests', () => {
  it('runs two hardened operator replicas with the documented arguments', async () => {
    const objs = await render();
    const deploy = find(objs, 'Deployment', RELEASE) as Obj & { spec: DeploymentSpec };
    expect(deploy.metadata.namespace).toBe(NS);
    expect(deploy.spec.replicas).toBe(2);
    const pod = deploy.spec.template.spec;
    expect(pod.serviceAccountName).toBe(OPERATOR_SA);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    if (c === undefined) throw new Error('no container');
    expect(c.image).toBe(`ghcr.io/dropwatch/dropwatch-operator:${APP_VERSION}`);
    expect(c.args).toEqual([
      'operator', '--namespace', NS, '--agent-image', `ghcr.io/dropwatch/dropwatch-agent:${APP_VERSION}`,
      '--agent-service-account', AGENT_SA, '--metrics-bind-address', ':8080', '--log-level', 'info',
      '--resync', '300', '--identity', '$(POD_NAME)',
    ]);
    expect(c.env).toEqual([{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]);
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532,
      capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c.resources?.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources?.limits).toMatchObject({ memory: expect.any(String) });
    // Replicas prefer different nodes, softly (a one-node cluster still runs both).
    const anti = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0];
    expect(anti?.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(pod.topologySpreadConstraints?.[0]?.whenUnsatisfiable).toBe('ScheduleAnyway');
    const pdb = find(objs, 'PodDisruptionBudget', RELEASE) as Obj & { spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } };
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(deploy.spec.selector.matchLabels);

    // Values reach the pod: digest pinning, names, scheduling knobs.
    const digest = `sha256:${'ab'.repeat(32)}`;
    const custom = find(await render(
      '--set', `image.digest=${digest}`, '--set', `agent.image.tag=9.9.9`, '--set', 'agent.serviceAccount.name=sensor-agent',
      '--set', 'logLevel=debug', '--set', 'replicas=3', '--set', 'priorityClassName=system-cluster-critical',
      '--set', 'nodeSelector.role=infra', '--set', 'podAnnotations.a=b', '--set', 'podLabels.team=net',
    ), 'Deployment') as Obj & { spec: DeploymentSpec };
    const cc = custom.spec.template.spec.containers[0];
    expect(cc?.image).toBe(`ghcr.io/dropwatch/dropwatch-operator@${digest}`);
    expect(cc?.args).toEqual(expect.arrayContaining(['ghcr.io/dropwatch/dropwatch-agent:9.9.9', 'sensor-agent', 'debug']));
    expect(custom.spec.replicas).toBe(3);
    expect(custom.spec.template.spec.priorityClassName).toBe('system-cluster-critical');
    expect(custom.spec.template.spec.nodeSelector).toEqual({ role: 'infra' });
    expect(custom.spec.template.metadata.annotations).toEqual({ a: 'b' });
    expect(custom.spec.template.metadata.labels).toMatchObject({ team: 'net', 'app.kubernetes.io/name': 'dropwatch-operator' });
    // One replica: no PodDisruptionBudget (it would block every drain).
    expect((await render('--set', 'replicas=1')).some((o) => o.kind === 'PodDisruptionBudget')).toBe(false);
  });

  it('grants RBAC without wildcards, namespaced kinds only through Roles', async () => {
    const objs = await render();
    const roles = objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role') as (Obj & { rules: Rule[] })[];
    expect(roles.map((r) => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`).sort()).toEqual([
      'ClusterRole//dropwatch-operator', 'ClusterRole//dropwatch-operator-agent', `Role/${NS}/dropwatch-operator`, 'Role/default/dropwatch-operator-events',
    ].sort());
    for (const r of roles) {
      for (const rule of r.rules) {
        for (const v of [...rule.apiGroups, ...rule.resources, ...rule.verbs, ...(rule.resourceNames ?? [])]) expect(v, `${r.metadata.name}`).not.toContain('*');
        expect(rule.resources, r.metadata.name).not.toEqual(expect.arrayContaining(['secrets']));
        expect(rule.resources, r.metadata.name).not.toEqual(expect.arrayContaining(['pods']));
      }
    }
    const cluster = roles.find((r) => r.kind === 'ClusterRole' && r.metadata.name === RELEASE);
    const clusterResources = cluster?.rules.flatMap((r) => r.resources) ?? [];
    expect(clusterResources.sort()).toEqual(['dropwatchnodereports', 'dropwatchpolicies', 'dropwatchpolicies/finalizers', 'dropwatchpolicies/status', 'nodes', 'nodes/status']);
    const role = roles.find((r) => r.kind === 'Role' && r.metadata.namespace === NS);
    expect(role?.rules.flatMap((r) => r.resources).sort()).toEqual(['daemonsets', 'leases', 'leases']);
    expect(role?.rules.find((r) => r.resourceNames !== undefined)).toMatchObject({ resources: ['leases'], resourceNames: ['dropwatch-operator'], verbs: ['get', 'update'] });
    const events = roles.find((r) => r.metadata.namespace === 'default');
    expect(events?.rules).toEqual([{ apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] }]);
    // The agent's ClusterRole is deploy/agent-rbac.yaml's, rule for rule.
    const deployed = parseAllDocuments(readFileSync(path.join(repoRoot, 'deploy/agent-rbac.yaml'), 'utf8')).map((d) => d.toJS() as Obj & { rules?: Rule[] });
    expect(roles.find((r) => r.metadata.name === `${RELEASE}-agent`)?.rules).toEqual(deployed.find((d) => d.kind === 'ClusterRole')?.rules);
    // Every binding names the right ServiceAccount in the release namespace.
    const bindings = objs.filter((o) => o.kind.endsWith('Binding') && !o.kind.startsWith('ValidatingAdmission')) as (Obj & { subjects: { kind: string; name: string; namespace: string }[]; roleRef: { name: string } })[];
    expect(bindings).toHaveLength(4);
    for (const b of bindings) {
      const sa = b.roleRef.name.endsWith('-agent') ? AGENT_SA : OPERATOR_SA;
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: NS }]);
    }
  });

  it('binds the admission policies to the release namespace and ServiceAccount names', async () => {
    const username = async (...extra: string[]): Promise<Record<string, string>> => {
      const objs = await render(...extra);
      const out: Record<string, string> = {};
      for (const p of objs.filter((o) => o.kind === 'ValidatingAdmissionPolicy') as (Obj & { spec: { matchConditions: { expression: string }[] } })[]) {
        out[p.metadata.name] = p.spec.matchConditions[0]?.expression ?? '';
      }
      return out;
    };
    expect(await username()).toEqual({
      [`${RELEASE}-agent-own-node-report`]: `request.userInfo.username == 'system:serviceaccount:${NS}:${AGENT_SA}'`,
      [`${RELEASE}-policy-finalizers-only`]: `request.userInfo.username == 'system:serviceaccount:${NS}:${OPERATOR_SA}'`,
    });
    expect(await username('--set', 'agent.serviceAccount.name=sensor-agent', '--set', 'serviceAccount.name=dwo')).toEqual({
      [`${RELEASE}-agent-own-node-report`]: `request.userInfo.username == 'system:serviceaccount:${NS}:sensor-agent'`,
      [`${RELEASE}-policy-finalizers-only`]: `request.userInfo.username == 'system:serviceaccount:${NS}:dwo'`,
    });
    // Apart from the names, the agent policy is the one in deploy/ (its tests cover the rules).
    const rendered = find(await render(), 'ValidatingAdmissionPolicy', `${RELEASE}-agent-own-node-report`) as Obj & { spec: Record<string, unknown> };
    const shipped = parseAllDocuments(readFileSync(path.join(repoRoot, 'deploy/admission-policy.yaml'), 'utf8'))[0]?.toJS() as { spec: Record<string, unknown> };
    expect({ ...rendered.spec, matchConditions: undefined }).toEqual({ ...shipped.spec, matchConditions: undefined });
    expect((await render('--set', 'admissionPolicy.enabled=false')).some((o) => o.kind.startsWith('ValidatingAdmissionPolicy'))).toBe(false);
  });

  it('ships the CRDs of crds/ unchanged, kept on uninstall unless crds.keep=false', async () => {
    for (const [extra, keep] of [[[], true], [['--set', 'crds.keep=false'], false]] as const) {
      const objs = await render(...extra);
      for (const crd of CRDS) {
        const rendered = find(objs, 'CustomResourceDefinition', crd);
        const file = path.join(repoRoot, 'crds', `dropwatch.dev_${crd.split('.')[0] ?? ''}.yaml`);
        const source = parseYaml(readFileSync(file, 'utf8')) as Obj;
        const { annotations, ...meta } = rendered.metadata;
        expect({ ...rendered, metadata: meta }).toEqual(source);
        expect(annotations).toEqual(keep ? { 'helm.sh/resource-policy': 'keep' } : undefined);
        expect(readFileSync(path.join(CHART, 'files/crds', path.basename(file)), 'utf8')).toBe(readFileSync(file, 'utf8'));
      }
    }
    expect((await render('--set', 'crds.install=false')).some((o) => o.kind === 'CustomResourceDefinition')).toBe(false);
  });

  it('creates monitoring objects only when asked, from the files in the chart', async () => {
    const kinds = ['ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'Service', 'ConfigMap'];
    expect((await render()).filter((o) => kinds.includes(o.kind))).toEqual([]);
    const objs = await render(...ALL_ON, '--set', 'metrics.podMonitor.labels.release=kps', '--set', 'grafanaDashboard.namespace=grafana');
    const svc = find(objs, 'Service') as Obj & { spec: { selector: Record<string, string>; ports: { name: string; port: number }[] } };
    const deploy = find(objs, 'Deployment') as Obj & { spec: DeploymentSpec };
    expect(svc.spec.selector).toEqual(deploy.spec.selector.matchLabels);
    expect(svc.spec.ports).toEqual([expect.objectContaining({ name: 'metrics', port: 8080, targetPort: 'metrics' })]);
    const sm = find(objs, 'ServiceMonitor') as Obj & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] } };
    expect(sm.spec.selector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
    expect(sm.spec.endpoints[0]?.port).toBe('metrics');
    const pm = find(objs, 'PodMonitor') as Obj & { spec: Record<string, unknown> };
    expect(pm.metadata.labels?.['release']).toBe('kps');
    expect(pm.spec).toMatchObject({
      // The job is named after the pod label, so alerts can match job="dropwatch-agent" whatever the release.
      jobLabel: 'app.kubernetes.io/name',
      namespaceSelector: { matchNames: [NS] },
      selector: { matchLabels: { 'app.kubernetes.io/name': 'dropwatch-agent' } },
      podMetricsEndpoints: [
        {
          port: 'metrics',
          relabelings: [
            { sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node', action: 'replace' },
            { sourceLabels: ['__meta_kubernetes_pod_label_dropwatch_dev_policy'], targetLabel: 'policy', action: 'replace' },
          ],
        },
      ],
    });
    // The labels those relabelings read are the ones the operator puts on agent pods.
    expect(POLICY_LABEL).toBe('dropwatch.dev/policy');
    const rule = find(objs, 'PrometheusRule') as Obj & { spec: unknown };
    expect(rule.spec).toEqual(parseYaml(readFileSync(path.join(CHART, 'files/prometheus-rules.yaml'), 'utf8')));
    const cm = find(objs, 'ConfigMap') as Obj & { data: Record<string, string> };
    expect(cm.metadata.namespace).toBe('grafana');
    expect(cm.metadata.labels?.['grafana_dashboard']).toBe('1');
    expect(JSON.parse(cm.data['dropwatch-operator.json'] ?? '')).toEqual(JSON.parse(readFileSync(path.join(CHART, 'files/grafana-dashboard.json'), 'utf8')));
  });
});

describe('server-side dry run on the real API server', () => {
  it('accepts every rendered object, with the defaults and with every option on', async () => {
    for (const extra of [[], ALL_ON]) {
      const manifest = await helmOk('template', RELEASE, CHART, '--namespace', NS, '--kube-version', kubeVersion, ...extra);
      const r = await cluster.kubectlResult(['apply', '--dry-run=server', '--server-side', '--force-conflicts', '--validate=strict', '--field-manager=dwo-helm-test', '-f', '-'], manifest);
      expect(r.code, r.stderr).toBe(0);
      const applied = r.stdout.split('\n').filter((l) => l.includes('(server dry run)'));
      expect(applied.length).toBe(parseAllDocuments(manifest).filter((d) => d.toJS() !== null).length);
      const monitoring = ['servicemonitor.monitoring.coreos.com/', 'podmonitor.monitoring.coreos.com/', 'prometheusrule.monitoring.coreos.com/', 'configmap/'];
      for (const m of monitoring) expect(applied.some((l) => l.startsWith(m)), m).toBe(extra.length > 0);
    }
  });
});

describe('install, upgrade, uninstall', () => {
  it('installs and the operator replicas become Ready', async () => {
    await helmOk('install', RELEASE, CHART, '--namespace', NS, '--wait', '--timeout', '120s');
    // helm --wait is satisfied with replicas - maxUnavailable ready; the rollout means all of them.
    await cluster.kubectl(['rollout', 'status', `deployment/${RELEASE}`, '-n', NS, '--timeout=60s']);
    const deploy = await getJson<{ status: { readyReplicas?: number } }>('deployment', RELEASE, '-n', NS);
    expect(deploy.status.readyReplicas).toBe(2);
    for (const sa of [OPERATOR_SA, AGENT_SA]) expect(await exists('serviceaccount', sa, '-n', NS)).toBe(true);
    for (const crd of CRDS) {
      const c = await getJson<Obj>('crd', crd);
      expect(c.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
      expect(c.metadata.annotations?.['meta.helm.sh/release-name']).toBe(RELEASE);
    }
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...CRDS.map((c) => `crd/${c}`)]);
    expect(await exists('validatingadmissionpolicy', `${RELEASE}-agent-own-node-report`)).toBe(true);
  });

  it('gives the operator enough RBAC: the real operator with the chart ServiceAccount runs a policy through its life', async () => {
    expect(existsSync(CLI), 'dist/cli/main.js is missing: run `make build` first').toBe(true);
    const started = Math.floor(Date.now() / 1000) * 1000;
    const kubeconfig = await tokenKubeconfig(OPERATOR_SA, 'operator');
    const who = JSON.parse(await cluster.kubectl(['--kubeconfig', kubeconfig, 'auth', 'whoami', '-o', 'json'])) as { status: { userInfo: { username: string } } };
    expect(who.status.userInfo.username).toBe(`system:serviceaccount:${NS}:${OPERATOR_SA}`);

    operator = spawn(process.execPath, [CLI, 'operator', '--kubeconfig', kubeconfig, '--namespace', NS, '--agent-image', 'registry.invalid/dropwatch-agent:test',
      '--agent-service-account', AGENT_SA, '--identity', 'helm-rbac-proof', '--log-level', 'debug', '--resync', '30'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (d: Buffer): void => {
      operatorLog += d.toString();
    };
    operator.stdout?.on('data', collect);
    operator.stderr?.on('data', collect);
    await eventually('the operator to lead (Lease create/get/update)', 20_000, () => operatorLog.includes('Caches synced; controller running'));
    const lease = await getJson<{ spec: { holderIdentity: string } }>('lease', 'dropwatch-operator', '-n', NS);
    expect(lease.spec.holderIdentity).toBe('helm-rbac-proof');

    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(kwokNode(SENSOR, { 'dropwatch.dev/sensor': 'helm' })));
    await cluster.kubectl(['apply', '--server-side', '--field-manager=dwo-helm-test', '-f', '-'], JSON.stringify({
      apiVersion: 'dropwatch.dev/v1alpha1',
      kind: 'DropWatchPolicy',
      metadata: { name: POLICY, labels: { [TEST_LABEL]: TEST_VALUE } },
      spec: {
        nodeSelector: { matchLabels: { 'dropwatch.dev/sensor': 'helm' } },
        heartbeatInterval: '30s',
        thresholds: [{ name: 'kernel-drops', metric: 'dropsPerSecond', warning: 100, critical: 1000, clear: 50, for: '0s' }],
      },
    }));
    // Finalizer (patch dropwatchpolicies), DaemonSet (create/patch daemonsets), status (patch status).
    await eventually('the finalizer', 20_000, async () => (await getJson<Obj & { metadata: { finalizers?: string[] } }>('dwp', POLICY)).metadata.finalizers?.includes('dropwatch.dev/cleanup'));
    await eventually('the agent DaemonSet', 20_000, () => exists('daemonset', `dropwatch-${POLICY}`, '-n', NS));
    await eventually('the policy status', 20_000, async () => ((await getJson<{ status?: { conditions?: unknown[] } }>('dwp', POLICY)).status?.conditions?.length ?? 0) > 0);

    // A report over the threshold, written as the agent would: Events (create in "default") and
    // the PacketLoss condition (patch nodes/status).
    await writeReport(2000);
    await eventually('PacketLoss=True on the sensor', 20_000, async () => {
      const n = await getJson<{ status: { conditions?: { type: string; status: string }[] } }>('node', SENSOR);
      return n.status.conditions?.some((c) => c.type === 'PacketLoss' && c.status === 'True');
    });
    await eventually('a DropThresholdExceeded Event about the sensor', 20_000, async () => {
      const list = await getJson<{ items: { reason: string; regarding: { kind: string; name: string }; reportingInstance: string; eventTime: string }[] }>('events.v1.events.k8s.io', '-n', 'default');
      // Events live for an hour: only this run's count (an earlier run wrote the same names).
      return list.items.some((e) => e.reason === 'DropThresholdExceeded' && e.regarding.kind === 'Node' && e.regarding.name === SENSOR &&
        e.reportingInstance === 'helm-rbac-proof' && Date.parse(e.eventTime) >= started);
    });

    // The admission policy: the operator's patch right covers its finalizer only. (Raw patches
    // through the client: `kubectl patch` and `kubectl label` would GET first, which RBAC refuses.)
    const asOperator = createKubeClients({ kubeconfigPath: kubeconfig });
    const patchAsOperator = async (body: object): Promise<string> => {
      try {
        await kubeCall('patch policy as the operator', () =>
          asOperator.custom.patchClusterCustomObject(
            { group: 'dropwatch.dev', version: 'v1alpha1', plural: 'dropwatchpolicies', name: POLICY, body },
            callOptions({ contentType: 'application/merge-patch+json', timeoutMs: 10_000 }),
          ));
        return 'allowed';
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
    };
    expect(await patchAsOperator({ spec: { heartbeatInterval: '45s' } })).toContain(`dropwatch-operator may not change the spec of DropWatchPolicy ${POLICY}`);
    expect(await patchAsOperator({ metadata: { labels: { stolen: 'yes' } } })).toContain('may not change the labels or annotations');
    expect(await patchAsOperator({ metadata: { annotations: { stolen: 'yes' } } })).toContain('may not change the labels or annotations');
    // The same patch as the admin passes: the policy is about the operator only.
    await cluster.kubectl(['annotate', 'dwp', POLICY, 'dwo-test/admin-may=yes']);

    // Deletion: DaemonSet and report deleted, PacketLoss removed, finalizer removed.
    await cluster.kubectl(['delete', 'dwp', POLICY, '--wait=true', '--timeout=30s']);
    expect(await exists('daemonset', `dropwatch-${POLICY}`, '-n', NS)).toBe(false);
    expect(await exists('dwnr', `${POLICY}.${SENSOR}`)).toBe(false);
    await eventually('the agent pods gone with their DaemonSet', 30_000, async () =>
      (await cluster.kubectl(['get', 'pods', '-n', NS, '-l', `dropwatch.dev/policy=${POLICY}`, '-o', 'name'])).trim() === '');
    await eventually('PacketLoss removed from the sensor', 20_000, async () => {
      const n = await getJson<{ status: { conditions?: { type: string }[] } }>('node', SENSOR);
      return !(n.status.conditions ?? []).some((c) => c.type === 'PacketLoss');
    });

    // SIGTERM: a graceful stop (exit 128+15 by src/runtime/shutdown.ts) that releases the Lease.
    expect(await stopOperator()).toBe(143);
    writeFileSync(path.join(tmp, 'operator.log'), operatorLog);
    expect(operatorLog).toMatch(/"released":true[^\n]*"msg":"Stopped"/);
    expect((await getJson<{ spec: { holderIdentity?: string } }>('lease', 'dropwatch-operator', '-n', NS)).spec.holderIdentity ?? '').toBe('');
    expect(operatorLog).toContain('Cleaned up; removed finalizer');
    expect(operatorLog).not.toMatch(/Forbidden|HTTP 403|DWO_E_API_FORBIDDEN|DWO_E_API_UNAUTHORIZED/);
    // No error (a terminal failure such as a rejected DaemonSet logs at 50). Warnings happen and
    // are fine: the threshold transition itself, and a 429 while the new CRDs' storage starts.
    expect(operatorLog.split('\n').filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
  });

  it('denies the operator and the agents what they do not need (kubectl auth can-i)', async () => {
    const can = async (sa: string, ...args: string[]): Promise<boolean> => {
      const r = await cluster.kubectlResult(['auth', 'can-i', '--as', `system:serviceaccount:${NS}:${sa}`, ...args]);
      return r.stdout.trim() === 'yes';
    };
    const operatorMust: string[][] = [
      ['list', 'dropwatchpolicies.dropwatch.dev'], ['watch', 'dropwatchpolicies.dropwatch.dev'], ['patch', 'dropwatchpolicies.dropwatch.dev', '--subresource=status'],
      ['patch', 'dropwatchpolicies.dropwatch.dev'], ['update', 'dropwatchpolicies.dropwatch.dev', '--subresource=finalizers'],
      ['list', 'dropwatchnodereports.dropwatch.dev'], ['delete', 'dropwatchnodereports.dropwatch.dev'], ['list', 'nodes'], ['patch', 'nodes', '--subresource=status'],
      ['create', 'daemonsets.apps', '-n', NS], ['patch', 'daemonsets.apps', '-n', NS], ['delete', 'daemonsets.apps', '-n', NS],
      ['create', 'leases.coordination.k8s.io', '-n', NS], ['update', 'leases.coordination.k8s.io/dropwatch-operator', '-n', NS],
      ['create', 'events.events.k8s.io', '-n', 'default'], ['patch', 'events.events.k8s.io', '-n', 'default'],
    ];
    for (const a of operatorMust) expect(await can(OPERATOR_SA, ...a), `operator may ${a.join(' ')}`).toBe(true);
    const operatorMustNot: string[][] = [
      ['get', 'secrets', '-n', NS], ['list', 'secrets', '-A'], ['get', 'configmaps', '-n', NS],
      ['delete', 'nodes'], ['patch', 'nodes'], ['get', 'nodes'], ['create', 'pods', '-n', NS], ['create', 'pods', '--subresource=exec', '-n', NS],
      ['update', 'dropwatchpolicies.dropwatch.dev'], ['create', 'dropwatchpolicies.dropwatch.dev'], ['delete', 'dropwatchpolicies.dropwatch.dev'],
      ['create', 'dropwatchnodereports.dropwatch.dev'], ['patch', 'dropwatchnodereports.dropwatch.dev'], ['patch', 'dropwatchnodereports.dropwatch.dev', '--subresource=status'],
      ['update', 'dropwatchpolicies.dropwatch.dev', '--subresource=status'], ['get', 'dropwatchpolicies.dropwatch.dev'], ['patch', 'nodes', '--subresource=proxy'],
      ['create', 'daemonsets.apps', '-n', 'kube-system'], ['create', 'deployments.apps', '-n', NS], ['update', 'daemonsets.apps', '-n', NS],
      ['get', 'leases.coordination.k8s.io/kube-scheduler', '-n', NS], ['delete', 'leases.coordination.k8s.io', '-n', NS], ['update', 'leases.coordination.k8s.io', '-n', 'kube-system'],
      ['create', 'events.events.k8s.io', '-n', 'kube-system'], ['create', 'events', '-n', NS], ['create', 'serviceaccounts', '--subresource=token', '-n', NS],
      ['create', 'clusterrolebindings'], ['escalate', 'clusterroles'], ['bind', 'clusterroles'], ['impersonate', 'serviceaccounts'],
      ['delete', 'customresourcedefinitions.apiextensions.k8s.io'],
    ];
    for (const a of operatorMustNot) expect(await can(OPERATOR_SA, ...a), `operator may not ${a.join(' ')}`).toBe(false);
    // The agent: get policies, write reports, nothing else.
    for (const a of [['get', 'dropwatchpolicies.dropwatch.dev'], ['create', 'dropwatchnodereports.dropwatch.dev'], ['patch', 'dropwatchnodereports.dropwatch.dev'], ['patch', 'dropwatchnodereports.dropwatch.dev', '--subresource=status']]) {
      expect(await can(AGENT_SA, ...a), `agent may ${a.join(' ')}`).toBe(true);
    }
    for (const a of [['list', 'dropwatchpolicies.dropwatch.dev'], ['delete', 'dropwatchnodereports.dropwatch.dev'], ['get', 'dropwatchnodereports.dropwatch.dev'], ['patch', 'nodes', '--subresource=status'], ['patch', 'dropwatchpolicies.dropwatch.dev', '--subresource=status'], ['get', 'secrets', '-n', NS], ['create', 'pods', '-n', NS]]) {
      expect(await can(AGENT_SA, ...a), `agent may not ${a.join(' ')}`).toBe(false);
    }
  });

  it('upgrades: a changed value goes live, the CRDs are brought back to the chart, revision 2', async () => {
    // An outdated CRD in the cluster (as an earlier chart version would have left it): helm upgrade
    // must bring it to the chart's version, which Helm's crds/ directory would never do.
    const crd = CRDS[0] ?? '';
    await cluster.kubectl(['patch', 'crd', crd, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/versions/0/schema/openAPIV3Schema/description', value: 'outdated' }])]);
    await helmOk('upgrade', RELEASE, CHART, '--namespace', NS, '--reuse-values', '--set', 'logLevel=debug', '--set', 'podAnnotations.dropwatch\\.dev/upgraded=yes', '--wait', '--timeout', '120s');
    await cluster.kubectl(['rollout', 'status', `deployment/${RELEASE}`, '-n', NS, '--timeout=60s']);
    const deploy = await getJson<Obj & { spec: DeploymentSpec; status: { readyReplicas?: number; updatedReplicas?: number } }>('deployment', RELEASE, '-n', NS);
    expect(deploy.spec.template.spec.containers[0]?.args).toEqual(expect.arrayContaining(['--log-level', 'debug']));
    expect(deploy.spec.template.metadata.annotations).toEqual({ 'dropwatch.dev/upgraded': 'yes' });
    expect(deploy.status.readyReplicas).toBe(2);
    expect(deploy.status.updatedReplicas).toBe(2);
    const pods = await getJson<{ items: { metadata: { annotations?: Record<string, string> }; status: { phase: string } }[] }>('pods', '-n', NS, '-l', `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=operator`);
    expect(pods.items.filter((p) => p.metadata.annotations?.['dropwatch.dev/upgraded'] === 'yes' && p.status.phase === 'Running').length).toBeGreaterThanOrEqual(2);
    const live = await getJson<{ spec: { versions: { schema: { openAPIV3Schema: { description: string } } }[] } }>('crd', crd);
    const source = parseYaml(readFileSync(path.join(repoRoot, 'crds/dropwatch.dev_dropwatchpolicies.yaml'), 'utf8')) as typeof live;
    expect(live.spec.versions[0]?.schema.openAPIV3Schema.description).toBe(source.spec.versions[0]?.schema.openAPIV3Schema.description);
    const status = JSON.parse(await helmOk('status', RELEASE, '-n', NS, '-o', 'json')) as { version: number; info: { status: string } };
    expect(status).toMatchObject({ version: 2, info: { status: 'deployed' } });
  });

  it('uninstalls everything but the kept CRDs', async () => {
    await helmOk('uninstall', RELEASE, '--namespace', NS, '--wait', '--timeout', '60s');
    // Nothing of the release is left in its namespace (Helm's release Secrets included) ...
    const left = await cluster.kubectl(['get', 'deployment,replicaset,pod,serviceaccount,role,rolebinding,poddisruptionbudget,service,configmap,secret', '-n', NS, '-o', 'name']);
    expect(left.split('\n').filter((l) => l !== '' && l !== 'configmap/kube-root-ca.crt' && l !== 'serviceaccount/default')).toEqual([]);
    // ... nor cluster-wide or in "default". (kubectl must answer: a typo in a kind is an error, not "gone".)
    const objects: [string, string, string[]][] = [
      ['clusterrole', RELEASE, []], ['clusterrole', `${RELEASE}-agent`, []], ['clusterrolebinding', RELEASE, []], ['clusterrolebinding', `${RELEASE}-agent`, []],
      ['role', `${RELEASE}-events`, ['-n', 'default']], ['rolebinding', `${RELEASE}-events`, ['-n', 'default']],
      ['validatingadmissionpolicy', `${RELEASE}-agent-own-node-report`, []], ['validatingadmissionpolicy', `${RELEASE}-policy-finalizers-only`, []],
      ['validatingadmissionpolicybinding', `${RELEASE}-agent-own-node-report`, []], ['validatingadmissionpolicybinding', `${RELEASE}-policy-finalizers-only`, []],
    ];
    for (const [kind, name, ns] of objects) {
      const r = await cluster.kubectlResult(['get', kind, name, ...ns, '--ignore-not-found', '-o', 'name']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim(), `${kind} ${name}`).toBe('');
    }
    expect((await helm('status', RELEASE, '-n', NS)).code).not.toBe(0);
    for (const crd of CRDS) expect(await exists('crd', crd), crd).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

interface Container {
  image: string;
  args: string[];
  env?: unknown[];
  ports?: unknown[];
  securityContext?: unknown;
  livenessProbe?: { httpGet: unknown };
  readinessProbe?: { httpGet: unknown };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

interface DeploymentSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: {
    metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
    spec: {
      serviceAccountName: string;
      securityContext: unknown;
      containers: Container[];
      priorityClassName?: string;
      nodeSelector?: Record<string, string>;
      affinity?: {
        podAntiAffinity?: {
          preferredDuringSchedulingIgnoredDuringExecution?: { podAffinityTerm: { topologyKey: string } }[];
          requiredDuringSchedulingIgnoredDuringExecution?: unknown[];
        };
      };
      topologySpreadConstraints?: { whenUnsatisfiable: string }[];
    };
  };
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** A kubeconfig with a 10-minute token of a ServiceAccount of the release (never the admin's). */
async function tokenKubeconfig(sa: string, name: string): Promise<string> {
  const token = (await cluster.kubectl(['create', 'token', sa, '-n', NS, '--duration', '10m'])).trim();
  return writeTokenKubeconfig(cluster, path.join(tmp, `${name}-kubeconfig`), sa, token);
}

/** The sensor's report as its agent would write it (server-side apply of object, then status). */
async function writeReport(dropsPerSecond: number): Promise<void> {
  const now = new Date();
  const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const seconds = 2;
  const obj = { apiVersion: 'dropwatch.dev/v1alpha1', kind: 'DropWatchNodeReport', metadata: { name: `${POLICY}.${SENSOR}`, labels: { [TEST_LABEL]: TEST_VALUE } }, spec: { policy: POLICY, nodeName: SENSOR } };
  const status = {
    policyGeneration: 1,
    window: { start: iso(new Date(now.getTime() - seconds * 1000)), end: iso(now), seconds },
    totals: { drops: dropsPerSecond * seconds, dropsPerSecond },
    ladder: { transport: { drops: dropsPerSecond * seconds, dropsPerSecond } },
    drops: [{ symbol: '__udp4_lib_rcv', offset: 0x4bc, address: '0xffffffff8204674c', reason: 'NO_SOCKET', layer: 'transport', count: dropsPerSecond * seconds, rate: dropsPerSecond }],
    lastHeartbeatTime: iso(now),
  };
  await cluster.kubectl(['apply', '--server-side', '--field-manager=dropwatch-agent', '-f', '-'], JSON.stringify(obj));
  await cluster.kubectl(['apply', '--server-side', '--field-manager=dropwatch-agent', '--subresource=status', '-f', '-'], JSON.stringify({ ...obj, status }));
}
