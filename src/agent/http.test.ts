import { afterEach, describe, expect, it } from 'vitest';
import { startAgentHttp } from './http.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => close?.());

describe('agent http', () => {
  it('serves metrics; healthz is 200 until the first window is overdue, then 503 when windows stop', async () => {
    let t = 1_000_000;
    const seen: { last?: number } = {};
    const srv = await startAgentHttp({
      host: '127.0.0.1',
      port: 0,
      metrics: async () => 'dropwatch_up 1\n',
      health: () => ({ lastWindowAt: seen.last, pendingWrite: false, lastError: undefined, source: 'tracefs-ring' }),
      staleAfterMs: 30_000,
      now: () => t,
    });
    close = srv.close;
    const base = `http://127.0.0.1:${srv.port}`;
    expect(await (await fetch(`${base}/metrics`)).text()).toBe('dropwatch_up 1\n');
    // Just started, no window yet: healthy (a liveness probe must not kill a slow first window).
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    t += 31_000;
    expect((await fetch(`${base}/healthz`)).status).toBe(503);
    seen.last = t;
    const ok = await fetch(`${base}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, source: 'tracefs-ring' });
    t += 31_000;
    expect((await fetch(`${base}/healthz`)).status).toBe(503);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
