// The dropwatch.dev API against a real kube-apiserver: the CRDs install, the examples are accepted,
// invalid policies are rejected by the API server itself with a useful field path and message,
// defaults, immutability, printer columns and `kubectl explain` work, and the status schemas
// accept what the operator and agents will write (fixtures typed with the generated types).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  DropWatchNodeReport,
  DropWatchNodeReportStatus,
  DropWatchPolicy,
  DropWatchPolicyStatus,
} from '../../src/api/generated/types.js';
import { DropWatchNodeReportResource, DropWatchPolicyResource } from '../../src/api/generated/types.js';
import { ensureCluster, repoRoot, type Cluster } from './cluster.js';

const TEST_LABEL = 'dropwatch.dev/test';
const TEST_LABEL_VALUE = 'api';
const FIELD_MANAGER = 'dropwatch-api-test';
const crdDir = path.join(repoRoot, 'crds');
const exampleDir = path.join(repoRoot, 'examples');
const exampleFiles = readdirSync(exampleDir).filter((f) => f.endsWith('.yaml')).sort();
const crdNames = [
  `${DropWatchPolicyResource.plural}.${DropWatchPolicyResource.group}`,
  `${DropWatchNodeReportResource.plural}.${DropWatchNodeReportResource.group}`,
];

let cluster: Cluster;

/** JSON-ish policy used as the base of the invalid cases: valid as it is. */
interface MutablePolicy {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels: Record<string, string> };
  spec: Record<string, unknown> & { thresholds: Record<string, unknown>[] };
}

function basePolicy(name = 'apitest-invalid'): MutablePolicy {
  return {
    apiVersion: DropWatchPolicyResource.apiVersion,
    kind: DropWatchPolicyResource.kind,
    metadata: { name, labels: { [TEST_LABEL]: TEST_LABEL_VALUE } },
    spec: {
      nodeSelector: { matchLabels: { 'dropwatch.dev/sensor': 'span' } },
      interfaces: ['ens1f0'],
      ignoreReasons: ['OTHERHOST'],
      thresholds: [{ name: 'drops', metric: 'dropsPerSecond', warning: 100, critical: 1000, clear: 50 }],
    },
  };
}

/** The first threshold of a policy under mutation. */
function t0(p: MutablePolicy): Record<string, unknown> {
  const t = p.spec.thresholds[0];
  if (!t) throw new Error('base policy has no threshold');
  return t;
}

function asLossPercent(p: MutablePolicy): void {
  Object.assign(t0(p), { metric: 'lossPercent', warning: 1, critical: 5, clear: 0.5 });
}

interface InvalidCase {
  readonly name: string;
  readonly mutate: (p: MutablePolicy) => void;
  /** The field path the API server must name, as printed before ": " in its message. */
  readonly path: string;
  /** A phrase of the rule's message. */
  readonly message: string;
}

