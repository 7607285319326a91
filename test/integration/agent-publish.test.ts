// `dropwatch-operator agent` end to end on the real kernel and a real kube-apiserver: the built
// CLI runs as a child process against a policy and a Node this test creates, real drops (UDP to a
// closed port) must show up in its DropWatchNodeReport, /metrics and /healthz; then the API server
// becomes unreachable (the agent talks through a TCP proxy the test closes), more drops are made,
// and the first report after recovery must carry them; a report deleted under the agent is
// re-created. SIGTERM must exit 0 and remove the agent's tracefs instance. Needs root and `npx tsc -p tsconfig.build.json` first (it runs dist/).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DropWatchNodeReportResource, DropWatchPolicyResource, type DropSite, type DropWatchNodeReport } from '../../src/api/generated/types.js';
import { createKubeClients, isNotFound, type KubeClients } from '../../src/k8s/client.js';
import { ensureCluster, repoRoot, type Cluster } from './cluster.js';
import { cliPath, closedUdpPort, ourInstances, sendUdp } from './helpers/kernel.js';
import { eventually } from './helpers/wait.js';
import { FaultyProxy } from './helpers/faulty-proxy.js';

const POLICY = 'agentpub';
const NODE = 'agentpub-node';
const REPORT = `${POLICY}.${NODE}`;

let cluster: Cluster;
let clients: KubeClients;
let tmp: string;
let agent: ChildProcess | undefined;

/** One pino line of the agent. */
interface LogLine {
  readonly msg: string;
  readonly time: number;
  readonly [k: string]: unknown;
}

async function getReport(): Promise<DropWatchNodeReport | undefined> {
  const r = DropWatchNodeReportResource;
  try {
    return (await clients.custom.getClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, name: REPORT })) as DropWatchNodeReport;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

const noSocket = (r: DropWatchNodeReport | undefined): DropSite[] =>
  (r?.status?.drops ?? []).filter((d) => d.symbol === '__udp4_lib_rcv' && d.reason === 'NO_SOCKET');
const count = (sites: readonly DropSite[]): number => sites.reduce((a, d) => a + (d.count ?? 0), 0);

function apiServerPort(): number {
  const m = /server: https:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(cluster.kubeconfig, 'utf8'));
  if (!m?.[1]) throw new Error('no server port in the kubeconfig');
  return Number(m[1]);
}

beforeAll(async () => {
  cluster = ensureCluster();
  clients = createKubeClients({ kubeconfigPath: cluster.kubeconfig });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dwo-agent-publish-'));
  await cluster.kubectl(['apply', '--server-side', '-f', path.join(repoRoot, 'crds')]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', `${DropWatchPolicyResource.plural}.${DropWatchPolicyResource.group}`, `${DropWatchNodeReportResource.plural}.${DropWatchNodeReportResource.group}`]);
  await cluster.kubectlResult(['delete', DropWatchNodeReportResource.plural, REPORT, '--ignore-not-found', '--wait=true']);
  await cluster.kubectlResult(['delete', DropWatchPolicyResource.plural, POLICY, '--ignore-not-found', '--wait=true']);
  const policy = {
    apiVersion: DropWatchPolicyResource.apiVersion,
    kind: DropWatchPolicyResource.kind,
    metadata: { name: POLICY },
    spec: { nodeSelector: {}, thresholds: [{ name: 'any', metric: 'dropsPerSecond', critical: 10 }] },
  };
  await cluster.kubectl(['apply', '--server-side', '--field-manager=agent-publish-test', '-f', '-'], JSON.stringify(policy));
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'dropwatch.dev/test': 'agent-publish' } } };
  await cluster.kubectl(['apply', '--server-side', '--field-manager=agent-publish-test', '-f', '-'], JSON.stringify(node));
});

