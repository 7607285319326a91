// Plans the agent DaemonSet of one DropWatchPolicy as a plain apps/v1 manifest: name, labels,
// node affinity, tolerations, agent flags and the security context, each privilege with its
// reason. Pure; the operator's policy reconciler adds the owner reference and applies it with SSA.
import type { AgentSecurityMode, DropWatchPolicySpec, NodeSelector, Toleration } from '../api/generated/types.js';

// ---------------------------------------------------------------------------------------------
// Why the agent gets each privilege (and why it does not get others). Used by the plan below,
// by its tests (every privilege in the output must have an entry) and by docs/the Helm chart.

/** The host path of tracefs, and where the agent sees it. */
export const TRACEFS_HOST_PATH = '/sys/kernel/tracing';
/**
 * Not under /sys inside the container: the container runtimes' default AppArmor profile
 * (docker-default / cri-containerd.apparmor.d) denies writes to /sys/[^f]*\/**, which would block
 * creating the agent's tracefs instance if the mount sat at /sys/kernel/tracing.
 */
export const TRACEFS_MOUNT_PATH = '/host/sys/kernel/tracing';

/** Linux capabilities (Kubernetes spelling, no CAP_ prefix) the agent gets in leastPrivilege mode. */
export const LEAST_PRIVILEGE_CAPABILITIES = ['SYSLOG'] as const;

/**
 * The reason for every privilege the planned pod can carry, keyed as `capability:<NAME>`,
 * `hostPath:<path>`, or the pod/securityContext field name. A test checks that everything
 * privileged in a planned manifest has an entry here.
 */
export const PRIVILEGE_REASONS: Readonly<Record<string, string>> = {
  'capability:SYSLOG':
    '/proc/kallsyms shows real addresses only to openers with CAP_SYSLOG when kernel.kptr_restrict is 1, or when it is 0 and ' +
    'kernel.perf_event_paranoid is above 1 (the usual distribution defaults). Without it every drop location stays a hex address.',
  [`hostPath:${TRACEFS_HOST_PATH}`]:
    'The host tracefs, mounted read-write: the agent creates its own instance (instances/<name>), enables skb:kfree_skb with an ' +
    'in-kernel reason filter or hist trigger there, reads the per-CPU raw ring and the ring statistics, and removes the instance on exit. ' +
    'Only this directory of the host is mounted.',
  hostNetwork:
    "/proc/net/{dev,snmp,netstat,softnet_stat}, /sys/class/net/*/statistics and ethtool's SIOCETHTOOL ioctl all show the network " +
    "namespace of the reader. The sensor's capture interfaces and the host's counters live in the host namespace, so the agent " +
    'joins it. The agent opens no listening port there except its metrics endpoint.',
  'runAsUser:0':
    'tracefs files and directories belong to root with mode 0700/0640 (no access for others), so the agent runs as uid 0 to pass ' +
    'the ordinary owner permission check. All capabilities are dropped, so uid 0 here bypasses nothing (no CAP_DAC_OVERRIDE).',
  privileged:
    'securityMode: privileged, chosen in the policy for nodes where the least-privilege set is not enough (e.g. tracefs mounted ' +
    'with restrictive uid/gid options, or an LSM policy that denies the least-privilege pod). Gives every capability and no LSM confinement.',
};

/**
 * Capabilities considered and not granted in leastPrivilege mode, with why. Kept next to
 * {@link PRIVILEGE_REASONS} so the decision is visible where the grants are.
 */
export const DECLINED_PRIVILEGES: Readonly<Record<string, string>> = {
  'capability:SYS_ADMIN':
    'tracefs has no capability check on instance mkdir/rmdir, event enable, filter, trigger or trace_pipe_raw: access is decided ' +
    'by file permissions (root-owned) and, under lockdown=confidentiality, refused for everyone. Mounting tracefs would need it, ' +
    'but the host tracefs is bind-mounted instead.',
  'capability:PERFMON':
    'CAP_PERFMON gates perf_event_open and BPF tracing, which the agent does not use; tracefs ignores it.',
  'capability:BPF': 'No BPF programs are loaded; in-kernel aggregation uses tracefs hist triggers.',
  'capability:NET_ADMIN':
    'ethtool -S uses ETHTOOL_GSSET_INFO, ETHTOOL_GSTRINGS and ETHTOOL_GSTATS, which dev_ethtool() allows to anyone ' +
    '(they are on its unprivileged list); sysfs statistics and /proc/net files are world-readable.',
  'capability:DAC_READ_SEARCH':
    'Everything read is either world-readable (/proc/kallsyms, /proc/net/*, sysfs statistics) or root-owned tracefs, which uid 0 ' +
    'reads as owner.',
  'capability:DAC_OVERRIDE': 'Same as DAC_READ_SEARCH: uid 0 is the owner of the tracefs files it writes.',
  hostPID:
    '/proc/kallsyms is global (not per PID namespace) and the container runtime does not mask it, so the container\'s own /proc ' +
    'serves it; no host process is inspected.',
};