// Each row is one minimal change to basePolicy(). Rows for CEL rules keep the object otherwise
// schema-valid: the API server skips CEL rules when the schema check already failed.
const invalidCases: readonly InvalidCase[] = [
  { name: 'clear not below warning', mutate: (p) => void (t0(p)['clear'] = 200),
    path: 'spec.thresholds[0]', message: 'threshold drops: clear must be lower than warning' },
  { name: 'warning not below critical', mutate: (p) => void (t0(p)['warning'] = 2000),
    path: 'spec.thresholds[0]', message: 'threshold drops: warning must be lower than critical' },
  { name: 'clear not below critical when there is no warning',
    mutate: (p) => { delete t0(p)['warning']; t0(p)['clear'] = 1000; },
    path: 'spec.thresholds[0]', message: 'clear must be lower than critical' },
  { name: 'neither warning nor critical',
    mutate: (p) => { delete t0(p)['warning']; delete t0(p)['critical']; delete t0(p)['clear']; },
    path: 'spec.thresholds[0]', message: 'threshold drops: set warning, critical or both' },
  { name: 'lossPercent above 100', mutate: (p) => { asLossPercent(p); t0(p)['critical'] = 150; },
    path: 'spec.thresholds[0]', message: 'lossPercent levels are percentages and must be at most 100' },
  { name: 'lossPercent matching reasons', mutate: (p) => { asLossPercent(p); t0(p)['match'] = { reasons: ['NOMEM'] }; },
    path: 'spec.thresholds[0]', message: 'lossPercent cannot match reasons' },
  { name: 'lossPercent without interfaces', mutate: (p) => { asLossPercent(p); delete p.spec['interfaces']; },
    path: 'spec.thresholds', message: 'lossPercent thresholds need interfaces' },
  { name: 'lossPercent with counters disabled',
    mutate: (p) => { asLossPercent(p); p.spec['sources'] = { counters: { enabled: false } }; },
    path: 'spec.sources.counters.enabled', message: 'sources.counters.enabled must be true' },
  { name: 'match on reasons and interfaces together',
    mutate: (p) => void (t0(p)['match'] = { reasons: ['NOMEM'], interfaces: ['ens1f0'] }),
    path: 'spec.thresholds[0].match', message: 'match.reasons and match.interfaces cannot be combined' },
  { name: 'match.interfaces outside spec.interfaces', mutate: (p) => void (t0(p)['match'] = { interfaces: ['ens2f0'] }),
    path: 'spec.thresholds', message: 'must also be listed in spec.interfaces' },
  { name: 'threshold on an ignored reason', mutate: (p) => void (t0(p)['match'] = { reasons: ['OTHERHOST'] }),
    path: 'spec.thresholds', message: 'it could never fire' },
  { name: 'reason threshold without a kernel drop source',
    mutate: (p) => {
      t0(p)['match'] = { reasons: ['NOMEM'] };
      p.spec['sources'] = { tracepoint: { enabled: false }, histTriggers: { enabled: false } };
    },
    path: 'spec.sources', message: 'thresholds that match drop reasons need a kernel drop source' },
  { name: 'every source disabled',
    mutate: (p) => void (p.spec['sources'] = { tracepoint: { enabled: false }, histTriggers: { enabled: false }, counters: { enabled: false } }),
    path: 'spec.sources', message: 'at least one of sources.tracepoint, sources.histTriggers and sources.counters must be enabled' },
  { name: 'reportInterval below samplingInterval', mutate: (p) => { p.spec['samplingInterval'] = '30s'; p.spec['reportInterval'] = '10s'; },
    path: 'spec.reportInterval', message: 'reportInterval must be at least samplingInterval' },
  { name: 'heartbeatInterval below reportInterval', mutate: (p) => { p.spec['reportInterval'] = '2m'; p.spec['heartbeatInterval'] = '90s'; },
    path: 'spec.heartbeatInterval', message: 'heartbeatInterval must be at least reportInterval' },
  { name: 'samplingInterval too short', mutate: (p) => void (p.spec['samplingInterval'] = '50ms'),
    path: 'spec.samplingInterval', message: 'samplingInterval must be between 100ms and 1m' },
  { name: 'duration that is not Go syntax', mutate: (p) => void (p.spec['samplingInterval'] = '1 second'),
    path: 'spec.samplingInterval', message: 'spec.samplingInterval in body should match' },
  { name: 'for longer than a day', mutate: (p) => void (t0(p)['for'] = '25h'),
    path: 'spec.thresholds[0].for', message: 'for must be at most 24h' },
  { name: 'duplicate threshold names', mutate: (p) => void p.spec.thresholds.push({ ...t0(p) }),
    path: 'spec.thresholds[1]', message: 'Duplicate value: {"name":"drops"}' },
  { name: 'unknown metric', mutate: (p) => void (t0(p)['metric'] = 'packetsPerSecond'),
    path: 'spec.thresholds[0].metric', message: 'Unsupported value: "packetsPerSecond"' },
  { name: 'missing metric', mutate: (p) => void delete t0(p)['metric'],
    path: 'spec.thresholds[0].metric', message: 'Required value' },
  { name: 'negative level', mutate: (p) => void (t0(p)['clear'] = -1),
    path: 'spec.thresholds[0].clear', message: 'should be greater than or equal to 0' },
  { name: 'missing nodeSelector', mutate: (p) => void delete p.spec['nodeSelector'],
    path: 'spec.nodeSelector', message: 'Required value' },
  { name: 'In selector without values',
    mutate: (p) => void (p.spec['nodeSelector'] = { matchExpressions: [{ key: 'dropwatch.dev/sensor', operator: 'In' }] }),
    path: 'spec.nodeSelector.matchExpressions[0]', message: 'operators In and NotIn need at least one value' },
  { name: 'invalid matchLabels key', mutate: (p) => void (p.spec['nodeSelector'] = { matchLabels: { 'bad key!': 'x' } }),
    path: 'spec.nodeSelector.matchLabels', message: 'matchLabels keys must be label keys' },
  { name: 'reason with the SKB_DROP_REASON_ prefix', mutate: (p) => void (p.spec['ignoreReasons'] = ['SKB_DROP_REASON_OTHERHOST']),
    path: 'spec.ignoreReasons[0]', message: 'without the SKB_DROP_REASON_ prefix' },
  { name: 'reason in lower case', mutate: (p) => void (p.spec['ignoreReasons'] = ['otherhost']),
    path: 'spec.ignoreReasons[0]', message: 'should match' },
  { name: 'interface name longer than IFNAMSIZ', mutate: (p) => void (p.spec['interfaces'] = ['enp175s0f0np0x12']),
    path: 'spec.interfaces[0]', message: 'may not be more than 15 bytes' },
  { name: 'toleration without key or Exists', mutate: (p) => void (p.spec['tolerations'] = [{ operator: 'Equal', value: 'ids' }]),
    path: 'spec.tolerations[0]', message: 'a toleration without a key must use operator Exists' },
  { name: 'tolerationSeconds without NoExecute',
    mutate: (p) => void (p.spec['tolerations'] = [{ key: 'dedicated', value: 'ids', effect: 'NoSchedule', tolerationSeconds: 60 }]),
    path: 'spec.tolerations[0]', message: 'tolerationSeconds is only allowed with effect NoExecute' },
  { name: 'resource request above its limit',
    mutate: (p) => void (p.spec['agent'] = { resources: { requests: { memory: '512Mi' }, limits: { memory: '256Mi' } } }),
    path: 'spec.agent.resources', message: 'each resource request must be at most its limit' },
  { name: 'resource value that is not a quantity', mutate: (p) => void (p.spec['agent'] = { resources: { requests: { cpu: 'lots' } } }),
    path: 'spec.agent.resources.requests[cpu]', message: 'must be a quantity' },
  { name: 'unknown resource name', mutate: (p) => void (p.spec['agent'] = { resources: { limits: { gpu: '1' } } }),
    path: 'spec.agent.resources.limits', message: 'resource names must be cpu, memory or ephemeral-storage' },
  { name: 'unknown security mode', mutate: (p) => void (p.spec['agent'] = { securityMode: 'root' }),
    path: 'spec.agent.securityMode', message: 'Unsupported value: "root"' },
  { name: 'trace buffer too small', mutate: (p) => void (p.spec['sources'] = { tracepoint: { bufferSizeKb: 32 } }),
    path: 'spec.sources.tracepoint.bufferSizeKb', message: 'should be greater than or equal to 64' },
  { name: 'policy name longer than 40 characters', mutate: (p) => void (p.metadata.name = `apitest-${'x'.repeat(33)}`),
    path: 'metadata.name', message: 'may not be more than 40 bytes' },
];

