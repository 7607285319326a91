// `dropwatch-operator agent`: the flags the operator's DaemonSet passes (AGENT_FLAGS), turned
// into a validated AgentConfig, and the wiring of the agent loop to the Kubernetes adapter
// (report sink, policy reader), pino and the process signals. Called by main.ts.
import { pino } from 'pino';
import { parseAgentConfig, type AgentConfig } from '../config/agent.js';
import { AGENT_FLAGS } from '../domain/daemonset-plan.js';
import { runAgent, type RunAgentOptions } from '../agent/run.js';
import { createKubeClients } from '../k8s/client.js';
import { KubeReportSink } from '../k8s/report-sink.js';
import { DwoError } from '../runtime/errors.js';

/** parseArgs options of the agent command (the monitor flags it shares are declared in main.ts). */
export const AGENT_OPTIONS = {
  policy: { type: 'string' },
  'node-name': { type: 'string' },
  'sampling-interval': { type: 'string' },
  'report-interval': { type: 'string' },
  'heartbeat-interval': { type: 'string' },
  sources: { type: 'string' },
  kubeconfig: { type: 'string' },
  'metrics-bind-address': { type: 'string' },
  'metrics-only': { type: 'boolean' },
} as const;

/** The usage line of the agent command. */
export const AGENT_USAGE = `  dropwatch-operator agent --policy P --node-name N [options]   publish this node's report (run by the DaemonSet)
  dropwatch-operator agent --metrics-only [options]              serve /metrics and /healthz only, no Kubernetes`;

/** The agent's own options, for --help. */
export const AGENT_HELP = `Agent options (D is a duration such as 500ms, 15s or 1m30s):
  ${AGENT_FLAGS.policy} NAME          the DropWatchPolicy to report for (required unless --metrics-only)
  ${AGENT_FLAGS.nodeName} NAME       this node's name (required unless --metrics-only; the DaemonSet passes spec.nodeName)
  --metrics-only         no policy, no node report, no API server: /metrics and /healthz only
                         (the daemonset/ kustomize base; Prometheus does the alerting)
  ${AGENT_FLAGS.samplingInterval} D  how often the kernel ring is drained (default 1s)
  ${AGENT_FLAGS.reportInterval} D    window length; a write is considered after each (default 15s)
  ${AGENT_FLAGS.heartbeatInterval} D longest gap between two report writes (default 60s)
  ${AGENT_FLAGS.sources} LIST         enabled sources: tracepoint,histTriggers,counters (default all)
  --kubeconfig FILE      kubeconfig (default: the pod's service account)
  --metrics-bind-address HOST:PORT
                         where /metrics and /healthz are served (default 0.0.0.0:9847)
  ${AGENT_FLAGS.tracefsRoot}, ${AGENT_FLAGS.bufferSizeKb}, ${AGENT_FLAGS.ignoreReason}, ${AGENT_FLAGS.interface}: as below
`;

/** Config keys back to the flags that set them, so errors name what the user typed. */
const FLAG_OF: Readonly<Record<string, string>> = {
  policy: AGENT_FLAGS.policy,
  nodeName: AGENT_FLAGS.nodeName,
  samplingInterval: AGENT_FLAGS.samplingInterval,
  reportInterval: AGENT_FLAGS.reportInterval,
  heartbeatInterval: AGENT_FLAGS.heartbeatInterval,
  sources: AGENT_FLAGS.sources,
  kubeconfig: '--kubeconfig',
  metricsBindAddress: '--metrics-bind-address',
  tracefsRoot: AGENT_FLAGS.tracefsRoot,
  bufferSizeKb: AGENT_FLAGS.bufferSizeKb,
  ignoreReasons: AGENT_FLAGS.ignoreReason,
  interfaces: AGENT_FLAGS.interface,
};

/** The flag values the agent reads (a subset of main.ts's parse result). */
export interface AgentFlagValues {
  readonly policy?: string | undefined;
  readonly 'node-name'?: string | undefined;
  readonly 'sampling-interval'?: string | undefined;
  readonly 'report-interval'?: string | undefined;
  readonly 'heartbeat-interval'?: string | undefined;
  readonly sources?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly 'metrics-bind-address'?: string | undefined;
  readonly 'metrics-only'?: boolean | undefined;
  readonly 'tracefs-root'?: string | undefined;
  readonly 'buffer-size-kb'?: string | undefined;
  readonly 'ignore-reason'?: string[] | undefined;
  readonly interface?: string[] | undefined;
}