// ---------------------------------------------------------------------------------------------
// The agent's command line: one place, so the agent entrypoint can parse the same names.

/** Flags the operator passes to `dropwatch-operator agent` (the agent subcommand). */
export const AGENT_FLAGS = {
  policy: '--policy',
  nodeName: '--node-name',
  samplingInterval: '--sampling-interval',
  reportInterval: '--report-interval',
  heartbeatInterval: '--heartbeat-interval',
  tracefsRoot: '--tracefs-root',
  /** Comma-separated enabled sources, named as in spec.sources: tracepoint,histTriggers,counters. */
  sources: '--sources',
  bufferSizeKb: '--buffer-size-kb',
  /** Repeated once per reason. */
  ignoreReason: '--ignore-reason',
  /** Repeated once per interface. */
  interface: '--interface',
  metricsBindAddress: '--metrics-bind-address',
} as const;

/** The agent subcommand (first argument; the image's entrypoint is the dropwatch-operator CLI). */
export const AGENT_SUBCOMMAND = 'agent';
/** The container's name. */
export const AGENT_CONTAINER_NAME = 'agent';
/** Pod-template annotation carrying {@link specHash}; a change rolls the DaemonSet. */
export const SPEC_HASH_ANNOTATION = 'dropwatch.dev/spec-hash';
/** Label naming the policy on the DaemonSet and its pods. */
export const POLICY_LABEL = 'dropwatch.dev/policy';

// ---------------------------------------------------------------------------------------------
// Manifest types: the plain apps/v1 shapes this plan fills in (no client library types).

/** A node selector requirement (core/v1 NodeSelectorRequirement). */
export interface NodeSelectorRequirementManifest {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[];
}

/** The container security context this plan sets. */
export interface SecurityContextManifest {
  readonly privileged?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly readOnlyRootFilesystem: boolean;
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly runAsNonRoot: boolean;
  readonly capabilities?: { readonly drop: readonly string[]; readonly add: readonly string[] };
  readonly seccompProfile?: { readonly type: 'RuntimeDefault' };
}

/** The agent container. */
export interface ContainerManifest {
  readonly name: string;
  readonly image: string;
  readonly imagePullPolicy?: string;
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly valueFrom: { readonly fieldRef: { readonly fieldPath: string } } }[];
  readonly securityContext: SecurityContextManifest;
  readonly volumeMounts: readonly { readonly name: string; readonly mountPath: string; readonly readOnly: boolean; readonly mountPropagation?: string }[];
  readonly resources?: { readonly requests?: Readonly<Record<string, string>>; readonly limits?: Readonly<Record<string, string>> };
  readonly ports: readonly { readonly name: string; readonly containerPort: number; readonly protocol: 'TCP' }[];
  readonly readinessProbe: ProbeManifest;
  readonly livenessProbe: ProbeManifest;
}