function policyYaml(p: unknown): string {
  return JSON.stringify(p);
}

async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  return cluster.kubectl(args, input);
}

async function getJson<T>(resource: string, name: string, subresource?: string): Promise<T> {
  const args = ['get', resource, name, '-o', 'json'];
  if (subresource) args.push(`--subresource=${subresource}`);
  return JSON.parse(await kubectlOk(args)) as T;
}

async function cleanup(): Promise<void> {
  await cluster.kubectlResult(['delete', 'dwp,dwnr', '-l', `${TEST_LABEL}=${TEST_LABEL_VALUE}`, '--ignore-not-found', '--wait=false']);
  for (const f of exampleFiles) {
    await cluster.kubectlResult(['delete', '-f', path.join(exampleDir, f), '--ignore-not-found', '--wait=false']);
  }
}

beforeAll(async () => {
  cluster = ensureCluster();
  await cleanup();
}, 300_000);

afterAll(async () => {
  if (cluster) await cleanup();
});

describe('CRDs', () => {
  it('apply without warnings and become Established', async () => {
    const r = await cluster.kubectlResult(['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-f', crdDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', ...crdNames.map((n) => `crd/${n}`)]);
    for (const n of crdNames) {
      const crd = await getJson<{ status: { conditions: { type: string; status: string }[] } }>('crd', n);
      const byType = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c.status]));
      expect(byType).toMatchObject({ Established: 'True', NamesAccepted: 'True' });
    }
    // The CR handler picks up a schema change asynchronously; wait until explain serves it.
    for (let i = 0; i < 60; i++) {
      const e = await cluster.kubectlResult(['explain', 'dropwatchpolicy.spec.thresholds']);
      if (e.stdout.includes('stays above the warning')) return;
      await new Promise((res) => setTimeout(res, 500));
    }
    throw new Error('kubectl explain never showed the new schema');
  });
});

