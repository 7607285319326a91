// GitOps integration on the real control plane: the Argo CD health check (gitops/argocd/health.lua,
// run with lua5.4 as Argo CD would run it) judged on DropWatchPolicy objects whose status the real
// operator wrote, in every state it can be in; and the Argo CD / Flux manifests in gitops/
// dry-run against the real Argo CD and Flux CRDs (fetched from the Go module proxy, cached).
// DWO_RECORD_GITOPS_FIXTURES=1 also writes the objects to gitops/argocd/testdata/ for the unit test.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { evaluateHealth } from '../../gitops/argocd/harness.mjs';
import type { DropWatchNodeReportStatus } from '../../src/api/generated/types.js';
import { parseOperatorConfig } from '../../src/config/operator.js';
import { runOperator, type RunningOperator } from '../../src/operator/main.js';
import { ensureCluster, repoRoot, type Cluster } from './cluster.js';
import { eventually } from './helpers/wait.js';

const NS = 'dwo-gitops-test';
const LABEL = 'dwo-test';
const VALUE = 'gitops';
const POLICY = 'gitops-sensors';
const STALLED = 'gitops-stalled';
const NODES = ['gitops-sensor-a', 'gitops-sensor-b'] as const;
const AGENT = 'dropwatch-agent';
const RECORD = process.env.DWO_RECORD_GITOPS_FIXTURES === '1';
const TESTDATA = path.join(repoRoot, 'gitops/argocd/testdata');

let cluster: Cluster;
let logDir: string;
let operator: RunningOperator | undefined;
let operators = 0;
const recorded: { file: string; status: string; message: string }[] = [];

interface PolicyJson {
  metadata: { name: string; generation: number; deletionTimestamp?: string; managedFields?: unknown };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string; reason: string; message: string }[] };
}

async function policy(name: string): Promise<PolicyJson> {
  return JSON.parse(await cluster.kubectl(['get', 'dwp', name, '-o', 'json'])) as PolicyJson;
}

const cond = (p: PolicyJson, type: string) => p.status?.conditions?.find((c) => c.type === type);

/** Judges the live object with the Lua script; optionally records it as a fixture. */
function judge(p: PolicyJson, fixture: string): { status: string; message: string } {
  const hs = evaluateHealth(p);
  if (RECORD) {
    const metadata = { ...p.metadata };
    delete metadata.managedFields;
    mkdirSync(TESTDATA, { recursive: true });
    writeFileSync(path.join(TESTDATA, `${fixture}.yaml`), `# Recorded from the real operator by test/integration/gitops.test.ts.\n${stringify({ ...p, metadata })}`);
    recorded.push({ file: `testdata/${fixture}.yaml`, ...hs });
  }
  return hs;
}

async function startOperator(): Promise<void> {
  operators += 1;
  const identity = `gitops-${operators}`;
  const logger = pino({ level: 'info', base: { test: 'gitops' } }, pino.destination({ dest: path.join(logDir, `${identity}.log`), sync: true }));
  const config = parseOperatorConfig({ kubeconfig: cluster.kubeconfig, namespace: NS, agentImage: 'registry.invalid/dropwatch-agent:test', identity, resyncMs: 60_000 });
  const op = await runOperator(config, { version: '0.1.0', logger });
  operator = op;
  await eventually(`${identity} to lead`, 30_000, () => op.isLeader() && op.controller() !== undefined);
}

async function stopOperator(): Promise<void> {
  await operator?.stop();
  operator = undefined;
}

function policyManifest(name: string, extra: object = {}): object {
  return {
    apiVersion: 'dropwatch.dev/v1alpha1',
    kind: 'DropWatchPolicy',
    metadata: { name },
    spec: {
      nodeSelector: { matchLabels: { [LABEL]: VALUE } },
      samplingInterval: '1s',
      reportInterval: '2s',
      heartbeatInterval: '30s',
      thresholds: [{ name: 'kernel-drops', metric: 'dropsPerSecond', warning: 100, critical: 1000, for: '0s' }],
      ...extra,
    },
  };
}

function reportStatus(lostEvents: number): DropWatchNodeReportStatus {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    policyGeneration: 1,
    window: { start: now, end: now, seconds: 2 },
    agent: {
      version: '0.1.0',
      kernel: '6.18.0-1-amd64',
      sources: ['tracepoint', 'counters'],
      capabilities: { tracefs: true, reasonField: true, kallsyms: true, histTriggers: false, dropMonitor: false, ethtool: true },
    },
    totals: { drops: 20, dropsPerSecond: 10 },
    ladder: { transport: { drops: 20, dropsPerSecond: 10 } },
    drops: [{ symbol: '__udp4_lib_rcv', offset: 0x4bc, reason: 'NO_SOCKET', layer: 'transport', count: 20, rate: 10 }],
    monitor: { lostEvents, parseErrors: 0 },
    lastHeartbeatTime: now,
  };
}