afterAll(async () => {
  if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
  if (cluster) {
    await cluster.kubectlResult(['delete', DropWatchNodeReportResource.plural, REPORT, '--ignore-not-found']);
    await cluster.kubectlResult(['delete', DropWatchPolicyResource.plural, POLICY, '--ignore-not-found']);
    await cluster.kubectlResult(['delete', 'node', NODE, '--ignore-not-found']);
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('dropwatch-operator agent', () => {
  it('publishes drops, serves metrics, survives an API outage without losing counts, and exits cleanly', { timeout: 240_000 }, async () => {
    const proxy = new FaultyProxy(apiServerPort());
    await proxy.listen();
    const kubeconfig = path.join(tmp, 'kubeconfig');
    writeFileSync(kubeconfig, readFileSync(cluster.kubeconfig, 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: https://127.0.0.1:${proxy.port}`));

    const child = spawn(
      process.execPath,
      [cliPath, 'agent', '--policy', POLICY, '--node-name', NODE, '--kubeconfig', kubeconfig, '--sampling-interval', '100ms', '--report-interval', '1s', '--heartbeat-interval', '5s', '--sources', 'tracepoint,histTriggers,counters', '--metrics-bind-address', '127.0.0.1:0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    agent = child;
    const logs: LogLine[] = [];
    let stderr = '';
    let partial = '';
    child.stdout?.on('data', (d: Buffer) => {
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim() !== '') logs.push(JSON.parse(l) as LogLine);
    });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const writes = () => logs.filter((l) => l.msg === 'Wrote DropWatchNodeReport');

    try {
      const serving = await eventually(`the agent's metrics address (stderr: ${stderr})`, 30_000, () => logs.find((l) => l.msg === 'Serving /metrics and /healthz'));
      const base = `http://${String(serving['address'])}`;
      const instance = await eventually('the agent tracefs instance', 10_000, () => ourInstances().find((n) => n.startsWith(`dropwatch-${child.pid}-`)));
      await eventually('the first write', 20_000, () => writes().length > 0);

      // 1. A spike of NO_SOCKET drops reaches the report as a material change.
      const N = 2000;
      const port = await closedUdpPort();
      const spikeAt = Date.now();
      expect(await sendUdp('127.0.0.1', port, N)).toBe(N);
      // The datagrams may straddle a window edge: add up the distinct windows written since.
      const byWindow = new Map<string, DropWatchNodeReport>();
      const spiked = await eventually(
        'the spike in the report',
        20_000,
        async () => {
          const r = await getReport();
          const start = r?.status?.window?.start;
          if (r !== undefined && start !== undefined && Date.parse(r.status?.window?.end ?? '') >= spikeAt) byWindow.set(start, r);
          const seen = [...byWindow.values()];
          return seen.reduce((a, w) => a + count(noSocket(w)), 0) >= N ? seen.sort((a, b) => count(noSocket(b)) - count(noSocket(a)))[0] : undefined;
        },
        50,
      );
      console.log(`drop spike -> report: ${Date.now() - spikeAt} ms (${byWindow.size} window(s))`);
      const site = noSocket(spiked)[0];
      expect(site?.layer).toBe('transport');
      expect(site?.hint).toMatch(/no socket/i);
      expect(site?.rate).toBeGreaterThan(0);
      expect(spiked?.status?.totals?.dropsPerSecond).toBeGreaterThan(0);
      expect(spiked?.status?.ladder?.transport?.drops).toBeGreaterThanOrEqual(count(noSocket(spiked)));
      expect(spiked?.status?.policyGeneration).toBe(1);
      expect(spiked?.status?.agent?.sources).toContain('counters');
      expect(spiked?.spec).toEqual({ policy: POLICY, nodeName: NODE });
      const owners = spiked?.metadata?.ownerReferences ?? [];
      expect(owners).toHaveLength(1);
      expect(owners[0]).toMatchObject({ kind: 'DropWatchPolicy', name: POLICY, controller: false, blockOwnerDeletion: false });
      const managedFields = (spiked?.metadata as { managedFields?: { manager?: string; operation?: string; subresource?: string }[] } | undefined)?.managedFields ?? [];
      const managers = managedFields.map((f) => `${f.manager}/${f.operation}/${f.subresource ?? ''}`);
      expect(managers).toEqual(expect.arrayContaining(['dropwatch-agent/Apply/', 'dropwatch-agent/Apply/status']));

      // 2. The heartbeat keeps the report fresh even when nothing changes.
      const hb1 = Date.parse(spiked?.status?.lastHeartbeatTime ?? '');
      await eventually('a newer heartbeat', 15_000, async () => Date.parse((await getReport())?.status?.lastHeartbeatTime ?? '') >= hb1 + 4000, 500);

      // 3. /metrics has the site series; /healthz is 200.
      const metrics = await (await fetch(`${base}/metrics`)).text();
      const series = /^dropwatch_site_drops_total\{symbol="__udp4_lib_rcv",reason="NO_SOCKET",layer="transport"\} (\d+)$/m.exec(metrics);
      expect(Number(series?.[1])).toBeGreaterThanOrEqual(N);
      expect(metrics).toMatch(/^dropwatch_report_writes_total\{result="success"\} \d+$/m);
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, pendingWrite: expect.any(Boolean) });

      // 4. Outage: the API server is unreachable while K more drops happen.
      const K = 3000;
      const downAt = Date.now();
      await proxy.down();
      await eventually('a failed write', 20_000, () => logs.some((l) => l.msg.startsWith('Writing DropWatchNodeReport failed') && l.time >= downAt));
      expect(await sendUdp('127.0.0.1', port, K)).toBe(K);
      await new Promise((r) => setTimeout(r, 3000));
      const duringOutage = await fetch(`${base}/healthz`);
      expect(duringOutage.status).toBe(200); // still measuring; only the write is pending
      expect(await duringOutage.json()).toMatchObject({ pendingWrite: true, lastError: expect.stringMatching(/^DWO_E_API_UNAVAILABLE/) });
      const failures = logs.filter((l) => l.msg.startsWith('Writing DropWatchNodeReport failed') && l.time >= downAt);
      const upAt = Date.now();
      await proxy.listen();

      // The first write after recovery spans the outage and carries every outage drop. Poll often:
      // the next (1 s) window overwrites it.
      const caughtUp = await eventually(
        'the catch-up report',
        90_000,
        async () => {
          const r = await getReport();
          return Date.parse(r?.status?.window?.end ?? '') >= upAt && (r?.status?.window?.seconds ?? 0) >= (upAt - downAt) / 1000 ? r : undefined;
        },
        50,
      );
      const caughtUpCount = count(noSocket(caughtUp));
      console.log(
        `outage ${upAt - downAt} ms, ${failures.length} failed writes (codes ${[...new Set(failures.map((f) => String(f['code'])))].join(',')}); ` +
          `catch-up report ${Date.now() - upAt} ms after recovery, window ${caughtUp.status?.window?.seconds} s, NO_SOCKET ${caughtUpCount} (sent ${K})`,
      );
      expect(caughtUpCount).toBeGreaterThanOrEqual(K);
      expect(failures.every((f) => f['code'] === 'DWO_E_API_UNAVAILABLE')).toBe(true);
      const total = writes().length;
      console.log(`writes so far: ${total} in ${Math.round((Date.now() - spikeAt) / 1000)} s since the spike`);

      // 5. The report is deleted under the agent: its next status write gets 404 and re-creates it.
      const oldUid = (await getReport())?.metadata?.uid;
      const deletedAt = Date.now();
      await cluster.kubectl(['delete', DropWatchNodeReportResource.plural, REPORT, '--wait=true']);
      const recreated = await eventually('the re-created report', 90_000, async () => {
        const r = await getReport();
        return r?.metadata?.uid !== undefined && r.metadata.uid !== oldUid && r.status?.totals !== undefined ? r : undefined;
      });
      console.log(`report deleted -> re-created with status: ${Date.now() - deletedAt} ms`);
      expect(recreated.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'DropWatchPolicy', name: POLICY });

      // 6. SIGTERM: exit 0, tracefs instance removed.
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      expect(ourInstances()).not.toContain(instance);
      expect(logs.at(-1)?.msg, JSON.stringify(logs.slice(-5).map((l) => ({ msg: l.msg, time: l.time, reason: l['reason'], code: l['code'] })))).toBe('Agent stopped');
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await proxy.down();
    }
  });
});