describe('examples/', () => {
  it('has examples to test', () => {
    expect(exampleFiles.length).toBeGreaterThanOrEqual(3);
  });

  it.each(exampleFiles)('%s passes a server-side dry run and server-side apply', async (file) => {
    const f = path.join(exampleDir, file);
    const dry = await kubectlOk(['apply', '--server-side', '--dry-run=server', `--field-manager=${FIELD_MANAGER}`, '-f', f]);
    expect(dry).toContain('(server dry run)');
    const applied = await kubectlOk(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', f]);
    expect(applied).toMatch(/dropwatchpolicy\.dropwatch\.dev\/\S+ serverside-applied/);
  });
});

describe('invalid policies are rejected by the API server', () => {
  it('accepts the unmodified base policy', async () => {
    const r = await cluster.kubectlResult(['create', '--dry-run=server', '-o', 'name', '-f', '-'], policyYaml(basePolicy()));
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('dropwatchpolicy.dropwatch.dev/apitest-invalid');
  });

  it('has at least 15 cases', () => {
    expect(invalidCases.length).toBeGreaterThanOrEqual(15);
  });

  it.each(invalidCases)('rejects: $name', async ({ mutate, path: fieldPath, message }) => {
    const p = basePolicy();
    mutate(p);
    const r = await cluster.kubectlResult(['create', '--dry-run=server', '-o', 'name', '-f', '-'], policyYaml(p));
    expect(r.code, `accepted: ${JSON.stringify(p.spec)}`).not.toBe(0);
    expect(r.stderr).toContain(' is invalid');
    expect(r.stderr).toContain(`${fieldPath}: `);
    expect(r.stderr).toContain(message);
  });

  it('rejects duplicate threshold names in a server-side apply too', async () => {
    const p = basePolicy();
    p.spec.thresholds.push({ ...t0(p) });
    const r = await cluster.kubectlResult(['apply', '--server-side', '--dry-run=server', '-f', '-'], policyYaml(p));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('.spec.thresholds: duplicate entries for key [name="drops"]');
  });
});

describe('defaults', () => {
  it('fills in intervals, sources, agent settings and threshold durations', async () => {
    const minimal = {
      apiVersion: DropWatchPolicyResource.apiVersion,
      kind: DropWatchPolicyResource.kind,
      metadata: { name: 'apitest-defaults', labels: { [TEST_LABEL]: TEST_LABEL_VALUE } },
      spec: { nodeSelector: {}, thresholds: [{ name: 'any', metric: 'dropsPerSecond', critical: 10 }] },
    };
    await kubectlOk(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], JSON.stringify(minimal));
    const got = await getJson<DropWatchPolicy>('dwp', 'apitest-defaults');
    expect(got.spec).toMatchObject({
      nodeSelector: {},
      samplingInterval: '1s',
      reportInterval: '15s',
      heartbeatInterval: '60s',
      sources: {
        tracepoint: { enabled: true, bufferSizeKb: 2048 },
        histTriggers: { enabled: true },
        counters: { enabled: true },
      },
      agent: { securityMode: 'leastPrivilege', metricsPort: 9847 },
      thresholds: [{ name: 'any', metric: 'dropsPerSecond', critical: 10, for: '1m' }],
    });
  });
});

