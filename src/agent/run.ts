// The agent's publish mode: runs the drop monitor, closes a window every report interval, feeds
// the metrics and the Publisher (which writes the node report), serves /metrics and /healthz, and
// shuts down cleanly when its signal aborts. Called by `dropwatch-operator agent` (src/cli/main.ts),
// which injects the Kubernetes sink and policy reader; nothing here talks to the API directly.
import type { Logger } from 'pino';
import type { AgentConfig, MonitorConfig } from '../config/agent.js';
import type { DropSnapshot } from '../domain/snapshot.js';
import type { SourceName } from '../api/generated/types.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { DwoError, toDwoError } from '../runtime/errors.js';
import { startAgentHttp } from './http.js';
import { AgentMetrics } from './metrics.js';
import { DropMonitor } from './monitor.js';
import { Publisher, type PublishResult, type ReportSink } from './publish.js';

/** What the agent needs to know about its policy. */
export interface PolicyInfo {
  readonly generation: number;
}

/** Reads the policy; undefined when it does not exist. Throws when the API cannot answer. */
export type PolicyReader = () => Promise<PolicyInfo | undefined>;

/** The monitor as the loop uses it (DropMonitor in production). */
export interface AgentMonitor {
  readonly sourceInfo: { kind: string; reason: string };
  snapshot(): Promise<DropSnapshot>;
  close(): Promise<void>;
}

/** Where and for whom the agent publishes its node report. */
export interface PublishTarget {
  readonly policy: string;
  readonly nodeName: string;
  readonly sink: ReportSink;
  readonly readPolicy: PolicyReader;
}

export interface RunAgentOptions {
  readonly config: AgentConfig;
  readonly version: string;
  /** Absent in metrics-only mode: no policy is read and no report written. */
  readonly publish?: PublishTarget;
  readonly logger: Logger;
  /** Aborting it (SIGTERM/SIGINT in the CLI) stops the agent. */
  readonly signal: AbortSignal;
  readonly clock?: Clock;
  /** Starts the monitor; DropMonitor.start by default. */
  readonly startMonitor?: (config: MonitorConfig) => Promise<AgentMonitor>;
  /** How long the final write may take on shutdown (ms); default 3 s. */
  readonly finalWriteTimeoutMs?: number;
  /** Called once the HTTP endpoint listens, with its port (tests bind port 0). */
  readonly onListening?: (port: number) => void;
}

const TERMINAL_SOURCE_ERRORS = new Set(['DWO_E_TRACEFS_PERMISSION', 'DWO_E_TRACEFS_NOT_MOUNTED', 'DWO_E_NO_KFREE_SKB']);

/**
 * Starts the monitor for the configured sources. When the policy asked for the tracepoint only
 * and this node cannot give it, the agent degrades to counters (the report says no kernel drop
 * source is live) instead of crash-looping.
 */
async function startWithFallback(
  start: (c: MonitorConfig) => Promise<AgentMonitor>,
  config: MonitorConfig,
  log: Logger,
): Promise<AgentMonitor> {
  try {
    return await start(config);
  } catch (err) {
    const e = toDwoError(err);
    if (config.source !== 'tracefs' || !TERMINAL_SOURCE_ERRORS.has(e.code)) throw e;
    log.warn({ code: e.code, err: e.message }, 'No kernel drop source on this node; reporting counters only');
    return start({ ...config, source: 'counters' });
  }
}

/**
 * Runs the agent until `signal` aborts. Resolves after a clean shutdown: the monitor closed (its
 * tracefs instance removed), one last write of anything pending (bounded by finalWriteTimeoutMs),
 * the HTTP endpoint closed. Rejects only when it cannot start (config, kernel, port in use).
 */
