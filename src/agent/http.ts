// The agent's HTTP endpoint: /metrics (Prometheus text from AgentMetrics) and /healthz (200 while
// the monitor produced a window recently, 503 otherwise, with a JSON body saying why). Started by
// `dropwatch-operator agent`; binds to the address given in its config.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthState {
  /** Epoch ms of the last closed monitor window, or undefined before the first. */
  readonly lastWindowAt: number | undefined;
  /** Whether some window is waiting to be written to the API server. */
  readonly pendingWrite: boolean;
  /** The last write error, if the last attempt failed. */
  readonly lastError: string | undefined;
  readonly source: string;
}

export interface AgentHttpOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: () => Promise<string>;
  readonly health: () => HealthState;
  /** A window older than this makes /healthz fail (ms). */
  readonly staleAfterMs: number;
  readonly now?: () => number;
}

/** Starts the server; resolves with its address and a close function. */
export async function startAgentHttp(opts: AgentHttpOptions): Promise<{ port: number; close(): Promise<void> }> {
  const now = opts.now ?? Date.now;
  const startedAt = now();
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/metrics') {
      opts.metrics().then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    if (url === '/healthz') {
      const h = opts.health();
      const age = h.lastWindowAt === undefined ? undefined : now() - h.lastWindowAt;
      // Before the first window, the clock runs from the start: healthy until that window is overdue
      // (a liveness probe must not kill an agent whose report interval is longer than its period).
      const ok = (age ?? now() - startedAt) <= opts.staleAfterMs;
      const body = { ok, source: h.source, lastWindowAgeMs: age ?? null, pendingWrite: h.pendingWrite, lastError: h.lastError ?? null };
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body) + '\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
