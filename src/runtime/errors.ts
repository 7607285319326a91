// The error taxonomy and the stable code catalogue (STYLE.md 5-6). Every user-facing failure
// carries a DWO_E_* code, a message saying what was wrong and a fix; docs/errors.md lists them.
// Thrown by adapters and entrypoints; printed by the CLI, logged by long-running processes.

/** Whether retrying can help: transient -> retry with backoff; terminal -> report and stop. */
export type ErrorKind = 'transient' | 'terminal';

/** Catalogue entry: the fix text is shown to the user with the message. */
export interface CatalogueEntry {
  readonly kind: ErrorKind;
  readonly summary: string;
  readonly fix: string;
  /** Process exit code the CLI uses for it. */
  readonly exitCode: number;
}

export const CATALOGUE = {
  DWO_E_USAGE: { kind: 'terminal', exitCode: 2, summary: 'The command line is not valid.', fix: 'Run `dropwatch-operator --help` for the commands and flags.' },
  DWO_E_CONFIG: { kind: 'terminal', exitCode: 2, summary: 'A configuration value is not valid.', fix: 'Correct the named value; the message says what is accepted.' },
  DWO_E_NOT_ROOT: { kind: 'terminal', exitCode: 3, summary: 'Reading kernel drops needs uid 0: tracefs files are root-owned (no capability is checked); CAP_SYSLOG is needed to see kernel symbol addresses.', fix: 'Run with sudo, or in a container as uid 0 with CAP_SYSLOG (the agent DaemonSet does this).' },
  DWO_E_TRACEFS_NOT_MOUNTED: { kind: 'terminal', exitCode: 3, summary: 'tracefs is not mounted and could not be mounted.', fix: 'Mount it: `mount -t tracefs nodev /sys/kernel/tracing` (in a container, mount the host /sys/kernel/tracing).' },
  DWO_E_TRACEFS_PERMISSION: { kind: 'terminal', exitCode: 3, summary: 'tracefs is not writable by this process.', fix: 'Run as uid 0; in a container, mount the host /sys/kernel/tracing read-write outside /sys (e.g. /host/sys/kernel/tracing, since the default AppArmor profile denies writes under /sys) and pass --tracefs-root.' },
  DWO_E_NO_KFREE_SKB: { kind: 'terminal', exitCode: 3, summary: 'The kernel has no skb:kfree_skb tracepoint (CONFIG_TRACEPOINTS or CONFIG_NET off).', fix: 'Use a kernel with tracepoints; the agent still reports NIC, softnet and snmp counters (use --source counters).' },
  DWO_E_UNKNOWN_REASON: { kind: 'terminal', exitCode: 2, summary: 'A drop reason name is not known to this kernel.', fix: 'Use a name from the kernel list printed with the error (without the SKB_DROP_REASON_ prefix).' },
  DWO_E_INTERFACE_NOT_FOUND: { kind: 'terminal', exitCode: 2, summary: 'A network interface to watch does not exist.', fix: 'Check the name with `ip link`; names are case-sensitive.' },
  DWO_E_COUNTERS_UNREADABLE: { kind: 'transient', exitCode: 3, summary: 'A kernel counter file (/proc/net/*, /sys/class/net/*/statistics) could not be read; the rest of the snapshot is still reported.', fix: 'Mount procfs and sysfs of the host network namespace (in a container: hostNetwork and /sys).' },
  DWO_E_ETHTOOL_FAILED: { kind: 'transient', exitCode: 3, summary: '`ethtool -S` failed or timed out for an interface; its driver counters are missing from the report.', fix: 'Most virtual devices have no driver statistics: ignore it for them. For a NIC, check that ethtool is installed and the driver supports -S.' },
  DWO_E_NO_TTY: { kind: 'terminal', exitCode: 2, summary: '`top` needs an interactive terminal.', fix: 'Run it in a terminal, or use `snapshot --json` from scripts.' },
  DWO_E_KUBECONFIG: { kind: 'terminal', exitCode: 2, summary: 'The kubeconfig could not be loaded or names no current cluster.', fix: 'Pass --kubeconfig with a readable file that has a current context, or run in a pod with a service account.' },
  DWO_E_API_UNAVAILABLE: { kind: 'transient', exitCode: 4, summary: 'The Kubernetes API server could not be reached or is overloaded (network error, timeout, 429 or 5xx).', fix: 'Usually temporary: the request is retried with backoff. If it persists, check the API server and the path to it (`kubectl get --raw /readyz`).' },
  DWO_E_API_CONFLICT: { kind: 'transient', exitCode: 4, summary: 'The object changed since it was read, or already exists (409 Conflict).', fix: 'Nothing to do: the work is retried on a fresh read of the object.' },
  DWO_E_API_FIELD_CONFLICT: { kind: 'terminal', exitCode: 4, summary: 'A server-side apply conflicts with fields that another field manager owns.', fix: 'Let one manager own each field: remove the field from the other tool\'s manifests, or apply with force where our manager must own it.' },
  DWO_E_API_FORBIDDEN: { kind: 'terminal', exitCode: 4, summary: 'RBAC denies the request (403 Forbidden).', fix: 'Grant the verb and resource named in the message to the service account (the Helm chart\'s ClusterRole lists what each component needs).' },
  DWO_E_API_UNAUTHORIZED: { kind: 'terminal', exitCode: 4, summary: 'The API server rejected the credentials (401 Unauthorized).', fix: 'Check the kubeconfig user, or that the pod\'s service account token is mounted and not expired.' },
  DWO_E_API_INVALID: { kind: 'terminal', exitCode: 4, summary: 'The API server rejected the request as invalid (400 or 422); the message carries its reason.', fix: 'Correct the field the message names; for a DropWatchPolicy see `kubectl explain dropwatchpolicy.spec`.' },
  DWO_E_API_NOT_FOUND: { kind: 'terminal', exitCode: 4, summary: 'The object does not exist (404 Not Found); reconcilers treat this as done.', fix: 'Nothing to do if the object was deleted. Otherwise check the name and namespace, and that the CRDs are installed (`kubectl get crd`).' },
  DWO_E_CRDS_MISSING: { kind: 'terminal', exitCode: 4, summary: 'The dropwatch.dev CRDs (DropWatchPolicy, DropWatchNodeReport) are not installed in this cluster.', fix: 'Install them (`kubectl apply -f crds/`, or the Helm chart), or point --kubeconfig/--context at the cluster that runs dropwatch-operator.' },
  DWO_E_REPORT_NOT_FOUND: { kind: 'terminal', exitCode: 4, summary: 'No DropWatchNodeReport exists for the named node (and policy, if one was given).', fix: 'List the nodes that report with `kubectl dropwatch nodes`; a node gets a report once a DropWatchPolicy selects it and its agent runs there.' },
  DWO_E_INTERNAL: { kind: 'terminal', exitCode: 70, summary: 'An unexpected internal error.', fix: 'Report it with the log output; the message has the details.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof CATALOGUE;

/** An error with a stable code, a message saying what was wrong, and how to fix it. */
export class DwoError extends Error {
  readonly code: ErrorCode;
  readonly fix: string;
  readonly kind: ErrorKind;

  constructor(code: ErrorCode, message: string, options?: { fix?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DwoError';
    this.code = code;
    this.fix = options?.fix ?? CATALOGUE[code].fix;
    this.kind = CATALOGUE[code].kind;
  }

  /** "DWO_E_X: message\n  fix: ..." for terminals and logs. */
  format(): string {
    return `${this.code}: ${this.message}\n  fix: ${this.fix}`;
  }
}

/** Wraps anything thrown into a DwoError so callers can always print a code and a fix. */
export function toDwoError(err: unknown): DwoError {
  if (err instanceof DwoError) return err;
  const maybe = err as { code?: unknown; message?: unknown; fix?: unknown } | null;
  if (maybe && typeof maybe.code === 'string' && maybe.code in CATALOGUE && typeof maybe.message === 'string') {
    const opts: { fix?: string; cause: unknown } = { cause: err };
    if (typeof maybe.fix === 'string') opts.fix = maybe.fix;
    return new DwoError(maybe.code as ErrorCode, maybe.message, opts);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new DwoError('DWO_E_INTERNAL', message, { cause: err });
}