export async function runAgent(opts: RunAgentOptions): Promise<void> {
  const { config, signal } = opts;
  const clock = opts.clock ?? systemClock;
  const target = opts.publish;
  const log = opts.logger.child(target === undefined ? { mode: 'metrics-only' } : { policy: target.policy, node: target.nodeName });

  // The policy's generation, read at start and again on every heartbeat. A getter, so the
  // publisher's reports always carry the latest value without being rebuilt.
  let generation = 0;
  let policyMissing = false;
  let lastPolicyRead = Number.NEGATIVE_INFINITY;
  const refreshPolicy = async (): Promise<void> => {
    lastPolicyRead = clock.now();
    if (target === undefined) return;
    try {
      const p = await target.readPolicy();
      if (p === undefined) {
        if (!policyMissing) log.warn('DropWatchPolicy not found; still measuring, report writes wait for it (the operator removes this agent when its policy is deleted)');
        policyMissing = true;
        return;
      }
      if (policyMissing) log.info({ generation: p.generation }, 'DropWatchPolicy found');
      else if (p.generation !== generation && generation !== 0) log.info({ from: generation, to: p.generation }, 'DropWatchPolicy generation changed');
      policyMissing = false;
      generation = p.generation;
    } catch (err) {
      const e = toDwoError(err);
      log.warn({ code: e.code, err: e.message }, 'Cannot read the DropWatchPolicy; keeping generation %d', generation);
    }
  };
  await refreshPolicy();

  const monitor = await startWithFallback(opts.startMonitor ?? ((c) => DropMonitor.start(c)), config.monitor, log);
  const source = monitor.sourceInfo;
  log.info({ source: source.kind, why: source.reason }, 'Drop monitor started');

  const metrics = new AgentMetrics({ maxSites: config.metricsTopSites });
  let lastWindowAt: number | undefined;
  let lastError: string | undefined;
  let writes = 0;

  const onResult = (r: PublishResult): void => {
    if (r.kind === 'written') {
      writes++;
      lastError = undefined;
      metrics.reportWrites.inc({ result: 'success' });
      metrics.lastReportWrite.set(clock.now() / 1000);
      const s = publisher?.latest;
      log.info({ report: publisher?.name, reason: r.reason, windowSeconds: r.windowSeconds, writes, dropsPerSecond: s?.totals.dropsPerSecond }, 'Wrote DropWatchNodeReport');
    } else if (r.kind === 'failed') {
      lastError = `${r.error.code}: ${r.error.message}`;
      metrics.reportWrites.inc({ result: 'failure' });
      log.warn({ report: publisher?.name, code: r.error.code, err: r.error.message, retryInMs: r.retryInMs }, 'Writing DropWatchNodeReport failed; the window stays pending');
    }
  };
  const requestedSources: SourceName[] = [...config.sources];
  const publisher =
    target === undefined
      ? undefined
      : new Publisher(target.sink, {
          policy: target.policy,
          nodeName: target.nodeName,
          get policyGeneration() {
            return generation;
          },
          agentVersion: opts.version,
          heartbeatIntervalMs: config.heartbeatIntervalMs,
          requestedSources,
          maxSites: config.monitor.maxSites,
          clock,
          onResult,
        });

  let http: { port: number; close(): Promise<void> };
  try {
    http = await startAgentHttp({
      host: config.metrics.host,
      port: config.metrics.port,
      metrics: () => metrics.text(),
      health: () => ({ lastWindowAt, pendingWrite: publisher?.hasPending ?? false, lastError, source: source.kind }),
      // Healthy while windows keep closing; a write failure alone does not make it unhealthy
      // (restarting the agent would not bring the API server back, and would lose the pending counts).
      staleAfterMs: 3 * config.reportIntervalMs + 5000,
      now: () => clock.now(),
    });
  } catch (err) {
    await monitor.close();
    const e = err as NodeJS.ErrnoException;
    throw new DwoError('DWO_E_CONFIG', `cannot serve metrics on ${config.metrics.host}:${config.metrics.port}: ${e.message}`, {
      cause: err,
      fix: 'Pick a free port with --metrics-bind-address (two agents on one node need different ports).',
    });
  }
  opts.onListening?.(http.port);
  log.info({ address: `${config.metrics.host}:${http.port}` }, 'Serving /metrics and /healthz');

  const closeWindow = async (): Promise<DropSnapshot> => {
    const snap = await monitor.snapshot();
    lastWindowAt = clock.now();
    metrics.observe(snap);
    return snap;
  };

  // Windows on a fixed grid (start + k * interval) so slow writes do not stretch the period.
  let next = clock.now() + config.reportIntervalMs;
  while (!signal.aborted) {
    await clock.sleep(Math.max(0, next - clock.now()), signal);
    if (signal.aborted) break;
    next += config.reportIntervalMs;
    if (next < clock.now()) next = clock.now() + config.reportIntervalMs;
    try {
      const snap = await closeWindow();
      if (clock.now() - lastPolicyRead >= config.heartbeatIntervalMs) await refreshPolicy();
      await publisher?.offer(snap);
    } catch (err) {
      // The monitor's snapshot does not throw in practice; keep the agent alive if it does.
      const e = toDwoError(err);
      log.error({ code: e.code, err: e.message }, 'Closing a window failed');
    }
  }

  log.info({ pending: publisher?.hasPending ?? false }, 'Shutting down');
  // The last window is closed while the monitor still runs; then the tracefs instance goes, and
  // one bounded attempt writes whatever was not reported yet.
  let last: DropSnapshot | undefined;
  try {
    last = await closeWindow();
  } catch {
    // keep going: the instance must be removed whatever happened
  }
  await monitor.close();
  const timeoutMs = opts.finalWriteTimeoutMs ?? 3000;
  const timedOut = Symbol('timeout');
  let timer: { cancel(): void } | undefined;
  const finalWrite = async (): Promise<void> => {
    if (publisher === undefined) return;
    if (last !== undefined) await publisher.offer(last);
    if (publisher.hasPending) await publisher.flush();
  };
  const outcome = await Promise.race([
    finalWrite(),
    new Promise<typeof timedOut>((resolve) => (timer = clock.setTimeout(() => resolve(timedOut), timeoutMs))),
  ]);
  timer?.cancel();
  if (outcome === timedOut) log.warn({ timeoutMs }, 'Final DropWatchNodeReport write timed out; the last windows are not reported');
  await http.close();
  log.info({ writes }, 'Agent stopped');
}
