// Prometheus metrics of the operator (prom-client) and the small HTTP server that serves them with
// /healthz and /readyz (ready = leading, or standing by with a working election). Wired by main.ts
// to the policy controller's hooks.
import http from 'node:http';
import { Counter, Histogram, Registry, Gauge } from 'prom-client';
import type { ControllerHooks } from './controller.js';
import { EventReasons } from '../domain/conditions.js';

/** The operator's metric families. */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles: Counter<'outcome'>;
  readonly reconcileSeconds: Histogram;
  readonly statusWrites: Counter<'policy'>;
  readonly events: Counter<'reason' | 'type'>;
  readonly nodeConditionWrites: Counter;
  readonly leader: Gauge;

  constructor() {
    const registers = [this.registry];
    this.reconciles = new Counter({ name: 'dropwatch_operator_reconciles_total', help: 'Policy reconciles by outcome.', labelNames: ['outcome'], registers });
    this.reconcileSeconds = new Histogram({ name: 'dropwatch_operator_reconcile_duration_seconds', help: 'Duration of policy reconciles.', registers, buckets: [0.005, 0.02, 0.1, 0.5, 2, 10] });
    this.statusWrites = new Counter({ name: 'dropwatch_operator_status_writes_total', help: 'DropWatchPolicy status writes.', labelNames: ['policy'], registers });
    this.events = new Counter({ name: 'dropwatch_operator_transitions_total', help: 'Threshold transitions recorded as Events (each on the Node and on the policy).', labelNames: ['reason', 'type'], registers });
    // Every transition series exists from the start at 0: a labelled counter that first appears at 1
    // shows no increase to rate() or increase(), so the first Event of a kind would be invisible.
    for (const [reason, type] of TRANSITION_SERIES) this.events.inc({ reason, type }, 0);
    this.nodeConditionWrites = new Counter({ name: 'dropwatch_operator_node_condition_writes_total', help: 'PacketLoss condition applies and removals.', registers });
    this.leader = new Gauge({ name: 'dropwatch_operator_leader', help: '1 while this process holds the leader Lease.', registers });
  }

  /** Controller hooks that count into these metrics. */
  hooks(): ControllerHooks {
    return {
      onReconciled: (_p, outcome, ms) => {
        this.reconciles.inc({ outcome });
        this.reconcileSeconds.observe(ms / 1000);
      },
      onStatusWritten: (policy) => this.statusWrites.inc({ policy }),
      onEvent: (reason, type) => this.events.inc({ reason, type }),
      onNodeConditionWritten: () => this.nodeConditionWrites.inc(),
    };
  }
}

/** The (reason, type) pairs the controller's Events can have (src/operator/outputs.ts). */
export const TRANSITION_SERIES: readonly (readonly [string, 'Warning' | 'Normal'])[] = [
  [EventReasons.DropThresholdExceeded, 'Warning'],
  [EventReasons.DropThresholdRecovered, 'Normal'],
  [EventReasons.DropReportStale, 'Warning'],
  [EventReasons.DropReportResumed, 'Normal'],
];

/** Serves /metrics, /healthz and /readyz on host:port; resolves once listening. */
export async function serveMetrics(metrics: OperatorMetrics, bindAddress: string, ready: () => boolean): Promise<http.Server> {
  const at = bindAddress.lastIndexOf(':');
  const host = bindAddress.slice(0, at).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(bindAddress.slice(at + 1));
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200);
      res.end('ok\n');
      return;
    }
    if (url === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503);
      res.end(ok ? 'ok\n' : 'not ready\n');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