describe('DropWatchNodeReport', () => {
  const report = {
    apiVersion: DropWatchNodeReportResource.apiVersion,
    kind: DropWatchNodeReportResource.kind,
    metadata: { name: 'apitest.node-a', labels: { [TEST_LABEL]: TEST_LABEL_VALUE } },
    spec: { policy: 'apitest', nodeName: 'node-a' },
  };

  // Typed with the generated type: if the CRD and the types drift, this stops compiling or the
  // API server rejects it.
  const status: DropWatchNodeReportStatus = {
    policyGeneration: 3,
    window: { start: '2025-01-31T12:00:00Z', end: '2025-01-31T12:00:15Z', seconds: 15 },
    agent: {
      version: '0.1.0',
      kernel: '6.18.0-1-amd64',
      sources: ['tracepoint', 'counters'],
      capabilities: { tracefs: true, reasonField: true, kallsyms: true, histTriggers: false, dropMonitor: false, ethtool: true },
      unknownReasons: [],
      degraded: 'hist triggers unavailable; using the tracefs ring',
    },
    totals: { drops: 31_500, dropsPerSecond: 2100 },
    ladder: {
      nic: { drops: 1500, dropsPerSecond: 100 },
      backlog: { drops: 0, dropsPerSecond: 0 },
      transport: { drops: 30_000, dropsPerSecond: 2000 },
    },
    drops: [
      {
        symbol: '__udp4_lib_rcv', offset: 0x4bc, address: '0xffffffff8204674c', reason: 'NO_SOCKET',
        layer: 'transport', count: 30_000, rate: 2000, hint: 'benign on a sensor (no listener); ignore NO_SOCKET',
      },
    ],
    interfaces: [
      { name: 'ens1f0', rxPackets: 9_007_199_254_740_000, drops: { rx_missed_errors: 1500, 'ethtool:rx_out_of_buffer': 1500 }, lossPercent: 0.01 },
    ],
    softnet: { dropped: 0, timeSqueeze: 12, flowLimit: 0 },
    monitor: { lostEvents: 0, parseErrors: 0 },
    lastHeartbeatTime: '2025-01-31T12:00:15Z',
  };

  it('is created with a name derived from policy and node, and rejects a mismatched name', async () => {
    await kubectlOk(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], JSON.stringify(report));
    const bad = { ...report, metadata: { ...report.metadata, name: 'apitest.node-b' } };
    const r = await cluster.kubectlResult(['create', '--dry-run=server', '-f', '-'], JSON.stringify(bad));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('metadata.name: ');
    expect(r.stderr).toContain('the report name must be <spec.policy>.<spec.nodeName>');
  });

  it('rejects a change of spec.nodeName, by merge patch and by server-side apply', async () => {
    const patch = await cluster.kubectlResult(['patch', 'dwnr', 'apitest.node-a', '--type=merge', '-p', '{"spec":{"nodeName":"node-b"}}']);
    expect(patch.code).not.toBe(0);
    expect(patch.stderr).toContain('spec.nodeName: ');
    expect(patch.stderr).toContain('spec.nodeName is immutable; delete the report and let the agent create a new one');
    const changed = { ...report, spec: { ...report.spec, nodeName: 'node-b' } };
    const apply = await cluster.kubectlResult(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], JSON.stringify(changed));
    expect(apply.code).not.toBe(0);
    expect(apply.stderr).toContain('spec.nodeName is immutable');
  });

  it('rejects a change of spec.policy', async () => {
    const patch = await cluster.kubectlResult(['patch', 'dwnr', 'apitest.node-a', '--type=merge', '-p', '{"spec":{"policy":"other"}}']);
    expect(patch.code).not.toBe(0);
    expect(patch.stderr).toContain('spec.policy is immutable');
  });

  it('accepts a full status through the status subresource and shows it in the printer columns', async () => {
    const body = { apiVersion: report.apiVersion, kind: report.kind, metadata: { name: report.metadata.name }, status };
    await kubectlOk(['apply', '--server-side', '--subresource=status', `--field-manager=${FIELD_MANAGER}-agent`, '-f', '-'], JSON.stringify(body));
    const got = await getJson<DropWatchNodeReport>('dwnr', 'apitest.node-a');
    expect(got.status?.totals).toEqual({ drops: 31_500, dropsPerSecond: 2100 });
    expect(got.status?.drops?.[0]?.symbol).toBe('__udp4_lib_rcv');
    const table = await kubectlOk(['get', 'dwnr', 'apitest.node-a']);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+NODE\s+POLICY\s+DROPS\/S\s+LOST\s+AGE$/);
    expect(table).toMatch(/apitest\.node-a\s+node-a\s+apitest\s+2100\s+0\s+/);
  });

  it('can be listed by policy with a field selector', async () => {
    const names = await kubectlOk(['get', 'dwnr', '--field-selector', 'spec.policy=apitest', '-o', 'name']);
    expect(names.trim()).toBe('dropwatchnodereport.dropwatch.dev/apitest.node-a');
    const none = await kubectlOk(['get', 'dwnr', '--field-selector', 'spec.policy=no-such-policy', '-o', 'name']);
    expect(none.trim()).toBe('');
  });
});