/** An HTTP probe on a named container port. */
export interface ProbeManifest {
  readonly httpGet: { readonly path: string; readonly port: string };
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

/**
 * The agent's /metrics and /healthz port (the agent's default --metrics-bind-address is
 * 0.0.0.0 on this port). Declared on the container so Prometheus' PodMonitor can select it by the
 * name `metrics`; with hostNetwork it is also a host port, so the scheduler will not place a second
 * agent (a second policy covering the same node) where it could not bind.
 */
export const AGENT_METRICS_PORT = 9847;

/** The pod template's spec. */
export interface PodSpecManifest {
  readonly serviceAccountName: string;
  readonly automountServiceAccountToken: boolean;
  readonly hostNetwork: boolean;
  readonly dnsPolicy: string;
  readonly enableServiceLinks: boolean;
  readonly terminationGracePeriodSeconds: number;
  readonly priorityClassName?: string;
  readonly affinity?: {
    readonly nodeAffinity: {
      readonly requiredDuringSchedulingIgnoredDuringExecution: {
        readonly nodeSelectorTerms: readonly { readonly matchExpressions: readonly NodeSelectorRequirementManifest[] }[];
      };
    };
  };
  readonly tolerations?: readonly Toleration[];
  readonly containers: readonly ContainerManifest[];
  readonly volumes: readonly { readonly name: string; readonly hostPath: { readonly path: string; readonly type: string } }[];
}

/** An apps/v1 DaemonSet as a plain object. */
export interface DaemonSetManifest {
  readonly apiVersion: 'apps/v1';
  readonly kind: 'DaemonSet';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly spec: {
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> };
    readonly updateStrategy: { readonly type: 'RollingUpdate'; readonly rollingUpdate: { readonly maxUnavailable: string } };
    readonly template: {
      readonly metadata: { readonly labels: Readonly<Record<string, string>>; readonly annotations: Readonly<Record<string, string>> };
      readonly spec: PodSpecManifest;
    };
  };
}

/** What the plan needs besides the policy. */
export interface AgentDaemonSetOptions {
  /** Namespace the operator runs its agents in. */
  readonly namespace: string;
  /** Agent image when spec.agent.image is unset (the operator's Helm value agent.image). */
  readonly defaultImage: string;
  /** ServiceAccount of the agent pods (may write DropWatchNodeReports). */
  readonly serviceAccount: string;
  /** Operator version, for the app.kubernetes.io/version label. */
  readonly operatorVersion: string;
}

/** The parts of a DropWatchPolicy the plan reads. */
export interface PolicyForPlan {
  readonly metadata: { readonly name: string };
  readonly spec: DropWatchPolicySpec;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * 64-bit FNV-1a over the UTF-16 code units of a string, as 16 hex digits. Not cryptographic: it
 * only has to change when its input does (name suffixes, the rollout annotation).
 */
export function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

/** JSON with object keys sorted at every level and undefined left out, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * Cuts a DNS-label-like name to `max` characters, replacing the tail with "-" and 8 hex digits of
 * the full name's hash when it is too long, so distinct long names stay distinct.
 */
export function boundedName(name: string, max: number): string {
  if (name.length <= max) return name;
  const suffix = fnv1a64(name).slice(0, 8);
  const head = name.slice(0, max - suffix.length - 1).replace(/[-.]+$/, '');
  return `${head}-${suffix}`;
}

/**
 * Longest DaemonSet name: its pods are named `<name>-<5 characters>`, and keeping those within a
 * DNS label (63) keeps pod hostnames untruncated.
 */
export const DAEMONSET_NAME_MAX = 57;

/** The agent DaemonSet's name for a policy: `dropwatch-<policy>`, bounded (see {@link boundedName}). */
export function agentDaemonSetName(policy: string): string {
  return boundedName(`dropwatch-${policy}`, DAEMONSET_NAME_MAX);
}

function labelValue(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return boundedName(cleaned, 63);
}

/**
 * Hash of everything in the spec that the agents run with: the whole spec except `thresholds`
 * (the operator evaluates those; editing one must not restart every agent), plus the image that
 * will actually run. Written to the pod template as {@link SPEC_HASH_ANNOTATION}.
 */
export function specHash(spec: DropWatchPolicySpec, image: string): string {
  return fnv1a64(canonicalJson({ spec: { ...spec, thresholds: undefined }, image }));
}

/** matchLabels become `In [value]` requirements (sorted by key); matchExpressions are kept as they are. */
export function nodeAffinityTerms(selector: NodeSelector): NodeSelectorRequirementManifest[] {
  const fromLabels = Object.entries(selector.matchLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]): NodeSelectorRequirementManifest => ({ key, operator: 'In', values: [value] }));
  const fromExpressions = (selector.matchExpressions ?? []).map(
    (e): NodeSelectorRequirementManifest => ({
      key: e.key,
      operator: e.operator,
      ...(e.values !== undefined && e.values.length > 0 ? { values: [...e.values] } : {}),
    }),
  );
  return [...fromLabels, ...fromExpressions];
}