/** Validates the agent's flags once; DWO_E_USAGE for a missing required flag, DWO_E_CONFIG for a bad value. */
export function agentConfigFromFlags(values: AgentFlagValues): AgentConfig {
  const metricsOnly = values['metrics-only'] === true;
  if (metricsOnly && values.policy !== undefined) {
    throw new DwoError('DWO_E_USAGE', `--metrics-only and ${AGENT_FLAGS.policy} exclude each other: metrics-only mode writes no node report`, {
      fix: `Drop ${AGENT_FLAGS.policy} to serve metrics only, or drop --metrics-only to publish the report for the policy.`,
    });
  }
  if (metricsOnly && values.kubeconfig !== undefined) {
    throw new DwoError('DWO_E_USAGE', '--metrics-only and --kubeconfig exclude each other: metrics-only mode does not talk to the API server', {
      fix: 'Drop --kubeconfig (or drop --metrics-only to publish node reports).',
    });
  }
  if (!metricsOnly && (values.policy === undefined || values.policy === '')) {
    throw new DwoError('DWO_E_USAGE', `${AGENT_FLAGS.policy} is required: the DropWatchPolicy this agent reports for`, {
      fix: `Pass ${AGENT_FLAGS.policy} <name>; the operator's DaemonSet sets it for you.`,
    });
  }
  if (!metricsOnly && (values['node-name'] === undefined || values['node-name'] === '')) {
    throw new DwoError('DWO_E_USAGE', `${AGENT_FLAGS.nodeName} is required: the node this agent runs on`, {
      fix: `Pass ${AGENT_FLAGS.nodeName} <node>; in a pod, from the downward API (spec.nodeName), as the operator's DaemonSet does.`,
    });
  }
  const raw: Record<string, unknown> = {
    metricsOnly,
    ...(values.policy === undefined ? {} : { policy: values.policy }),
    ...(values['node-name'] === undefined || values['node-name'] === '' ? {} : { nodeName: values['node-name'] }),
    ignoreReasons: values['ignore-reason'] ?? [],
    interfaces: values.interface ?? [],
  };
  const copy = (flag: keyof AgentFlagValues, key: string): void => {
    const v = values[flag];
    if (v !== undefined) raw[key] = v;
  };
  copy('sampling-interval', 'samplingInterval');
  copy('report-interval', 'reportInterval');
  copy('heartbeat-interval', 'heartbeatInterval');
  copy('sources', 'sources');
  copy('kubeconfig', 'kubeconfig');
  copy('metrics-bind-address', 'metricsBindAddress');
  copy('tracefs-root', 'tracefsRoot');
  const buf = values['buffer-size-kb'];
  if (buf !== undefined) {
    const n = Number(buf);
    if (!Number.isFinite(n)) throw new DwoError('DWO_E_USAGE', `${AGENT_FLAGS.bufferSizeKb} must be a number, got "${buf}"`);
    raw['bufferSizeKb'] = n;
  }
  try {
    return parseAgentConfig(raw);
  } catch (err) {
    if (!(err instanceof DwoError)) throw err;
    const m = /^([A-Za-z]+)(\S*): /.exec(err.message);
    const flag = m?.[1] === undefined ? undefined : FLAG_OF[m[1]];
    if (m === null || flag === undefined) throw err;
    throw new DwoError(err.code, `${flag}${m[2] ?? ''}: ${err.message.slice(m[0].length)}`, { fix: err.fix });
  }
}

/** Runs the agent until SIGTERM or SIGINT; resolves after a clean shutdown. */
export async function agentCommand(values: AgentFlagValues, version: string): Promise<void> {
  const config = agentConfigFromFlags(values);
  // Synchronous writes to stdout: a handful of lines per minute, kept in order and never lost when
  // the process exits (an asynchronous destination can reorder or drop its last lines at exit).
  const logger = pino({ base: { component: 'dropwatch-agent', version } }, pino.destination({ fd: 1, sync: true }));
  let publish: RunAgentOptions['publish'];
  if (config.policy !== undefined && config.nodeName !== undefined) {
    const clients = createKubeClients(config.kubeconfig === undefined ? { inCluster: true } : { kubeconfigPath: config.kubeconfig });
    const sink = new KubeReportSink(clients, { policy: config.policy });
    publish = { policy: config.policy, nodeName: config.nodeName, sink, readPolicy: () => sink.readPolicy() };
  }
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    logger.info({ signal: sig }, 'Signal received');
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await runAgent({ config, version, ...(publish === undefined ? {} : { publish }), logger, signal: stop.signal });
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