describe('DropWatchPolicy status and kubectl', () => {
  const status: DropWatchPolicyStatus = {
    observedGeneration: 1,
    conditions: [
      { type: 'Ready', status: 'True', reason: 'AgentsReporting', message: 'all 3 nodes report', observedGeneration: 1, lastTransitionTime: '2025-01-31T12:00:00Z' },
      { type: 'Degraded', status: 'False', reason: 'AllSourcesLive', message: '', observedGeneration: 1, lastTransitionTime: '2025-01-31T12:00:00Z' },
    ],
    daemonSet: { name: 'dropwatch-agent-apitest-status', desired: 3, current: 3, ready: 3, updated: 3, available: 3 },
    nodes: { matching: 3, reporting: 3, stale: 0, warning: 1, critical: 1, alerting: 2, overlappingCount: 0, overlapping: [] },
    fleet: { dropsPerSecond: 1250.5, lostEvents: 0 },
    worstNodes: [
      { node: 'sensor-02', state: 'Critical', threshold: 'real-loss', dropsPerSecond: 1200, lossPercent: 1.5, topSite: 'enqueue_to_backlog+0x2a1 (CPU_BACKLOG)' },
    ],
    topSites: [
      { symbol: 'enqueue_to_backlog', reason: 'CPU_BACKLOG', layer: 'backlog', nodes: 2, dropsPerSecond: 1200, hint: 'raise net.core.netdev_max_backlog' },
    ],
  };

  it('accepts an operator status, supports kubectl wait, and prints the columns', async () => {
    const p = basePolicy('apitest-status');
    await kubectlOk(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], JSON.stringify(p));
    const body = { apiVersion: p.apiVersion, kind: p.kind, metadata: { name: p.metadata.name }, status };
    await kubectlOk(['apply', '--server-side', '--subresource=status', `--field-manager=${FIELD_MANAGER}-operator`, '-f', '-'], JSON.stringify(body));
    await kubectlOk(['wait', '--for=condition=Ready', '--timeout=10s', 'dwp/apitest-status']);
    const table = await kubectlOk(['get', 'dwp', 'apitest-status']);
    const [header, row] = table.split('\n');
    expect(header).toMatch(/^NAME\s+NODES\s+REPORTING\s+ALERTING\s+DROPS\/S\s+READY\s+AGE$/);
    expect(row).toMatch(/^apitest-status\s+3\s+3\s+2\s+1250\.5\s+True\s+\S+$/);
  });

  it('rejects a status condition outside the known types', async () => {
    const body = {
      apiVersion: DropWatchPolicyResource.apiVersion, kind: DropWatchPolicyResource.kind, metadata: { name: 'apitest-status' },
      status: { conditions: [{ type: 'Happy', status: 'True', reason: 'Yes', message: '', lastTransitionTime: '2025-01-31T12:00:00Z' }] },
    };
    const r = await cluster.kubectlResult(['apply', '--server-side', '--subresource=status', `--field-manager=${FIELD_MANAGER}-operator`, '-f', '-'], JSON.stringify(body));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('status.conditions[0].type: Unsupported value: "Happy"');
  });

  it('kubectl get dwp shows the printer columns', async () => {
    const out = await kubectlOk(['get', 'dwp']);
    expect(out.split('\n')[0]).toMatch(/^NAME\s+NODES\s+REPORTING\s+ALERTING\s+DROPS\/S\s+READY\s+AGE$/);
  });

  it('the dropwatch category lists both kinds', async () => {
    const out = await kubectlOk(['get', 'dropwatch', '-o', 'name']);
    expect(out).toContain('dropwatchpolicy.dropwatch.dev/apitest-status');
    expect(out).toContain('dropwatchnodereport.dropwatch.dev/apitest.node-a');
  });

  it('kubectl explain teaches the thresholds and the report', async () => {
    const thresholds = await kubectlOk(['explain', 'dropwatchpolicy.spec.thresholds']);
    expect(thresholds).toContain('stays above the warning');
    expect(thresholds).toMatch(/metric\s+<string> -required-/);
    expect(thresholds).toContain('dropsPerSecond, lossPercent');
    const interval = await kubectlOk(['explain', 'dropwatchpolicy.spec.samplingInterval']);
    expect(interval).toContain('Default 1s');
    const ladder = await kubectlOk(['explain', 'dropwatchnodereport.status.ladder']);
    expect(ladder).toContain('The loss ladder');
  });
});