/** Tolerations as in the spec, with empty fields left out. */
export function podTolerations(tolerations: readonly Toleration[] | undefined): Toleration[] {
  return (tolerations ?? []).map((t) => {
    const out: { -readonly [K in keyof Toleration]: Toleration[K] } = {};
    if (t.key !== undefined && t.key !== '') out.key = t.key;
    if (t.operator !== undefined) out.operator = t.operator;
    if (t.value !== undefined && t.value !== '') out.value = t.value;
    if (t.effect !== undefined) out.effect = t.effect;
    if (t.tolerationSeconds !== undefined) out.tolerationSeconds = t.tolerationSeconds;
    return out;
  });
}

/** The agent's arguments for a policy (after the image's entrypoint). */
export function agentArgs(policyName: string, spec: DropWatchPolicySpec): string[] {
  const s = spec.sources;
  const sources = [
    ...(s.tracepoint.enabled ? ['tracepoint'] : []),
    ...(s.histTriggers.enabled ? ['histTriggers'] : []),
    ...(s.counters.enabled ? ['counters'] : []),
  ];
  const args = [
    AGENT_SUBCOMMAND,
    AGENT_FLAGS.policy, policyName,
    // Kubernetes expands $(NODE_NAME) from the container's env (downward API, spec.nodeName).
    AGENT_FLAGS.nodeName, '$(NODE_NAME)',
    AGENT_FLAGS.samplingInterval, spec.samplingInterval,
    AGENT_FLAGS.reportInterval, spec.reportInterval,
    AGENT_FLAGS.heartbeatInterval, spec.heartbeatInterval,
    AGENT_FLAGS.tracefsRoot, TRACEFS_MOUNT_PATH,
    AGENT_FLAGS.sources, sources.join(','),
  ];
  if (s.tracepoint.enabled || s.histTriggers.enabled) args.push(AGENT_FLAGS.bufferSizeKb, String(s.tracepoint.bufferSizeKb));
  for (const r of spec.ignoreReasons ?? []) args.push(AGENT_FLAGS.ignoreReason, r);
  for (const i of spec.interfaces ?? []) args.push(AGENT_FLAGS.interface, i);
  // The agent's default bind address already uses AGENT_METRICS_PORT; say it only when it differs.
  const port = spec.agent.metricsPort;
  if (port !== AGENT_METRICS_PORT) args.push(AGENT_FLAGS.metricsBindAddress, `0.0.0.0:${port}`);
  args.push(...(spec.agent.extraArgs ?? []));
  return args;
}

