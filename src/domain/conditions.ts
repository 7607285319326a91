// Condition types, reasons and Event reasons, all in one place (STYLE.md 8). Pure constants; the
// policy status planner, the Node condition planner and the operator's Event emitter use them.

/** The condition types of a DropWatchPolicy (kstatus: Ready, Reconciling, Stalled, plus Degraded). */
export const PolicyConditionTypes = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
  Degraded: 'Degraded',
} as const;

/** Reasons of the policy's Ready condition. */
export const ReadyReasons = {
  /** True: the DaemonSet is rolled out for this generation and every matching node reports. */
  AgentsReady: 'AgentsReady',
  /** True: the selector matches no node; nothing to run (Ready, so `kubectl wait` does not hang). */
  NoMatchingNodes: 'NoMatchingNodes',
  /** False: the agent DaemonSet does not exist yet or is not rolled out for this generation. */
  RollingOut: 'RollingOut',
  /** False: some matching nodes have not written a first report yet. */
  AwaitingReports: 'AwaitingReports',
  /** False: some matching nodes' reports are older than twice the heartbeat interval. */
  NodesStale: 'NodesStale',
  /** False: the DaemonSet does not schedule an agent on some matching nodes (taints?). */
  AgentsNotScheduled: 'AgentsNotScheduled',
  /** False: the operator cannot make progress (see Stalled). */
  Stalled: 'Stalled',
} as const;

/** Reasons of the Reconciling condition. */
export const ReconcilingReasons = {
  /** True: the agent DaemonSet is being created or rolled out. */
  RollingOut: 'RollingOut',
  /** True: rolled out, waiting for first reports from new agents. */
  AwaitingReports: 'AwaitingReports',
  /** False: nothing left to do for this generation. */
  Reconciled: 'Reconciled',
  /** False: the operator has stopped trying (see Stalled). */
  Stalled: 'Stalled',
} as const;

/**
 * Reasons the operator can give for Stalled=True: failures that need a change from the user.
 * The message carries the DWO_E_* code.
 */
export const StalledReasons = {
  /** The spec is valid for the API server but not usable (e.g. a duration the domain rejects). */
  InvalidSpec: 'InvalidSpec',
  /** Creating or updating the DaemonSet was refused (RBAC, admission, quota). */
  DaemonSetRejected: 'DaemonSetRejected',
  /** Stalled=False. */
  NotStalled: 'NotStalled',
} as const;

/** Reasons of the Degraded condition (working, but with less than asked for). */
export const DegradedReasons = {
  /** False: every reporting node runs the sources it was asked for and loses nothing. */
  AsExpected: 'AsExpected',
  /** True: some nodes reported before but their reports are now stale. */
  NodesStale: 'NodesStale',
  /** True: the DaemonSet schedules agents on fewer nodes than the selector matches. */
  AgentsNotScheduled: 'AgentsNotScheduled',
  /** True: some nodes have no kernel drop source (counters only: no sites, no reasons). */
  CountersOnly: 'CountersOnly',
  /** True: some nodes run without a requested source (e.g. counters unreadable). */
  SourcesMissing: 'SourcesMissing',
  /** True: some agents lost drop events (ring buffer full): their counts are too low. */
  MonitorLosingEvents: 'MonitorLosingEvents',
} as const;

/** The condition type the operator sets on Nodes. */
export const NodeConditionType = 'PacketLoss';

/** Reasons of the Node condition PacketLoss. */
export const PacketLossReasons = {
  /** True: a threshold is critical on this node. */
  ThresholdCritical: 'DropThresholdCritical',
  /** True: a threshold is at warning on this node (none critical). */
  ThresholdWarning: 'DropThresholdWarning',
  /** False: every threshold of every covering policy is below its levels. */
  NoPacketLoss: 'NoPacketLoss',
  /** Unknown: no breach, but some covering policy has no fresh report or data for this node. */
  ReportStale: 'DropReportStale',
} as const;

/** Event reasons (on the Node and on the policy), one per kind of threshold transition. */
export const EventReasons = {
  /** Warning Event: a threshold entered warning or critical. */
  DropThresholdExceeded: 'DropThresholdExceeded',
  /** Normal Event: a threshold recovered (at or below clear for `for`). */
  DropThresholdRecovered: 'DropThresholdRecovered',
  /** Warning Event: a node's report went stale or lost the data a threshold needs. */
  DropReportStale: 'DropReportStale',
  /** Normal Event: a node reports again after being Unknown. */
  DropReportResumed: 'DropReportResumed',
} as const;

/** Any reason string defined above, for typing condition builders. */
export type ConditionReason =
  | (typeof ReadyReasons)[keyof typeof ReadyReasons]
  | (typeof ReconcilingReasons)[keyof typeof ReconcilingReasons]
  | (typeof StalledReasons)[keyof typeof StalledReasons]
  | (typeof DegradedReasons)[keyof typeof DegradedReasons]
  | (typeof PacketLossReasons)[keyof typeof PacketLossReasons];
