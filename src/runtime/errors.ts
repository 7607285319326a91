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
  DWO_E_NOT_ROOT: { kind: 'terminal', exitCode: 3, summary: 'Reading kernel drops needs root (or CAP_SYS_ADMIN for tracefs, CAP_SYSLOG for symbols).', fix: 'Run with sudo, or as a container with the capabilities listed in docs/security.md.' },
  DWO_E_TRACEFS_NOT_MOUNTED: { kind: 'terminal', exitCode: 3, summary: 'tracefs is not mounted and could not be mounted.', fix: 'Mount it: `mount -t tracefs nodev /sys/kernel/tracing` (in a container, mount the host /sys/kernel/tracing).' },
  DWO_E_TRACEFS_PERMISSION: { kind: 'terminal', exitCode: 3, summary: 'tracefs is not writable by this process.', fix: 'Run as root, or grant CAP_SYS_ADMIN; in a container mount /sys/kernel/tracing read-write.' },
  DWO_E_NO_KFREE_SKB: { kind: 'terminal', exitCode: 3, summary: 'The kernel has no skb:kfree_skb tracepoint (CONFIG_TRACEPOINTS or CONFIG_NET off).', fix: 'Use a kernel with tracepoints; the agent still reports NIC, softnet and snmp counters (use --source counters).' },
  DWO_E_UNKNOWN_REASON: { kind: 'terminal', exitCode: 2, summary: 'A drop reason name is not known to this kernel.', fix: 'Use a name from the kernel list printed with the error (without the SKB_DROP_REASON_ prefix).' },
  DWO_E_INTERFACE_NOT_FOUND: { kind: 'terminal', exitCode: 2, summary: 'A network interface to watch does not exist.', fix: 'Check the name with `ip link`; names are case-sensitive.' },
  DWO_E_COUNTERS_UNREADABLE: { kind: 'transient', exitCode: 3, summary: 'A kernel counter file (/proc/net/*, /sys/class/net/*/statistics) could not be read; the rest of the snapshot is still reported.', fix: 'Mount procfs and sysfs of the host network namespace (in a container: hostNetwork and /sys).' },
  DWO_E_ETHTOOL_FAILED: { kind: 'transient', exitCode: 3, summary: '`ethtool -S` failed or timed out for an interface; its driver counters are missing from the report.', fix: 'Most virtual devices have no driver statistics: ignore it for them. For a NIC, check that ethtool is installed and the driver supports -S.' },
  DWO_E_NO_TTY: { kind: 'terminal', exitCode: 2, summary: '`top` needs an interactive terminal.', fix: 'Run it in a terminal, or use `snapshot --json` from scripts.' },
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