/** The agent container's security context for a security mode. */
export function agentSecurityContext(mode: AgentSecurityMode): SecurityContextManifest {
  if (mode === 'privileged') {
    // PRIVILEGE_REASONS.privileged. allowPrivilegeEscalation cannot be false with privileged.
    return { privileged: true, readOnlyRootFilesystem: true, runAsUser: 0, runAsGroup: 0, runAsNonRoot: false };
  }
  return {
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    // PRIVILEGE_REASONS['runAsUser:0']: owner access to root-owned tracefs; no capability it bypasses.
    runAsUser: 0,
    runAsGroup: 0,
    runAsNonRoot: false,
    capabilities: {
      drop: ['ALL'],
      // SYSLOG: PRIVILEGE_REASONS['capability:SYSLOG'] (real addresses in /proc/kallsyms). Not
      // SYS_ADMIN, PERFMON, BPF, NET_ADMIN or DAC_*: see DECLINED_PRIVILEGES.
      add: [...LEAST_PRIVILEGE_CAPABILITIES],
    },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

// ---------------------------------------------------------------------------------------------
// The plan

/**
 * The agent DaemonSet for a policy, as a plain apps/v1 object without an owner reference (the
 * caller adds it). Runs on the nodes spec.nodeSelector selects (as required node affinity, so
 * matchExpressions keep their operators), tolerates spec.tolerations, uses the host network,
 * mounts only the host's tracefs, and gets the security context of spec.agent.securityMode.
 * Resources come from spec.agent.resources only (no defaults). The pod template carries
 * {@link SPEC_HASH_ANNOTATION} so a policy change rolls the agents.
 */
export function planAgentDaemonSet(policy: PolicyForPlan, opts: AgentDaemonSetOptions): DaemonSetManifest {
  const policyName = policy.metadata.name;
  const spec = policy.spec;
  const name = agentDaemonSetName(policyName);
  const image = spec.agent.image ?? opts.defaultImage;
  const selectorLabels = {
    'app.kubernetes.io/name': 'dropwatch-agent',
    [POLICY_LABEL]: labelValue(policyName),
  };
  const podLabels = {
    ...selectorLabels,
    'app.kubernetes.io/instance': labelValue(policyName),
    'app.kubernetes.io/component': 'agent',
    'app.kubernetes.io/part-of': 'dropwatch-operator',
    'app.kubernetes.io/managed-by': 'dropwatch-operator',
  };
  // The version label stays off the pod template: an operator upgrade alone must not restart
  // every agent (a new default image changes the template through the image and spec hash).
  const labels = { ...podLabels, 'app.kubernetes.io/version': labelValue(opts.operatorVersion) };
  const terms = nodeAffinityTerms(spec.nodeSelector);
  const tolerations = podTolerations(spec.tolerations);
  const res = spec.agent.resources;
  const resources = {
    ...(res?.requests !== undefined && Object.keys(res.requests).length > 0 ? { requests: { ...res.requests } } : {}),
    ...(res?.limits !== undefined && Object.keys(res.limits).length > 0 ? { limits: { ...res.limits } } : {}),
  };

  const container: ContainerManifest = {
    name: AGENT_CONTAINER_NAME,
    image,
    ...(spec.agent.imagePullPolicy === undefined ? {} : { imagePullPolicy: spec.agent.imagePullPolicy }),
    args: agentArgs(policyName, spec),
    env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
    securityContext: agentSecurityContext(spec.agent.securityMode),
    volumeMounts: [
      // HostToContainer: if tracefs is mounted on the host after the pod started, the agent sees it.
      { name: 'tracefs', mountPath: TRACEFS_MOUNT_PATH, readOnly: false, mountPropagation: 'HostToContainer' },
    ],
    ...(Object.keys(resources).length > 0 ? { resources } : {}),
    ports: [{ name: 'metrics', containerPort: spec.agent.metricsPort, protocol: 'TCP' }],
    // /healthz answers 503 once no window has closed for 3 report intervals plus 5 s (the monitor is
    // stuck); a failing API server alone keeps it 200, so a restart never throws away pending counts.
    readinessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 4 },
  };

  const podSpec: PodSpecManifest = {
    serviceAccountName: opts.serviceAccount,
    automountServiceAccountToken: true,
    // PRIVILEGE_REASONS.hostNetwork: the host's /proc/net, sysfs net statistics and ethtool.
    hostNetwork: true,
    // With hostNetwork, ClusterFirst would fall back to the node's resolver; keep cluster DNS.
    dnsPolicy: 'ClusterFirstWithHostNet',
    // A host-network pod gets no benefit from service env vars, only a long environment.
    enableServiceLinks: false,
    // Time to remove the agent's tracefs instance on SIGTERM.
    terminationGracePeriodSeconds: 30,
    ...(spec.agent.priorityClassName === undefined ? {} : { priorityClassName: spec.agent.priorityClassName }),
    ...(terms.length > 0
      ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: terms }] } } } }
      : {}),
    ...(tolerations.length > 0 ? { tolerations } : {}),
    containers: [container],
    // PRIVILEGE_REASONS['hostPath:/sys/kernel/tracing']: the only host path.
    volumes: [{ name: 'tracefs', hostPath: { path: TRACEFS_HOST_PATH, type: 'Directory' } }],
  };

  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: opts.namespace, labels },
    spec: {
      selector: { matchLabels: selectorLabels },
      // One node at a time would take hours on thousands of sensors; 10% keeps most watched.
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } },
      template: {
        metadata: {
          labels: podLabels,
          annotations: {
            [SPEC_HASH_ANNOTATION]: specHash(spec, image),
            'kubectl.kubernetes.io/default-container': AGENT_CONTAINER_NAME,
          },
        },
        spec: podSpec,
      },
    },
  };
}
