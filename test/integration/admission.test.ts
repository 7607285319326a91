// The shipped agent RBAC and admission policy (deploy/) on the real API server: an agent whose
// service-account token is bound to a pod on node A writes the report of node A and nothing
// else. Tokens come from the TokenRequest API bound to pods that kwok runs on two fake nodes, so
// the API server itself puts authentication.kubernetes.io/node-name into the caller's identity.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClients } from '../../src/k8s/client.js';
import { KubeReportSink } from '../../src/k8s/report-sink.js';
import { DwoError } from '../../src/runtime/errors.js';
import { ensureCluster, repoRoot, type Cluster } from './cluster.js';
import { waitFor } from './helpers/wait.js';

const AGENT_NS = 'dropwatch-system';
const AGENT_SA = 'dropwatch-agent';
const POLICY_NAME = 'dropwatch-agent-own-node-report';
const POLICY = 'adm-policy';
const NODE_A = 'adm-node-a';
const NODE_B = 'adm-node-b';
const NODE_UNWATCHED = 'adm-node-c';
const POD_A = 'adm-agent-a';
const POD_B = 'adm-agent-b';
const LABEL = 'dwo-test=admission';
const reportName = (node: string) => `${POLICY}.${node}`;

let c: Cluster;
let server: string;
let caFile: string;
let ca: string;
const token: { a: string; b: string; unbound: string } = { a: '', b: '', unbound: '' };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl with only a bearer token: no client certificate of the admin's kubeconfig. */
function kubectlAs(bearer: string, args: readonly string[], input?: string): Promise<Result> {
  const bin = path.join(c.binDir, 'kubectl');
  const all = ['--kubeconfig', '/dev/null', '--server', server, '--certificate-authority', caFile, '--token', bearer, ...args];
  return new Promise((resolve) => {
    const child = execFile(bin, all, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

/** One raw HTTPS request with a bearer token (for a write kubectl would precede with a GET). */
function rawRequest(bearer: string, method: string, apiPath: string, contentType: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(apiPath, server), { method, ca, headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': contentType } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (data += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The agent's real report writer, authenticated with a bearer token only. */
function sinkAs(bearer: string): KubeReportSink {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'local', server, caFile, skipTLSVerify: false }],
    users: [{ name: 'agent', token: bearer }],
    contexts: [{ name: 'agent', cluster: 'local', user: 'agent' }],
    currentContext: 'agent',
  });
  return new KubeReportSink(createKubeClients(kc), { policy: POLICY, timeoutMs: 10_000 });
}

const reportObject = (node: string) =>
  JSON.stringify({ apiVersion: 'dropwatch.dev/v1alpha1', kind: 'DropWatchNodeReport', metadata: { name: reportName(node) }, spec: { policy: POLICY, nodeName: node } });
const reportStatus = (node: string, policyGeneration: number) =>
  JSON.stringify({ apiVersion: 'dropwatch.dev/v1alpha1', kind: 'DropWatchNodeReport', metadata: { name: reportName(node) }, status: { policyGeneration } });

/** The agent's two writes, as report-sink.ts makes them: apply of the object, then of its status. */
const applyReport = (bearer: string, node: string, extra: readonly string[] = []) =>
  kubectlAs(bearer, ['apply', '--server-side', '--field-manager', 'dropwatch-agent', ...extra, '-f', '-'], reportObject(node));
const applyStatus = (bearer: string, node: string, policyGeneration: number) =>
  kubectlAs(bearer, ['apply', '--server-side', '--field-manager', 'dropwatch-agent', '--force-conflicts', '--subresource', 'status', '-f', '-'], reportStatus(node, policyGeneration));

const deniedByPolicy = (r: Result) => r.code !== 0 && r.stderr.includes(`ValidatingAdmissionPolicy '${POLICY_NAME}'`);
const crossNodeMessage = (writer: string, target: string) =>
  `dropwatch-agent on node ${writer} may not write DropWatchNodeReport ${reportName(target)}, the report of node ${target}: an agent writes only the report of its own node`;

async function reportExists(node: string): Promise<boolean> {
  const r = await c.kubectlResult(['get', 'dropwatchnodereports', reportName(node), '-o', 'name']);
  return r.code === 0;
}

const fixtures = `
apiVersion: v1
kind: Node
metadata: {name: ${NODE_A}, annotations: {kwok.x-k8s.io/node: fake}, labels: {dwo-test: admission}}
---
apiVersion: v1
kind: Node
metadata: {name: ${NODE_B}, annotations: {kwok.x-k8s.io/node: fake}, labels: {dwo-test: admission}}
---
apiVersion: v1
kind: Pod
metadata: {name: ${POD_A}, namespace: ${AGENT_NS}, labels: {dwo-test: admission}}
spec: {nodeName: ${NODE_A}, serviceAccountName: ${AGENT_SA}, containers: [{name: agent, image: example.invalid/dropwatch-agent:test}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ${POD_B}, namespace: ${AGENT_NS}, labels: {dwo-test: admission}}
spec: {nodeName: ${NODE_B}, serviceAccountName: ${AGENT_SA}, containers: [{name: agent, image: example.invalid/dropwatch-agent:test}]}
---
apiVersion: dropwatch.dev/v1alpha1
kind: DropWatchPolicy
metadata: {name: ${POLICY}, labels: {dwo-test: admission}}
spec:
  nodeSelector: {matchLabels: {dwo-test: admission-none}}
  thresholds: [{name: any, metric: dropsPerSecond, critical: 10}]
`;

describe('agent admission policy (deploy/admission-policy.yaml) and RBAC (deploy/agent-rbac.yaml)', () => {
  beforeAll(async () => {
    c = ensureCluster();
    server = (await c.kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])).trim();
    caFile = (await c.kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.certificate-authority}'])).trim();
    ca = await readFile(caFile, 'utf8');

    await c.kubectl(['apply', '--server-side', '-f', path.join(repoRoot, 'crds')]);
    await c.kubectl(['apply', '-f', '-'], `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"${AGENT_NS}"}}`);
    await c.kubectl(['apply', '-f', path.join(repoRoot, 'deploy')]);
    await c.kubectl(['apply', '-f', '-'], fixtures);
    await waitFor('both agent pods Running on their nodes', async () => {
      const out = await c.kubectl(['-n', AGENT_NS, 'get', 'pods', '-l', LABEL, '-o', 'jsonpath={range .items[*]}{.spec.nodeName}={.status.phase}{"\\n"}{end}']);
      const rows = out.trim().split('\n').filter(Boolean).sort();
      return rows.join(',') === `${NODE_A}=Running,${NODE_B}=Running` ? rows : undefined;
    });

    const createToken = (...extra: string[]) => c.kubectl(['-n', AGENT_NS, 'create', 'token', AGENT_SA, '--duration', '1h', ...extra]).then((t) => t.trim());
    token.a = await createToken('--bound-object-kind', 'Pod', '--bound-object-name', POD_A);
    token.b = await createToken('--bound-object-kind', 'Pod', '--bound-object-name', POD_B);
    token.unbound = await createToken();

    // A new policy is enforced once the API server has compiled it; probe with a server-side dry
    // run (admission runs, nothing is stored) until the cross-node write is refused.
    await waitFor(
      'the admission policy to be enforced',
      async () => {
        const r = await applyReport(token.a, NODE_B, ['--dry-run=server']);
        return deniedByPolicy(r) ? r : undefined;
      },
      30_000,
    );
  });

  afterAll(async () => {
    if (!c) return;
    await c.kubectlResult(['delete', 'dropwatchnodereports', reportName(NODE_A), reportName(NODE_B), reportName(NODE_UNWATCHED), '--ignore-not-found']);
    await c.kubectlResult(['delete', 'dropwatchpolicies', POLICY, '--ignore-not-found']);
    await c.kubectlResult(['-n', AGENT_NS, 'delete', 'pods', '-l', LABEL, '--grace-period=0', '--force', '--ignore-not-found']);
    await c.kubectlResult(['delete', 'nodes', '-l', LABEL, '--ignore-not-found']);
    await c.kubectlResult(['delete', '-f', path.join(repoRoot, 'deploy'), '--ignore-not-found']);
  });

  it('type-checks the policy against the CRD schema without warnings', async () => {
    const vap = JSON.parse(await c.kubectl(['get', 'validatingadmissionpolicies', POLICY_NAME, '-o', 'json'])) as {
      metadata: { generation: number };
      status?: { observedGeneration?: number; typeChecking?: { expressionWarnings?: unknown[] } };
    };
    expect(vap.status?.observedGeneration).toBe(vap.metadata.generation);
    expect(vap.status?.typeChecking?.expressionWarnings ?? []).toEqual([]);
  });

  it('tokens bound to the agent pods carry their node in the identity', async () => {
    for (const [bearer, node] of [[token.a, NODE_A], [token.b, NODE_B]] as const) {
      const r = await kubectlAs(bearer, ['auth', 'whoami', '-o', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const review = JSON.parse(r.stdout) as { status: { userInfo: { username: string; extra?: Record<string, string[]> } } };
      expect(review.status.userInfo.username).toBe(`system:serviceaccount:${AGENT_NS}:${AGENT_SA}`);
      expect(review.status.userInfo.extra?.['authentication.kubernetes.io/node-name']).toEqual([node]);
    }
  });

  it('grants the agent only what report-sink.ts uses', async () => {
    const can = async (verb: string, resource: string) => {
      const r = await kubectlAs(token.a, ['auth', 'can-i', verb, resource]);
      return r.stdout.trim();
    };
    expect(await can('get', 'dropwatchpolicies.dropwatch.dev')).toBe('yes');
    expect(await can('create', 'dropwatchnodereports.dropwatch.dev')).toBe('yes');
    expect(await can('patch', 'dropwatchnodereports.dropwatch.dev')).toBe('yes');
    expect(await can('patch', 'dropwatchnodereports.dropwatch.dev/status')).toBe('yes');
    for (const [verb, resource] of [
      ['list', 'dropwatchpolicies.dropwatch.dev'],
      ['patch', 'dropwatchpolicies.dropwatch.dev'],
      ['get', 'dropwatchnodereports.dropwatch.dev'],
      ['delete', 'dropwatchnodereports.dropwatch.dev'],
      ['update', 'dropwatchnodereports.dropwatch.dev/status'],
      ['get', 'nodes'],
      ['patch', 'nodes/status'],
      ['get', 'secrets'],
    ]) {
      expect(await can(verb!, resource!), `${verb} ${resource}`).toBe('no');
    }
  });

  it("refuses agent A's token creating node B's report, naming both nodes", async () => {
    const r = await applyReport(token.a, NODE_B);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`ValidatingAdmissionPolicy '${POLICY_NAME}'`);
    expect(r.stderr).toContain(crossNodeMessage(NODE_A, NODE_B));
    expect(await reportExists(NODE_B)).toBe(false);
  });

  it('lets each agent apply its own report and its status', async () => {
    for (const [bearer, node] of [[token.a, NODE_A], [token.b, NODE_B]] as const) {
      const created = await applyReport(bearer, node);
      expect(created.code, created.stderr).toBe(0);
      const status = await applyStatus(bearer, node, 1);
      expect(status.code, status.stderr).toBe(0);
      // A second apply is an UPDATE of an existing report: allowed as well.
      const again = await applyReport(bearer, node);
      expect(again.code, again.stderr).toBe(0);
      const got = JSON.parse(await c.kubectl(['get', 'dropwatchnodereports', reportName(node), '-o', 'json'])) as {
        spec: { nodeName: string };
        status?: { policyGeneration?: number };
      };
      expect(got.spec.nodeName).toBe(node);
      expect(got.status?.policyGeneration).toBe(1);
    }
  });

  it("runs the agent's own writer (KubeReportSink) with exactly this RBAC, for its node only", async () => {
    // Start from no report, so the writer's first apply has to create it.
    await c.kubectl(['delete', 'dropwatchnodereports', reportName(NODE_A)]);
    const sink = sinkAs(token.a);
    await sink.write({ name: reportName(NODE_A), policy: POLICY, nodeName: NODE_A, status: { policyGeneration: 1 } });
    const got = JSON.parse(await c.kubectl(['get', 'dropwatchnodereports', reportName(NODE_A), '-o', 'json'])) as {
      metadata: { ownerReferences?: { kind: string; name: string }[] };
      status?: { policyGeneration?: number };
    };
    expect(got.status?.policyGeneration).toBe(1);
    expect(got.metadata.ownerReferences).toMatchObject([{ kind: 'DropWatchPolicy', name: POLICY }]);

    const err: unknown = await sink.write({ name: reportName(NODE_B), policy: POLICY, nodeName: NODE_B, status: { policyGeneration: 42 } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DwoError);
    expect((err as DwoError).code).toBe('DWO_E_API_FORBIDDEN');
    expect((err as DwoError).message).toContain(crossNodeMessage(NODE_A, NODE_B));
  });

  it("refuses agent A's token changing node B's existing report or its status", async () => {
    const status = await applyStatus(token.a, NODE_B, 99);
    expect(status.code).not.toBe(0);
    expect(status.stderr).toContain(crossNodeMessage(NODE_A, NODE_B));

    const object = await applyReport(token.a, NODE_B);
    expect(object.code).not.toBe(0);
    expect(object.stderr).toContain(crossNodeMessage(NODE_A, NODE_B));

    // Not only server-side apply: a plain merge patch (kubectl patch would first need a GET, which
    // the agent may not do) is an UPDATE like any other.
    const url = `/apis/dropwatch.dev/v1alpha1/dropwatchnodereports/${reportName(NODE_B)}/status`;
    const patched = await rawRequest(token.a, 'PATCH', url, 'application/merge-patch+json', JSON.stringify({ status: { policyGeneration: 98 } }));
    expect(patched.status).toBe(403);
    expect(JSON.parse(patched.body)).toMatchObject({ reason: 'Forbidden', message: expect.stringContaining(crossNodeMessage(NODE_A, NODE_B)) as unknown });

    const got = JSON.parse(await c.kubectl(['get', 'dropwatchnodereports', reportName(NODE_B), '-o', 'json'])) as { status?: { policyGeneration?: number } };
    expect(got.status?.policyGeneration).toBe(1);
  });

  it('refuses a token of the agent service account that is not bound to a pod', async () => {
    // Even for an existing report whose node has an agent, and for a new one.
    for (const r of [await applyStatus(token.unbound, NODE_A, 7), await applyReport(token.unbound, NODE_UNWATCHED)]) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`ValidatingAdmissionPolicy '${POLICY_NAME}'`);
      expect(r.stderr).toContain('its token is not bound to a pod on a node (no authentication.kubernetes.io/node-name)');
    }
    expect(await reportExists(NODE_UNWATCHED)).toBe(false);
  });

  it('keeps deletes to the own node even if the agent is granted delete', async () => {
    // The shipped role has no delete; grant it for this test only, to exercise the policy's DELETE rule.
    const extra = 'dropwatch-agent-test-delete';
    await c.kubectl(['create', 'clusterrole', extra, '--verb=delete', '--resource=dropwatchnodereports.dropwatch.dev']);
    await c.kubectl(['create', 'clusterrolebinding', extra, '--clusterrole', extra, '--serviceaccount', `${AGENT_NS}:${AGENT_SA}`]);
    try {
      const other = await waitFor(
        'the delete grant to reach the authorizer',
        async () => {
          const r = await kubectlAs(token.a, ['delete', 'dropwatchnodereports', reportName(NODE_B), '--dry-run=server']);
          return r.stderr.includes('cannot delete resource') ? undefined : r;
        },
        15_000,
      );
      expect(other.code).not.toBe(0);
      expect(other.stderr).toContain(
        `dropwatch-agent on node ${NODE_A} may not change DropWatchNodeReport ${reportName(NODE_B)}, the stored report of node ${NODE_B}: an agent writes only the report of its own node`,
      );
      expect(await reportExists(NODE_B)).toBe(true);
      const own = await kubectlAs(token.a, ['delete', 'dropwatchnodereports', reportName(NODE_A)]);
      expect(own.code, own.stderr).toBe(0);
      expect(await reportExists(NODE_A)).toBe(false);
    } finally {
      await c.kubectlResult(['delete', 'clusterrolebinding', extra, '--ignore-not-found']);
      await c.kubectlResult(['delete', 'clusterrole', extra, '--ignore-not-found']);
    }
  });

  it('does not affect the cluster admin', async () => {
    const created = await c.kubectlResult(['apply', '--server-side', '--field-manager', 'adm-test-admin', '-f', '-'], reportObject(NODE_UNWATCHED));
    expect(created.code, created.stderr).toBe(0);
    const status = await c.kubectlResult(
      ['apply', '--server-side', '--field-manager', 'adm-test-admin', '--force-conflicts', '--subresource', 'status', '-f', '-'],
      reportStatus(NODE_B, 5),
    );
    expect(status.code, status.stderr).toBe(0);
    const deleted = await c.kubectlResult(['delete', 'dropwatchnodereports', reportName(NODE_UNWATCHED)]);
    expect(deleted.code, deleted.stderr).toBe(0);
  });
});
