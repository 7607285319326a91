// The operator entrypoint: campaigns for the leader Lease and runs the policy controller only while
// leading; on SIGTERM/SIGINT it flushes pending status writes and Event counts, then releases the
// Lease so a standby takes over at once. Called by `dropwatch-operator operator` (src/cli/main.ts).
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type http from 'node:http';
import { pino, type Logger } from 'pino';
import { parseOperatorConfig, type OperatorConfig } from '../config/operator.js';
import { createKubeClients } from '../k8s/client.js';
import { EventRecorder } from '../k8s/events.js';
import { LeaderElector } from '../k8s/leader.js';
import { DwoError, toDwoError } from '../runtime/errors.js';
import { onShutdown } from '../runtime/shutdown.js';
import { PolicyController } from './controller.js';
import { OperatorMetrics, serveMetrics } from './metrics.js';

/** Name of the leader Lease in the operator's namespace. */
export const LEASE_NAME = 'dropwatch-operator';
/** reportingController of our Events. */
export const REPORTING_CONTROLLER = 'dropwatch.dev/operator';

export const OPERATOR_HELP = `Usage:
  dropwatch-operator operator --namespace NS --agent-image IMG [options]

Runs the DropWatchPolicy controller (agent DaemonSets, threshold Events, the Node condition
PacketLoss, policy status). Run two replicas: one leads (Lease ${LEASE_NAME}), the other stands by.

Options:
  --kubeconfig PATH               kubeconfig file (default: the pod's service account)
  --namespace NS                  namespace of the agent DaemonSets and the leader Lease (required)
  --agent-image IMG               agent image for policies without spec.agent.image (required)
  --agent-service-account NAME    ServiceAccount of the agent pods (default dropwatch-agent)
  --identity ID                   leader-election identity (default: hostname plus a random suffix)
  --metrics-bind-address H:P      serve /metrics, /healthz, /readyz (default: off)
  --resync SECONDS                full resync period (default 300)
  --log-level LEVEL               trace | debug | info | warn | error (default info)
`;

/** A running operator process. */
export interface RunningOperator {
  readonly identity: string;
  readonly metrics: OperatorMetrics;
  /** The controller while leading, else undefined. */
  controller(): PolicyController | undefined;
  isLeader(): boolean;
  /** Graceful stop: flush, stop the controller, release the Lease (unless `release: false`). */
  stop(opts?: { release?: boolean }): Promise<void>;
}

