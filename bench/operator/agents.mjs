// Simulated agents for `make bench-operator`: one process writing the reports of N nodes through
// the agent's own KubeReportSink (dist/k8s/report-sink.js: SSA of the object, then of the status,
// as field manager dropwatch-agent). Forked by bench/operator/run.mjs, driven over IPC:
//   {cmd:'warm'}            write every report once (bounded concurrency), reply {warm:done}
//   {cmd:'steady'}          rewrite each report once per heartbeat, spread evenly over it
//   {cmd:'spike', nodes}    write the given nodes' reports with a high rate now, reply times
//   {cmd:'stop'}            finish in-flight writes and exit
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { createKubeClients } = await import(path.join(root, 'dist/k8s/client.js'));
const { KubeReportSink } = await import(path.join(root, 'dist/k8s/report-sink.js'));

const [kubeconfig, policy, nodesCsvCount, prefix, heartbeatS, concurrencyS] = process.argv.slice(2);
const N = Number(nodesCsvCount);
const HEARTBEAT_MS = Number(heartbeatS) * 1000;
const CONCURRENCY = Number(concurrencyS);
const clients = createKubeClients({ kubeconfigPath: kubeconfig });
const nodes = Array.from({ length: N }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`);
const sinks = new Map(nodes.map((n) => [n, new KubeReportSink(clients, { policy, timeoutMs: 30_000 })]));
/** Nodes currently spiking: their steady writes carry the spike rate too (an agent keeps reporting what it sees). */
const rates = new Map();

const stamp = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A quiet or spiking report body, shaped like a real agent's (see test/integration/operator.test.ts). */
function status(dropsPerSecond) {
  const now = Date.now();
  const seconds = 2;
  return {
    policyGeneration: 1,
    window: { start: stamp(now - seconds * 1000), end: stamp(now), seconds },
    agent: {
      version: '0.1.0',
      kernel: '6.18.0-1-amd64',
      sources: ['tracepoint', 'counters'],
      capabilities: { tracefs: true, reasonField: true, kallsyms: true, histTriggers: false, dropMonitor: false, ethtool: true },
      unknownReasons: [],
    },
    totals: { drops: dropsPerSecond * seconds, dropsPerSecond },
    ladder: { transport: { drops: dropsPerSecond * seconds, dropsPerSecond } },
    drops: [
      {
        symbol: '__udp4_lib_rcv', offset: 0x4bc, address: '0xffffffff8204674c', reason: 'NO_SOCKET', layer: 'transport',
        count: dropsPerSecond * seconds, rate: dropsPerSecond, hint: 'no listener on the port',
      },
    ],
    interfaces: [{ name: 'ens1f0', rxPackets: 1_000_000, drops: { rx_missed_errors: 0 }, lossPercent: 0 }],
    softnet: { dropped: 0, timeSqueeze: 0, flowLimit: 0 },
    monitor: { lostEvents: 0, parseErrors: 0 },
    lastHeartbeatTime: stamp(now),
  };
}

let writes = 0;
let errors = 0;
let lastError = '';
async function write(node) {
  const rate = rates.get(node) ?? 1;
  try {
    await sinks.get(node).write({ name: `${policy}.${node}`, policy, nodeName: node, status: status(rate) });
    writes++;
  } catch (err) {
    errors++;
    lastError = err instanceof Error ? err.message : String(err);
  }
}

async function pool(items, limit, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

let steadyTimer;
let inflight = 0;
function steady() {
  // Node i writes at offset i/N of each heartbeat: N/heartbeat writes per second, evenly spread.
  const start = Date.now();
  let next = 0;
  const tick = () => {
    const due = Math.floor(((Date.now() - start) / HEARTBEAT_MS) * N);
    while (next <= due) {
      const node = nodes[next % N];
      next++;
      inflight++;
      void write(node).finally(() => inflight--);
    }
  };
  steadyTimer = setInterval(tick, 20);
}

process.on('message', async (m) => {
  if (m.cmd === 'warm') {
    const t0 = Date.now();
    await pool(nodes, CONCURRENCY, write);
    process.send({ warm: { seconds: (Date.now() - t0) / 1000, writes, errors, lastError } });
  } else if (m.cmd === 'steady') {
    steady();
    process.send({ steady: true });
  } else if (m.cmd === 'spike') {
    const out = await Promise.all(m.nodes.map(async (node) => {
      rates.set(node, m.rate);
      const t0 = Date.now();
      await write(node);
      return { node, writeStart: t0, writeDone: Date.now() };
    }));
    process.send({ spiked: out });
  } else if (m.cmd === 'stats') {
    process.send({ stats: { writes, errors, lastError, inflight } });
  } else if (m.cmd === 'stop') {
    clearInterval(steadyTimer);
    while (inflight > 0) await new Promise((r) => setTimeout(r, 50));
    process.send({ stopped: { writes, errors, lastError } });
    process.exit(0);
  }
});
process.send({ ready: true });
