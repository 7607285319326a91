import { describe, expect, it } from 'vitest';
import type { DropWatchPolicySpec } from '../api/generated/types.js';
import {
  AGENT_FLAGS,
  AGENT_METRICS_PORT,
  agentArgs,
  agentDaemonSetName,
  boundedName,
  canonicalJson,
  DAEMONSET_NAME_MAX,
  DECLINED_PRIVILEGES,
  fnv1a64,
  nodeAffinityTerms,
  planAgentDaemonSet,
  podTolerations,
  PRIVILEGE_REASONS,
  SPEC_HASH_ANNOTATION,
  specHash,
  TRACEFS_HOST_PATH,
  TRACEFS_MOUNT_PATH,
  type AgentDaemonSetOptions,
  type DaemonSetManifest,
} from './daemonset-plan.js';

const spec = (over: Partial<DropWatchPolicySpec> = {}): DropWatchPolicySpec => ({
  nodeSelector: { matchLabels: { 'dropwatch.dev/sensor': 'span' } },
  samplingInterval: '1s',
  reportInterval: '15s',
  heartbeatInterval: '60s',
  sources: { tracepoint: { enabled: true, bufferSizeKb: 2048 }, histTriggers: { enabled: true }, counters: { enabled: true } },
  agent: { securityMode: 'leastPrivilege', metricsPort: 9847 },
  ...over,
});
const opts: AgentDaemonSetOptions = { namespace: 'dropwatch-system', defaultImage: 'ghcr.io/example/dropwatch:0.1.0', serviceAccount: 'dropwatch-agent', operatorVersion: '0.1.0+build.7' };
const plan = (s: DropWatchPolicySpec = spec(), name = 'span'): DaemonSetManifest => planAgentDaemonSet({ metadata: { name }, spec: s }, opts);
const container = (m: DaemonSetManifest) => m.spec.template.spec.containers[0]!;

describe('names', () => {
  it.each([
    ['span', 'dropwatch-span'],
    ['x'.repeat(40), `dropwatch-${'x'.repeat(40)}`],
  ])('%s -> %s', (policy, want) => {
    expect(agentDaemonSetName(policy)).toBe(want);
  });

  it('truncates long names with a hash suffix, DNS-safe and distinct', () => {
    const a = agentDaemonSetName(`${'a'.repeat(46)}-b`);
    const b = agentDaemonSetName(`${'a'.repeat(46)}-c`);
    expect(a).toHaveLength(DAEMONSET_NAME_MAX);
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a).not.toBe(b);
    expect(boundedName('abc-----defghij', 12)).toMatch(/^abc-[0-9a-f]{8}$/);
  });

  it('hashes are stable and canonical', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }] })).toBe('{"a":[1,{"c":"x"}],"b":1}');
  });
});

describe('node affinity from the selector', () => {
  it.each<[string, DropWatchPolicySpec['nodeSelector'], ReturnType<typeof nodeAffinityTerms>]>([
    ['empty selector: every node', {}, []],
    ['matchLabels become In, sorted by key', { matchLabels: { zone: 'dc1', 'dropwatch.dev/sensor': '' } }, [
      { key: 'dropwatch.dev/sensor', operator: 'In', values: [''] },
      { key: 'zone', operator: 'In', values: ['dc1'] },
    ]],
    ['matchExpressions kept as they are', { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['gw'] }, { key: 'sensor', operator: 'Exists' }, { key: 'old', operator: 'DoesNotExist', values: [] }] }, [
      { key: 'role', operator: 'NotIn', values: ['gw'] },
      { key: 'sensor', operator: 'Exists' },
      { key: 'old', operator: 'DoesNotExist' },
    ]],
    ['both, labels first', { matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'In', values: ['2', '3'] }] }, [
      { key: 'a', operator: 'In', values: ['1'] },
      { key: 'b', operator: 'In', values: ['2', '3'] },
    ]],
  ])('%s', (_n, selector, want) => {
    expect(nodeAffinityTerms(selector)).toEqual(want);
  });

  it('puts all requirements in one term (AND), or none for an empty selector', () => {
    const m = plan(spec({ nodeSelector: { matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'Exists' }] } }));
    const terms = m.spec.template.spec.affinity?.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    expect(terms).toHaveLength(1);
    expect(terms?.[0]?.matchExpressions).toHaveLength(2);
    expect(plan(spec({ nodeSelector: {} })).spec.template.spec.affinity).toBeUndefined();
  });
});