/** Writes a report as the agent does: server-side apply of the object, then of its status. */
async function writeReport(node: string, lostEvents = 0): Promise<void> {
  const obj = { apiVersion: 'dropwatch.dev/v1alpha1', kind: 'DropWatchNodeReport', metadata: { name: `${POLICY}.${node}`, labels: { [LABEL]: VALUE } }, spec: { policy: POLICY, nodeName: node } };
  await cluster.kubectl(['apply', '--server-side', `--field-manager=${AGENT}`, '-f', '-'], JSON.stringify(obj));
  await cluster.kubectl(['apply', '--server-side', `--field-manager=${AGENT}`, '--subresource=status', '-f', '-'], JSON.stringify({ ...obj, status: reportStatus(lostEvents) }));
}

async function forceDelete(kind: string, name: string): Promise<void> {
  await cluster.kubectlResult(['patch', kind, name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  await cluster.kubectlResult(['delete', kind, name, '--wait=false', '--ignore-not-found']);
}

async function cleanup(): Promise<void> {
  for (const p of [POLICY, STALLED]) await forceDelete('dwp', p);
  await cluster.kubectlResult(['delete', 'dwnr', '-l', `${LABEL}=${VALUE}`, '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'node', ...NODES, '--ignore-not-found']);
  await cluster.kubectlResult(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

beforeAll(async () => {
  execFileSync('lua5.4', ['-v']); // fails early with a clear ENOENT when lua5.4 is missing
  cluster = ensureCluster();
  logDir = path.join(os.tmpdir(), 'dwo-gitops-test-logs');
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=dwo-test', '-f', path.join(repoRoot, 'crds')]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/dropwatchpolicies.dropwatch.dev', 'crd/dropwatchnodereports.dropwatch.dev']);
  await cleanup();
  await cluster.kubectl(['create', 'namespace', NS]);
  await cluster.kubectl(['create', 'serviceaccount', AGENT, '-n', NS]);
  for (const name of NODES) {
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { type: 'kwok', [LABEL]: VALUE, 'kubernetes.io/hostname': name } } };
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(node));
  }
}, 300_000);

afterAll(async () => {
  await stopOperator().catch(() => undefined);
  if (cluster) await cleanup();
  if (RECORD && recorded.length > 0) {
    const tests = recorded.map((r) => ({ healthStatus: { status: r.status, message: r.message }, inputPath: r.file }));
    writeFileSync(
      path.join(repoRoot, 'gitops/argocd/health_test.yaml'),
      `# Expected health per recorded object (Argo CD's resource_customizations test layout).\n# Written by test/integration/gitops.test.ts with DWO_RECORD_GITOPS_FIXTURES=1; checked by test/unit/docs-gitops.test.ts.\n${stringify({ tests })}`,
    );
  }
}, 120_000);

describe('Argo CD health check on real policy status', () => {
  it('is Progressing while no operator has written a status', async () => {
    await cluster.kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], JSON.stringify(policyManifest(POLICY)));
    const p = await policy(POLICY);
    expect(p.status?.conditions).toBeUndefined();
    expect(judge(p, 'no-status')).toEqual({ status: 'Progressing', message: 'waiting for the dropwatch operator to write a status (is the operator running?)' });
  });

  it('is Progressing while the agents roll out and the first reports are awaited', async () => {
    await startOperator();
    const p = await eventually('Reconciling=True', 30_000, async () => {
      const j = await policy(POLICY);
      return cond(j, 'Reconciling')?.status === 'True' ? j : undefined;
    }, 200);
    const hs = judge(p, 'reconciling');
    expect(hs.status).toBe('Progressing');
    expect(hs.message).toMatch(/^Reconciling True \((RollingOut|AwaitingReports)\): /);
  });

  it('is Healthy once every selected node reports', async () => {
    for (const n of NODES) await writeReport(n);
    const p = await eventually('Ready=True', 60_000, async () => {
      const j = await policy(POLICY);
      return cond(j, 'Ready')?.status === 'True' ? j : undefined;
    }, 200);
    expect(judge(p, 'ready')).toEqual({ status: 'Healthy', message: 'Ready True (AgentsReady): all 2 matching nodes report' });
  });

  it('is Degraded while an agent loses drop events, and Healthy again after', async () => {
    await writeReport(NODES[0], 42);
    const p = await eventually('Degraded=True', 20_000, async () => {
      const j = await policy(POLICY);
      return cond(j, 'Degraded')?.status === 'True' ? j : undefined;
    }, 200);
    expect(cond(p, 'Ready')?.status).toBe('True');
    const hs = judge(p, 'degraded-lost-events');
    expect(hs.status).toBe('Degraded');
    expect(hs.message).toBe(`Degraded True (MonitorLosingEvents): the monitor lost drop events on 1 node (${NODES[0]}); their counts are too low: raise spec.sources.tracepoint.bufferSizeKb`);
    await writeReport(NODES[0], 0);
    await eventually('Degraded=False', 20_000, async () => cond(await policy(POLICY), 'Degraded')?.status === 'False', 200);
    expect(evaluateHealth(await policy(POLICY)).status).toBe('Healthy');
  });

  it('is Progressing when the spec changed and the operator has not caught up', async () => {
    await stopOperator();
    await cluster.kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], JSON.stringify(policyManifest(POLICY, { samplingInterval: '2s' })));
    const p = await policy(POLICY);
    expect(p.metadata.generation).toBe(2);
    expect(p.status?.observedGeneration).toBe(1);
    expect(cond(p, 'Ready')?.status).toBe('True'); // stale, for generation 1
    expect(judge(p, 'generation-behind')).toEqual({ status: 'Progressing', message: 'waiting for the operator to process generation 2 (the status describes generation 1)' });
  });

  it('is Healthy again once the operator has rolled out the new generation', async () => {
    await startOperator();
    const p = await eventually('generation 2 Ready', 60_000, async () => {
      const j = await policy(POLICY);
      if (j.status?.observedGeneration === 2 && cond(j, 'Ready')?.status !== 'True') for (const n of NODES) await writeReport(n);
      return j.status?.observedGeneration === 2 && cond(j, 'Ready')?.status === 'True' ? j : undefined;
    }, 500);
    expect(evaluateHealth(p).status).toBe('Healthy');
  });

  it('is Degraded when the operator is Stalled (its DaemonSet refused by a ResourceQuota)', async () => {
    const quota = { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'no-more-daemonsets', namespace: NS }, spec: { hard: { 'count/daemonsets.apps': '1' } } };
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(quota));
    await eventually('quota usage computed', 30_000, async () => {
      const q = JSON.parse(await cluster.kubectl(['get', 'resourcequota', 'no-more-daemonsets', '-n', NS, '-o', 'json'])) as { status?: { used?: Record<string, string> } };
      return q.status?.used?.['count/daemonsets.apps'] === '1';
    }, 250);
    await cluster.kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], JSON.stringify(policyManifest(STALLED, { nodeSelector: { matchLabels: { 'kubernetes.io/hostname': NODES[1] } } })));
    const p = await eventually('Stalled=True', 30_000, async () => {
      const j = await policy(STALLED);
      return cond(j, 'Stalled')?.status === 'True' ? j : undefined;
    }, 200);
    const hs = judge(p, 'stalled');
    expect(hs.status).toBe('Degraded');
    expect(hs.message).toMatch(/^Stalled True \(DaemonSetRejected\): DWO_E_API_FORBIDDEN: .*exceeded quota/);
  });

  it('is Progressing while a policy is being deleted', async () => {
    await stopOperator(); // nobody removes the finalizer, so the object stays in deletion
    await cluster.kubectl(['delete', 'dwp', STALLED, '--wait=false']);
    const p = await policy(STALLED);
    expect(p.metadata.deletionTimestamp).toBeDefined();
    const hs = judge(p, 'deleting');
    expect(hs.status).toBe('Progressing');
    expect(hs.message).toMatch(/^being deleted: /);
    await startOperator();
    await eventually('the operator finishes the deletion', 30_000, async () => {
      const r = await cluster.kubectlResult(['get', 'dwp', STALLED, '-o', 'name', '--ignore-not-found']);
      return r.code === 0 && r.stdout.trim() === '';
    }, 250);
  });
});

