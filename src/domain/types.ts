// Plain internal types for drops and counters (STYLE.md 9): kernel sources produce them, the
// domain classifies and aggregates them, and exporters (CLI JSON, node report) serialise them.
// Nothing here knows about tracefs, /proc or the Kubernetes API.

/** Where in the receive path a packet was lost, from the wire inwards. */
export const LAYERS = ['nic', 'driver', 'backlog', 'netfilter', 'ip', 'transport', 'socket', 'capture'] as const;
export type Layer = (typeof LAYERS)[number];

/**
 * One aggregated group of kfree_skb events read from the kernel: same location and reason.
 * A tracefs ring reader emits one per (cpu, location, reason) per read batch; hist triggers emit
 * one per hist line. `count` is the number of events.
 */
export interface KernelDropSample {
  /** Return address inside the function that freed the skb (the tracepoint's `location`). */
  readonly location: bigint;
  /** Raw reason value as the kernel wrote it (0 when the kernel has no reason field). */
  readonly reasonCode: number;
  /** Reason name from the event's print fmt, e.g. "NO_SOCKET"; subsystem reasons as "SUBSYS:code". */
  readonly reason: string;
  readonly count: number;
}

/** A symbolized kernel address, printed like the kernel's %pS: function+0xoff/0xsize [module]. */
export interface Symbolized {
  /** Function name, or the hex address when symbols are hidden or unknown. */
  readonly symbol: string;
  readonly offset: number;
  readonly size: number;
  readonly module?: string;
  /** Why no symbol could be given, when symbol is a hex address. */
  readonly unresolvedReason?: string;
}

/** Raw per-interface counters (cumulative, as the kernel reports them). */
export interface InterfaceCounters {
  readonly name: string;
  readonly rxPackets: bigint;
  readonly rxDropped: bigint;
  readonly rxMissedErrors: bigint;
  readonly rxFifoErrors: bigint;
  readonly rxOverErrors: bigint;
  /** Drop-like counters from `ethtool -S` (driver-specific names), cumulative. */
  readonly ethtool: Readonly<Record<string, bigint>>;
}

/** One CPU's row of /proc/net/softnet_stat (cumulative). */
export interface SoftnetRow {
  readonly cpu: number;
  readonly processed: bigint;
  readonly dropped: bigint;
  readonly timeSqueeze: bigint;
  readonly flowLimit: bigint;
}

/** Named counters from /proc/net/snmp and /proc/net/netstat, keyed "Proto.Name" (e.g. "Udp.NoPorts"). */
export type SnmpCounters = ReadonlyMap<string, bigint>;

/** Everything the counter sources read at one instant. */
export interface CounterSnapshot {
  /** Monotonic time of the read, in milliseconds. */
  readonly atMs: number;
  readonly interfaces: readonly InterfaceCounters[];
  readonly softnet: readonly SoftnetRow[];
  readonly snmp: SnmpCounters;
}

/** What the capability probe found on this node. */
export interface Capabilities {
  readonly tracefs: { readonly available: boolean; readonly writable: boolean; readonly path?: string; readonly detail?: string };
  readonly kfreeSkb: { readonly available: boolean; readonly reasonField: boolean; readonly detail?: string };
  readonly kallsyms: { readonly visible: boolean; readonly detail?: string };
  readonly histTriggers: boolean;
  readonly dropMonitor: boolean;
  readonly ethtool: boolean;
}

/** The live kernel-drop source picked from the probe, best first. */
export type DropSourceKind = 'hist-trigger' | 'tracefs-ring' | 'counters-only';