describe('tolerations', () => {
  it.each<[string, DropWatchPolicySpec['tolerations'], ReturnType<typeof podTolerations>]>([
    ['none', undefined, []],
    ['as in the spec', [{ key: 'dedicated', operator: 'Equal', value: 'ids', effect: 'NoSchedule' }], [{ key: 'dedicated', operator: 'Equal', value: 'ids', effect: 'NoSchedule' }]],
    ['tolerate everything', [{ operator: 'Exists' }], [{ operator: 'Exists' }]],
    ['NoExecute with seconds; empty strings dropped', [{ key: 'k', value: '', effect: 'NoExecute', tolerationSeconds: 300 }], [{ key: 'k', effect: 'NoExecute', tolerationSeconds: 300 }]],
  ])('%s', (_n, tolerations, want) => {
    expect(podTolerations(tolerations)).toEqual(want);
    const m = plan(spec(tolerations === undefined ? {} : { tolerations }));
    expect(m.spec.template.spec.tolerations).toEqual(want.length > 0 ? want : undefined);
  });
});

describe('agent arguments', () => {
  const common = ['agent', '--policy', 'span', '--node-name', '$(NODE_NAME)', '--sampling-interval', '1s', '--report-interval', '15s', '--heartbeat-interval', '60s', '--tracefs-root', TRACEFS_MOUNT_PATH];
  it.each<[string, Partial<DropWatchPolicySpec>, string[]]>([
    ['defaults', {}, [...common, '--sources', 'tracepoint,histTriggers,counters', '--buffer-size-kb', '2048']],
    [
      'reasons, interfaces, intervals and extra args',
      {
        samplingInterval: '500ms',
        ignoreReasons: ['OTHERHOST', 'NO_SOCKET'],
        interfaces: ['ens1f0', 'ens1f1'],
        agent: { securityMode: 'leastPrivilege', metricsPort: 9847, extraArgs: ['--log-level=debug'] },
      },
      [
        ...common.map((a) => (a === '1s' ? '500ms' : a)),
        '--sources', 'tracepoint,histTriggers,counters', '--buffer-size-kb', '2048',
        '--ignore-reason', 'OTHERHOST', '--ignore-reason', 'NO_SOCKET',
        '--interface', 'ens1f0', '--interface', 'ens1f1',
        '--log-level=debug',
      ],
    ],
    [
      'counters only: no ring buffer size',
      { sources: { tracepoint: { enabled: false, bufferSizeKb: 4096 }, histTriggers: { enabled: false }, counters: { enabled: true } } },
      [...common, '--sources', 'counters'],
    ],
    [
      'ring without hist triggers, bigger buffer',
      { sources: { tracepoint: { enabled: true, bufferSizeKb: 8192 }, histTriggers: { enabled: false }, counters: { enabled: false } } },
      [...common, '--sources', 'tracepoint', '--buffer-size-kb', '8192'],
    ],
  ])('%s', (_n, over, want) => {
    expect(agentArgs('span', spec(over))).toEqual(want);
    expect(container(plan(spec(over))).args).toEqual(want);
  });

  it('NODE_NAME comes from the downward API', () => {
    expect(container(plan()).env).toEqual([{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
    expect(agentArgs('span', spec())).toContain(AGENT_FLAGS.nodeName);
  });
});

describe('security modes', () => {
  it('leastPrivilege: drop ALL, add SYSLOG, no escalation, read-only root, RuntimeDefault seccomp', () => {
    expect(container(plan()).securityContext).toEqual({
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      capabilities: { drop: ['ALL'], add: ['SYSLOG'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('privileged: privileged container, still a read-only root', () => {
    const sc = container(plan(spec({ agent: { securityMode: 'privileged', metricsPort: 9847 } }))).securityContext;
    expect(sc).toEqual({ privileged: true, readOnlyRootFilesystem: true, runAsUser: 0, runAsGroup: 0, runAsNonRoot: false });
  });

  it.each(['leastPrivilege', 'privileged'] as const)('%s: host network and only the tracefs host path', (securityMode) => {
    const m = plan(spec({ agent: { securityMode, metricsPort: 9847 } }));
    const pod = m.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(pod.volumes).toEqual([{ name: 'tracefs', hostPath: { path: TRACEFS_HOST_PATH, type: 'Directory' } }]);
    expect(container(m).volumeMounts).toEqual([{ name: 'tracefs', mountPath: TRACEFS_MOUNT_PATH, readOnly: false, mountPropagation: 'HostToContainer' }]);
    expect(TRACEFS_MOUNT_PATH.startsWith('/sys/')).toBe(false);
  });

  it.each(['leastPrivilege', 'privileged'] as const)('%s: every privilege in the manifest has a written reason', (securityMode) => {
    const m = plan(spec({ agent: { securityMode, metricsPort: 9847 } }));
    const pod = m.spec.template.spec;
    const privileges: string[] = [];
    for (const c of pod.containers) {
      for (const cap of c.securityContext.capabilities?.add ?? []) privileges.push(`capability:${cap}`);
      if (c.securityContext.privileged === true) privileges.push('privileged');
      if (c.securityContext.runAsUser === 0) privileges.push('runAsUser:0');
    }
    for (const v of pod.volumes) privileges.push(`hostPath:${v.hostPath.path}`);
    if (pod.hostNetwork) privileges.push('hostNetwork');
    expect(privileges.length).toBeGreaterThan(0);
    for (const p of privileges) {
      expect(PRIVILEGE_REASONS[p]?.length ?? 0, `reason for ${p}`).toBeGreaterThan(40);
      expect(DECLINED_PRIVILEGES[p], `${p} is both granted and declined`).toBeUndefined();
    }
  });

  it('the declined capabilities are really absent', () => {
    const added = container(plan()).securityContext.capabilities?.add ?? [];
    for (const key of Object.keys(DECLINED_PRIVILEGES).filter((k) => k.startsWith('capability:'))) {
      expect(added).not.toContain(key.slice('capability:'.length));
    }
  });
});

describe('the rest of the manifest', () => {
  it('names, labels, selector, image and the spec hash annotation', () => {
    const m = plan();
    expect(m.metadata).toEqual({
      name: 'dropwatch-span',
      namespace: 'dropwatch-system',
      labels: {
        'app.kubernetes.io/name': 'dropwatch-agent',
        'app.kubernetes.io/instance': 'span',
        'app.kubernetes.io/component': 'agent',
        'app.kubernetes.io/part-of': 'dropwatch-operator',
        'app.kubernetes.io/managed-by': 'dropwatch-operator',
        'app.kubernetes.io/version': '0.1.0_build.7',
        'dropwatch.dev/policy': 'span',
      },
    });
    expect(m.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'dropwatch-agent', 'dropwatch.dev/policy': 'span' });
    const tpl = m.spec.template;
    for (const [k, v] of Object.entries(m.spec.selector.matchLabels)) expect(tpl.metadata.labels[k]).toBe(v);
    expect(tpl.metadata.labels['app.kubernetes.io/version']).toBeUndefined();
    expect(tpl.metadata.annotations[SPEC_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/);
    expect(container(m).image).toBe(opts.defaultImage);
    expect(container(m)).not.toHaveProperty('imagePullPolicy');
    expect(container(m)).not.toHaveProperty('resources');
    expect(tpl.spec.serviceAccountName).toBe('dropwatch-agent');
    expect(tpl.spec).not.toHaveProperty('priorityClassName');
  });

  it('declares the metrics port by name and probes /healthz on it', () => {
    const c = container(plan());
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: AGENT_METRICS_PORT, protocol: 'TCP' }]);
    // The agent's default bind address serves that port (no flag in the args changes it).
    expect(c.args.some((a) => a.startsWith('--metrics-bind-address'))).toBe(false);
    for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    // Liveness is slower to give up than readiness, so an agent is first marked unready, then restarted.
    expect(c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold).toBeGreaterThan(c.readinessProbe.periodSeconds * c.readinessProbe.failureThreshold);
  });

  it('another metrics port: the container port and the agent flag follow it', () => {
    const c = container(plan(spec({ agent: { securityMode: 'leastPrivilege', metricsPort: 19847 } })));
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: 19847, protocol: 'TCP' }]);
    expect(c.args.slice(-2)).toEqual([AGENT_FLAGS.metricsBindAddress, '0.0.0.0:19847']);
    // The probes name the port, so they follow too.
    expect(c.livenessProbe.httpGet.port).toBe('metrics');
  });

  it('image, pull policy, resources and priority class from the spec', () => {
    const m = plan(
      spec({
        agent: {
          securityMode: 'leastPrivilege',
          metricsPort: 9847,
          image: 'registry.local/dw@sha256:abc',
          imagePullPolicy: 'IfNotPresent',
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
          priorityClassName: 'system-node-critical',
        },
      }),
    );
    expect(container(m)).toMatchObject({
      image: 'registry.local/dw@sha256:abc',
      imagePullPolicy: 'IfNotPresent',
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    });
    expect(m.spec.template.spec.priorityClassName).toBe('system-node-critical');
  });

  it.each<[string, Partial<DropWatchPolicySpec>, boolean]>([
    ['same spec', {}, false],
    ['a threshold edit does not restart agents', { thresholds: [{ name: 'x', metric: 'dropsPerSecond', warning: 1, for: '1m' }] }, false],
    ['an interval change rolls them', { reportInterval: '30s' }, true],
    ['a new ignored reason rolls them', { ignoreReasons: ['OTHERHOST'] }, true],
    ['a selector change rolls them', { nodeSelector: { matchLabels: { other: 'x' } } }, true],
  ])('spec hash: %s', (_n, over, changes) => {
    const before = specHash(spec(), opts.defaultImage);
    expect(specHash(spec(over), opts.defaultImage) !== before).toBe(changes);
  });

  it('spec hash follows the image actually run', () => {
    expect(specHash(spec(), 'a:1')).not.toBe(specHash(spec(), 'a:2'));
  });
});
