// A stand-in agent for nodes that have no real kernel here (kwok fake nodes): replays one recorded
// `dropwatch-operator snapshot --json` (test/fixtures/snapshots/) as the DropWatchNodeReport of
// each given node, re-dated to "now", through the agent's real report path (toReportStatus and
// KubeReportSink from the built dist/), once at start and then every heartbeat. Used by the e2e
// test and by hack/demo.sh. Needs `npx tsc -p tsconfig.build.json` first.
// test/fixtures/snapshots/udp-no-socket.json was recorded on this project's CI VM with
// `dropwatch-operator snapshot --seconds 4 --json` while 1500 datagrams went to a closed UDP port.
//
// Usage: replay-agent.mjs --kubeconfig FILE --policy P --fixture FILE [--heartbeat-seconds S]
//                         [--scale F] NODE...
// --scale multiplies every count and rate of the fixture (a busier or quieter sensor).
// Logs one JSON line per write to stdout; SIGTERM or SIGINT stops it (exit 0).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dist = (p) => import(path.join(repoRoot, 'dist', p));
const { createKubeClients } = await dist('k8s/client.js');
const { KubeReportSink } = await dist('k8s/report-sink.js');
const { reportName, toReportStatus } = await dist('domain/report.js');

const { values, positionals: nodes } = parseArgs({
  allowPositionals: true,
  options: {
    kubeconfig: { type: 'string' },
    policy: { type: 'string' },
    fixture: { type: 'string' },
    'heartbeat-seconds': { type: 'string', default: '5' },
    scale: { type: 'string', default: '1' },
  },
});
if (!values.kubeconfig || !values.policy || !values.fixture || nodes.length === 0) {
  process.stderr.write('usage: replay-agent.mjs --kubeconfig FILE --policy P --fixture FILE [--heartbeat-seconds S] [--scale F] NODE...\n');
  process.exit(2);
}
const heartbeatMs = Number(values['heartbeat-seconds']) * 1000;
const scale = Number(values.scale);
const recorded = JSON.parse(readFileSync(values.fixture, 'utf8'));
const log = (msg, extra = {}) => process.stdout.write(JSON.stringify({ time: Date.now(), msg, policy: values.policy, ...extra }) + '\n');

/** The recorded snapshot, scaled and moved so that its window ends now. */
function redated(now) {
  const n = (x) => Math.round(x * scale * 1000) / 1000;
  const i = (x) => Math.round(x * scale);
  return {
    ...recorded,
    window: { start: new Date(now - recorded.window.seconds * 1000).toISOString(), end: new Date(now).toISOString(), seconds: recorded.window.seconds },
    totals: { ...recorded.totals, drops: i(recorded.totals.drops), dropsPerSecond: n(recorded.totals.dropsPerSecond), kernelEvents: i(recorded.totals.kernelEvents) },
    ladder: recorded.ladder.map((s) => ({ ...s, drops: i(s.drops), rate: n(s.rate) })),
    drops: recorded.drops.map((d) => ({ ...d, count: i(d.count), rate: n(d.rate) })),
  };
}

const clients = createKubeClients({ kubeconfigPath: values.kubeconfig });
// One sink per node: a sink remembers whether it has applied its report object (and re-applies
// it after a 404); one more reads the policy's generation once per tick.
const sink = new KubeReportSink(clients, { policy: values.policy });
const sinks = new Map(nodes.map((node) => [node, new KubeReportSink(clients, { policy: values.policy })]));
let stopped = false;
let timer;

async function tick() {
  let generation = 0;
  try {
    generation = (await sink.readPolicy())?.generation ?? 0;
  } catch {
    // keep 0; the write below reports the error
  }
  const now = Date.now();
  await Promise.all(
    nodes.map(async (node) => {
      const status = toReportStatus(redated(now), { agentVersion: 'replay', policyGeneration: generation, now: new Date(now) });
      try {
        await sinks.get(node).write({ name: reportName(values.policy, node), policy: values.policy, nodeName: node, status });
        log('Wrote DropWatchNodeReport', { node, dropsPerSecond: status.totals?.dropsPerSecond });
      } catch (err) {
        log('Writing DropWatchNodeReport failed', { node, err: String(err?.message ?? err) });
      }
    }),
  );
  if (!stopped) timer = setTimeout(tick, heartbeatMs);
}

const stop = () => {
  stopped = true;
  clearTimeout(timer);
  log('Replay agent stopped');
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
log('Replay agent started', { nodes, fixture: values.fixture, heartbeatMs, scale });
await tick();