// ---------------------------------------------------------------------------------------------
// The manifests in gitops/ against the real CRDs of Argo CD and Flux.

const CACHE = path.join(process.env.DWO_CACHE ?? path.join(os.homedir(), '.cache/dropwatch-operator'), 'gitops-crds');
/** Go modules that carry the CRDs, and the files inside their module zips. */
const THIRD_PARTY = [
  { module: 'github.com/argoproj/argo-cd/v3', version: 'v3.6.1', files: ['manifests/crds/application-crd.yaml'] },
  { module: 'github.com/fluxcd/source-controller', version: 'v1.10.1', files: ['config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml'] },
  { module: 'github.com/fluxcd/kustomize-controller', version: 'v1.10.1', files: ['config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml'] },
  { module: 'github.com/fluxcd/helm-controller', version: 'v1.4.0', files: ['config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml'] },
];

/** The CRD files, downloaded once from the Go module proxy into the cache. */
function thirdPartyCrds(): string[] {
  const out: string[] = [];
  for (const m of THIRD_PARTY) {
    const dir = path.join(CACHE, `${m.module.replace(/\//g, '_')}@${m.version}`);
    const wanted = m.files.map((f) => path.join(dir, path.basename(f)));
    if (!wanted.every((f) => existsSync(f))) {
      mkdirSync(dir, { recursive: true });
      const tmp = mkdtempSync(path.join(os.tmpdir(), 'dwo-gitops-crds-'));
      try {
        const proxy = (process.env.GOPROXY ?? 'https://proxy.golang.org').split(',')[0] ?? 'https://proxy.golang.org';
        const zip = path.join(tmp, 'module.zip');
        execFileSync('curl', ['-fsSL', '--retry', '3', '-o', zip, `${proxy}/${m.module}/@v/${m.version}.zip`]);
        for (const f of m.files) {
          const data = execFileSync('unzip', ['-p', zip, `${m.module}@${m.version}/${f}`], { maxBuffer: 64 << 20 });
          writeFileSync(path.join(dir, path.basename(f)), data);
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    out.push(...wanted);
  }
  return out;
}

describe('gitops/ manifests against the Argo CD and Flux CRDs', () => {
  let crdFiles: string[] = [];
  const namespaces = ['argocd', 'flux-system', 'dropwatch-system']; // a dry run cannot create the namespace it then uses

  beforeAll(async () => {
    crdFiles = thirdPartyCrds();
    for (const f of crdFiles) await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=dwo-test', '-f', f]);
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/applications.argoproj.io', 'crd/gitrepositories.source.toolkit.fluxcd.io', 'crd/kustomizations.kustomize.toolkit.fluxcd.io', 'crd/helmreleases.helm.toolkit.fluxcd.io']);
    for (const ns of namespaces) await cluster.kubectlResult(['create', 'namespace', ns]);
  }, 300_000);

  afterAll(async () => {
    for (const ns of namespaces) await cluster.kubectlResult(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    for (const f of crdFiles) await cluster.kubectlResult(['delete', '-f', f, '--ignore-not-found', '--wait=false']);
  }, 120_000);

  for (const file of ['gitops/argocd/applications.yaml', 'gitops/argocd/argocd-cm.yaml', 'gitops/flux/operator.yaml', 'gitops/flux/policies.yaml']) {
    it(`${file} passes a server-side dry run`, async () => {
      const r = await cluster.kubectlResult(['apply', '--dry-run=server', '--server-side', '--field-manager=dwo-test', '-f', path.join(repoRoot, file)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/serverside-applied \(server dry run\)/);
    });
  }

  it('the documented argocd-cm patch adds the health check and keeps the other keys', async () => {
    await cluster.kubectl(['create', 'configmap', 'argocd-cm', '-n', 'argocd', '--from-literal=url=https://argocd.example']);
    await cluster.kubectl(['-n', 'argocd', 'patch', 'configmap', 'argocd-cm', '--type', 'merge', '--patch-file', path.join(repoRoot, 'gitops/argocd/argocd-cm.yaml')]);
    const cm = JSON.parse(await cluster.kubectl(['get', 'configmap', 'argocd-cm', '-n', 'argocd', '-o', 'json'])) as { data: Record<string, string> };
    expect(cm.data.url).toBe('https://argocd.example');
    expect(cm.data['resource.customizations.health.dropwatch.dev_DropWatchPolicy']).toBe(readFileSync(path.join(repoRoot, 'gitops/argocd/health.lua'), 'utf8'));
  });

  it('a broken manifest would be refused (the dry run checks the schema)', async () => {
    const bad = readFileSync(path.join(repoRoot, 'gitops/flux/policies.yaml'), 'utf8').replace('dependsOn:', 'dependsOnTypo:');
    const r = await cluster.kubectlResult(['apply', '--dry-run=server', '--server-side', '--field-manager=dwo-test', '-f', '-'], bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/dependsOnTypo/);
  });
});