/** Starts leader election; the controller runs while this process leads. */
export async function runOperator(config: OperatorConfig, opts: { logger?: Logger; version: string }): Promise<RunningOperator> {
  const identity = config.identity ?? `${os.hostname()}-${randomBytes(4).toString('hex')}`;
  const logger = (opts.logger ?? pino({ level: config.logLevel, base: { component: 'operator' } }, pino.destination({ fd: 1, sync: true }))).child({ identity });
  const clients = createKubeClients(config.kubeconfig === undefined ? { inCluster: true } : { kubeconfigPath: config.kubeconfig });
  const metrics = new OperatorMetrics();
  const recorder = new EventRecorder({
    clients,
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: identity,
    onError: (err) => logger.warn({ code: toDwoError(err).code, err: toDwoError(err).message }, 'Event write failed'),
  });

  let controller: PolicyController | undefined;
  let stopping: Promise<void> | undefined;
  /** Stops the current controller; chained so a new term never overlaps the old one. */
  let lifecycle: Promise<void> = Promise.resolve();
  /** Aborted by stop(): a controller still waiting for its first lists (CRDs missing, API down) gives up. */
  const shuttingDown = new AbortController();

  const elector = new LeaderElector({
    clients,
    namespace: config.namespace,
    name: LEASE_NAME,
    identity,
    onStartedLeading: (signal) => {
      metrics.leader.set(1);
      logger.info({ lease: `${config.namespace}/${LEASE_NAME}` }, 'Became leader; starting controller');
      lifecycle = lifecycle.then(async () => {
        if (signal.aborted) return;
        const c = new PolicyController({
          clients,
          namespace: config.namespace,
          agentImage: config.agentImage,
          agentServiceAccount: config.agentServiceAccount,
          operatorVersion: opts.version,
          recorder,
          logger,
          resyncMs: config.resyncMs,
          hooks: metrics.hooks(),
        });
        controller = c;
        try {
          await c.start(AbortSignal.any([signal, shuttingDown.signal]));
        } catch (err) {
          logger.error({ err: toDwoError(err).message }, 'Controller failed to start');
        }
      });
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      const c = controller;
      controller = undefined;
      if (c === undefined) return;
      logger.info('Lost or gave up leadership; stopping controller');
      lifecycle = lifecycle.then(() => c.stop({ flush: false }));
    },
    onNewLeader: (id) => logger.info({ leader: id === '' ? '(released)' : id }, 'Observed leader'),
    onError: (err) => logger.warn({ code: toDwoError(err).code, err: toDwoError(err).message }, 'Leader election request failed'),
  });

  let server: http.Server | undefined;
  if (config.metricsBindAddress !== undefined) {
    server = await serveMetrics(metrics, config.metricsBindAddress, () => true);
    logger.info({ address: config.metricsBindAddress }, 'Serving metrics');
  }
  elector.start();
  logger.info({ namespace: config.namespace, agentImage: config.agentImage }, 'Operator started; campaigning for leadership');

  const stop = (stopOpts: { release?: boolean } = {}): Promise<void> => {
    stopping ??= (async () => {
      logger.info('Shutting down');
      shuttingDown.abort();
      await lifecycle;
      const c = controller;
      controller = undefined;
      // Still leading: finish and write what is pending before handing over.
      if (c !== undefined) await c.stop({ flush: stopOpts.release ?? true });
      await recorder.flush();
      recorder.stop();
      await elector.stop({ release: stopOpts.release ?? true });
      await lifecycle;
      metrics.leader.set(0);
      if (server !== undefined) await new Promise<void>((r) => server?.close(() => r()));
      logger.info({ released: stopOpts.release ?? true }, 'Stopped');
    })();
    return stopping;
  };

  return {
    identity,
    metrics,
    controller: () => controller,
    isLeader: () => elector.isLeader(),
    stop,
  };
}

/** Parses the `operator` command's flags into a validated config. */
export function parseOperatorArgs(argv: readonly string[]): OperatorConfig | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'agent-image': { type: 'string' },
        'agent-service-account': { type: 'string' },
        identity: { type: 'string' },
        'metrics-bind-address': { type: 'string' },
        resync: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new DwoError('DWO_E_USAGE', (err as Error).message, { fix: 'See `dropwatch-operator operator --help`.' });
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.namespace === undefined) throw new DwoError('DWO_E_USAGE', '--namespace is required', { fix: 'Pass the namespace the operator runs in.' });
  if (v['agent-image'] === undefined) throw new DwoError('DWO_E_USAGE', '--agent-image is required', { fix: 'Pass the agent image, e.g. ghcr.io/example/dropwatch-operator:0.1.0.' });
  const raw: Record<string, unknown> = { namespace: v.namespace, agentImage: v['agent-image'] };
  if (v.kubeconfig !== undefined) raw['kubeconfig'] = v.kubeconfig;
  if (v['agent-service-account'] !== undefined) raw['agentServiceAccount'] = v['agent-service-account'];
  if (v.identity !== undefined) raw['identity'] = v.identity;
  if (v['metrics-bind-address'] !== undefined) raw['metricsBindAddress'] = v['metrics-bind-address'];
  if (v['log-level'] !== undefined) raw['logLevel'] = v['log-level'];
  if (v.resync !== undefined) {
    const s = Number(v.resync);
    if (!Number.isFinite(s)) throw new DwoError('DWO_E_USAGE', `--resync must be a number of seconds, got "${v.resync}"`);
    raw['resyncMs'] = Math.round(s * 1000);
  }
  return parseOperatorConfig(raw);
}

/**
 * The `operator` command: runs until SIGTERM/SIGINT, then shuts down gracefully (the shutdown
 * handler releases the Lease). Resolves with the exit code for --help only; otherwise it never
 * resolves (the signal handler exits the process).
 */
export async function operatorCommand(argv: readonly string[], version: string): Promise<number> {
  const config = parseOperatorArgs(argv);
  if (config === 'help') {
    process.stdout.write(OPERATOR_HELP);
    return 0;
  }
  const op = await runOperator(config, { version });
  onShutdown(() => op.stop());
  return new Promise<number>(() => undefined);
}
