// `make bench-operator`: the operator's cost at fleet scale. Brings up its own local control plane
// (hack/controlplane.sh on separate ports), creates N kwok nodes, one DropWatchPolicy selecting
// them, and one process simulating N agents (bench/operator/agents.mjs) writing their reports at
// the heartbeat interval, spread evenly. Measures over a fixed steady window: the operator's CPU
// and RSS, kwok's and the API server's CPU, API writes per second by resource and verb (from
// kube-apiserver /metrics); then spikes K nodes at a time and measures spike-to-Event latency
// (DropThresholdExceeded on the Node, seen by a watch). Writes bench/results/operator-<N>-<stamp>.json
// and prints markdown tables for docs/performance.md. Needs no root.
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, openSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const env = process.env;
const N = Number(env.BENCH_NODES ?? 1000);
const STEADY_S = Number(env.BENCH_STEADY_SECONDS ?? 60);
const SETTLE_S = Number(env.BENCH_SETTLE_SECONDS ?? 15);
const HEARTBEAT_S = Number(env.BENCH_HEARTBEAT_SECONDS ?? 60);
const SPIKE_ROUNDS = Number(env.BENCH_SPIKE_ROUNDS ?? 5);
const SPIKE_NODES = Number(env.BENCH_SPIKE_NODES ?? 10);
const SPIKE_GAP_S = Number(env.BENCH_SPIKE_GAP_SECONDS ?? 8);
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 8);
const KEEP = env.BENCH_KEEP_CLUSTER === '1';
const cpEnv = {
  ...env,
  DWO_CLUSTER_DIR: env.DWO_CLUSTER_DIR ?? '/tmp/h10-cluster',
  DWO_APISERVER_PORT: env.DWO_APISERVER_PORT ?? '16743',
  DWO_ETCD_PORT: env.DWO_ETCD_PORT ?? '12779',
};
const METRICS_PORT = Number(env.BENCH_OPERATOR_METRICS_PORT ?? 18089);
const NS = 'dropwatch-system';
const POLICY = 'bench-fleet';
const PREFIX = 'bench-node';
const LABEL = 'dropwatch.dev/bench';
const STATE = cpEnv.DWO_CLUSTER_DIR;
const USER_HZ = 100;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`[bench-operator ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const controlplane = (cmd) => execFileSync('bash', [path.join(root, 'hack/controlplane.sh'), cmd], { env: cpEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

const cli = path.join(root, 'dist/cli/main.js');
if (!existsSync(cli)) throw new Error('run `make build` first');

// --- processes and /proc sampling ---------------------------------------------------------------

/** CPU seconds (user+sys), current and peak RSS (KiB) of a pid, or undefined once it is gone. */
function readProc(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { cpu: (Number(f[11]) + Number(f[12])) / USER_HZ, rssKb: Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? 0), hwmKb: Number(/VmHWM:\s+(\d+)/.exec(st)?.[1] ?? 0) };
  } catch {
    return undefined;
  }
}

/** Samples several processes every 250 ms; window(name) gives CPU used and max RSS since mark(). */
function sampler(pids) {
  const marks = {};
  const maxRss = {};
  const read = () => {
    for (const [name, pid] of Object.entries(pids)) {
      const p = readProc(pid);
      if (p) maxRss[name] = Math.max(maxRss[name] ?? 0, p.rssKb);
    }
  };
  const t = setInterval(read, 250);
  return {
    mark() {
      for (const [name, pid] of Object.entries(pids)) marks[name] = { cpu: readProc(pid)?.cpu ?? 0, t: Date.now() };
      for (const k of Object.keys(maxRss)) delete maxRss[k];
      read();
    },
    window() {
      read();
      const out = {};
      for (const [name, pid] of Object.entries(pids)) {
        const p = readProc(pid);
        if (!p || !marks[name]) continue;
        const secs = (Date.now() - marks[name].t) / 1000;
        out[name] = { cpuSeconds: round(p.cpu - marks[name].cpu, 2), cpuPercentOfOneCore: round((100 * (p.cpu - marks[name].cpu)) / secs, 1), maxRssMiB: round((maxRss[name] ?? p.rssKb) / 1024, 1), peakRssMiB: round(p.hwmKb / 1024, 1) };
      }
      return out;
    },
    stop: () => clearInterval(t),
  };
}

const round = (x, d) => Number(x.toFixed(d));
const pidOf = (name) => Number(readFileSync(path.join(STATE, 'run', `${name}.pid`), 'utf8').trim());

// --- Kubernetes -----------------------------------------------------------------------------------

log(`control plane in ${STATE} (apiserver :${cpEnv.DWO_APISERVER_PORT}, etcd :${cpEnv.DWO_ETCD_PORT}); fresh start`);
controlplane('down');
const upStart = Date.now();
controlplane('up');
const kubeconfig = controlplane('kubeconfig');
const binDir = controlplane('bin-dir');
const kubectl = (args, input) => execFileSync(path.join(binDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 256 << 20 });
log(`control plane up in ${((Date.now() - upStart) / 1000).toFixed(0)} s`);

const { createKubeClients } = await import(path.join(root, 'dist/k8s/client.js'));
const { Watch } = await import('@kubernetes/client-node');
const clients = createKubeClients({ kubeconfigPath: kubeconfig });

kubectl(['apply', '--server-side', '--force-conflicts', '-f', path.join(root, 'crds')]);
kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/dropwatchpolicies.dropwatch.dev', 'crd/dropwatchnodereports.dropwatch.dev']);
kubectl(['create', 'namespace', NS]);
kubectl(['apply', '-f', path.join(root, 'deploy/agent-rbac.yaml')]);

// Ctrl-C or a kill: stop what this script started and the control plane, then exit.
const children = [];
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    log(`${sig}: stopping the operator, the agents and the control plane`);
    for (const c of children) c.kill('SIGKILL');
    if (!KEEP) controlplane('down');
    process.exit(130);
  });
}

const pids = { 'kube-apiserver': pidOf('kube-apiserver'), etcd: pidOf('etcd'), kwok: pidOf('kwok'), 'kube-controller-manager': pidOf('kube-controller-manager'), 'kube-scheduler': pidOf('kube-scheduler') };
const s = sampler(pids);

async function pool(items, limit, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

// Nodes carry a taint the policy does not tolerate: the DaemonSet exists and is reconciled, but
// no agent pods are scheduled (1,000 fake pods would measure the scheduler and kwok, not us).
const nodes = Array.from({ length: N }, (_, i) => `${PREFIX}-${String(i).padStart(5, '0')}`);
log(`creating ${N} kwok nodes (concurrency ${CONCURRENCY})`);
s.mark();
const createStart = Date.now();
await pool(nodes, CONCURRENCY, (name) => clients.core.createNode({
  body: {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { type: 'kwok', [LABEL]: 'fleet', 'kubernetes.io/hostname': name } },
    spec: { taints: [{ key: 'dropwatch.dev/bench-no-agent-pods', value: 'true', effect: 'NoSchedule' }] },
  },
}));
const createSeconds = (Date.now() - createStart) / 1000;
async function readyCount() {
  const list = await clients.core.listNode({ labelSelector: `${LABEL}=fleet` });
  return list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
}
let ready = 0;
for (const deadline = Date.now() + 300_000 * Math.max(1, N / 1000); Date.now() < deadline; await sleep(2000)) if ((ready = await readyCount()) === N) break;
const nodesReadySeconds = (Date.now() - createStart) / 1000;
const nodeSetup = s.window();
log(`${N} nodes created in ${createSeconds.toFixed(1)} s, ${ready} Ready after ${nodesReadySeconds.toFixed(1)} s`);

// kwok alone with N nodes and nothing else happening: its heartbeat cost.
log('kwok idle window (20 s)');
s.mark();
await sleep(20_000);
const idleWithNodes = s.window();

kubectl(['apply', '--server-side', '--field-manager=bench', '-f', '-'], JSON.stringify({
  apiVersion: 'dropwatch.dev/v1alpha1', kind: 'DropWatchPolicy', metadata: { name: POLICY },
  spec: {
    nodeSelector: { matchLabels: { [LABEL]: 'fleet' } },
    samplingInterval: '1s', reportInterval: '2s', heartbeatInterval: `${HEARTBEAT_S}s`,
    thresholds: [{ name: 'kernel-drops', metric: 'dropsPerSecond', warning: 100, critical: 1000, clear: 50, for: '0s' }],
  },
}));

// --- the operator ---------------------------------------------------------------------------------

const opLog = path.join(STATE, 'logs', 'bench-operator.log');
const operator = spawn(process.execPath, [cli, 'operator', '--kubeconfig', kubeconfig, '--namespace', NS, '--agent-image', 'registry.invalid/dropwatch-operator:bench',
  '--identity', 'bench', '--metrics-bind-address', `127.0.0.1:${METRICS_PORT}`, '--log-level', 'info'], { stdio: ['ignore', openSync(opLog, 'w'), openSync(opLog, 'a')] });
pids.operator = operator.pid;
children.push(operator);
const getPolicy = () => clients.custom.getClusterCustomObject({ group: 'dropwatch.dev', version: 'v1alpha1', plural: 'dropwatchpolicies', name: POLICY });
async function waitFor(what, timeoutMs, fn) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (operator log: ${opLog})`);
    await sleep(500);
  }
}
const opStart = Date.now();
await waitFor('the operator to reconcile the policy', 120_000 * Math.max(1, N / 1000), async () => (await getPolicy()).status?.nodes?.matching === N);
log(`operator sees ${N} matching nodes after ${((Date.now() - opStart) / 1000).toFixed(1)} s`);

// --- simulated agents -------------------------------------------------------------------------------

const agents = fork(path.join(root, 'bench/operator/agents.mjs'), [kubeconfig, POLICY, String(N), PREFIX, String(HEARTBEAT_S), String(CONCURRENCY)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
pids.agents = agents.pid;
children.push(agents);
const replies = [];
const waiters = [];
agents.on('message', (m) => {
  const w = waiters.findIndex((x) => x.key in m);
  if (w >= 0) waiters.splice(w, 1)[0].resolve(m[Object.keys(m)[0]]);
  else replies.push(m);
});
const ask = (msg, key) => new Promise((resolve) => {
  const i = replies.findIndex((m) => key in m);
  if (i >= 0) return resolve(replies.splice(i, 1)[0][key]);
  waiters.push({ key, resolve });
  if (msg) agents.send(msg);
});
await ask(undefined, 'ready');
log(`agents: first report of every node (concurrency ${CONCURRENCY})`);
s.mark();
const warm = await ask({ cmd: 'warm' }, 'warm');
log(`warm-up: ${warm.writes} writes in ${warm.seconds.toFixed(1)} s (${warm.errors} errors${warm.errors ? `: ${warm.lastError}` : ''})`);
// Heartbeats start at once: when the first pass takes longer than two heartbeats (5,000 nodes on
// 2 cores), its earliest reports are already stale and only the steady writes refresh them.
log(`steady: ${N} reports per ${HEARTBEAT_S} s (${(N / HEARTBEAT_S).toFixed(1)} writes/s); waiting for every node to report`);
await ask({ cmd: 'steady' }, 'steady');
await waitFor('every node reporting', 300_000 * Math.max(1, N / 1000), async () => (await getPolicy()).status?.nodes?.reporting === N);
const warmup = { ...warm, untilAllReportingSeconds: (Date.now() - opStart) / 1000, processes: s.window() };
log(`all ${N} reporting ${warmup.untilAllReportingSeconds.toFixed(1)} s after the operator started`);

// --- steady window --------------------------------------------------------------------------------

const apiPort = cpEnv.DWO_APISERVER_PORT;
const pki = path.join(STATE, 'pki');
function httpGet(url, tls) {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https') ? https : http).get(url, tls ?? {}, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}
const scrapeApi = () => httpGet(`https://127.0.0.1:${apiPort}/metrics`, { ca: readFileSync(path.join(pki, 'ca.crt')), cert: readFileSync(path.join(pki, 'admin.crt')), key: readFileSync(path.join(pki, 'admin.key')) });
const scrapeOperator = () => httpGet(`http://127.0.0.1:${METRICS_PORT}/metrics`);
const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION']);

/** apiserver_request_total summed over codes, keyed by group/resource/subresource verb (writes only). */
function apiWrites(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!WRITE_VERBS.has(labels.verb) || labels.dry_run) continue;
    const key = `${labels.group ? `${labels.group}/` : ''}${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''} ${labels.verb}`;
    out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}
/** Our operator's counters (prom-client text format), summed over labels. */
function operatorCounters(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(dropwatch_operator_\w+_total)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}
/** Who sends each kind of write in this setup (no per-client metric; attribution by resource and verb). */
function writerOf(key) {
  if (key.startsWith('dropwatch.dev/dropwatchnodereports')) return 'agents';
  if (key.startsWith('dropwatch.dev/dropwatchpolicies')) return 'operator';
  if (key.startsWith('events.k8s.io/events')) return 'operator';
  if (key === 'nodes/status APPLY') return 'operator';
  if (key.startsWith('apps/daemonsets') && !key.includes('/status')) return 'operator';
  if (key === 'nodes/status PATCH' || key === 'nodes/status PUT') return 'kwok (node heartbeats)';
  // The operator renews its leader Lease every 2 s; kwok v0.7 writes no node Leases here.
  if (key.startsWith('coordination.k8s.io/leases')) return 'operator leader Lease (and any other Lease)';
  if (key === 'nodes PATCH' || key === 'events POST') return 'not ours (kwok / kube-controller-manager)';
  return 'control plane';
}

log(`settle ${SETTLE_S} s, measure ${STEADY_S} s`);
await sleep(SETTLE_S * 1000);
const api0 = apiWrites(await scrapeApi());
const op0 = operatorCounters(await scrapeOperator());
s.mark();
const t0 = Date.now();
await sleep(STEADY_S * 1000);
const steadyProcs = s.window();
const api1 = apiWrites(await scrapeApi());
const op1 = operatorCounters(await scrapeOperator());
const steadySeconds = (Date.now() - t0) / 1000;
const writesPerSecond = Object.keys(api1).map((k) => ({ write: k, by: writerOf(k), perSecond: round(((api1[k] ?? 0) - (api0[k] ?? 0)) / steadySeconds, 2) }))
  .filter((w) => w.perSecond > 0).sort((a, b) => a.by.localeCompare(b.by) || b.perSecond - a.perSecond);
const operatorCountersPerSecond = Object.fromEntries(Object.keys(op1).map((k) => [k, round(((op1[k] ?? 0) - (op0[k] ?? 0)) / steadySeconds, 3)]));
const steadyStats = await ask({ cmd: 'stats' }, 'stats');
log(`steady window done: operator ${steadyProcs.operator?.cpuPercentOfOneCore}% of a core, max RSS ${steadyProcs.operator?.maxRssMiB} MiB`);

// --- spikes -----------------------------------------------------------------------------------------

const seen = new Map();
const watchAbort = await new Watch(clients.kubeConfig).watch('/apis/events.k8s.io/v1/namespaces/default/events', {}, (phase, ev) => {
  if (phase === 'ADDED' && ev.reason === 'DropThresholdExceeded' && ev.regarding?.kind === 'Node' && !seen.has(ev.regarding.name)) {
    seen.set(ev.regarding.name, { seenAt: Date.now(), eventTime: Date.parse(ev.eventTime) });
  }
}, () => undefined);
await sleep(1000);
const spikes = [];
s.mark();
const spikeApi0 = apiWrites(await scrapeApi());
for (let r = 0; r < SPIKE_ROUNDS; r++) {
  // Distinct nodes each round, spread over the fleet; never the same node twice.
  const picked = Array.from({ length: SPIKE_NODES }, (_, k) => nodes[(Math.floor(((r * SPIKE_NODES + k) * N) / (SPIKE_ROUNDS * SPIKE_NODES)) + 7) % N]);
  const out = await ask({ cmd: 'spike', nodes: picked, rate: 5000 }, 'spiked');
  spikes.push(...out.map((x) => ({ ...x, round: r })));
  log(`spike round ${r + 1}/${SPIKE_ROUNDS}: ${picked.length} nodes`);
  await sleep(SPIKE_GAP_S * 1000);
}
await waitFor('an Event for every spiked node', 60_000 * Math.max(1, N / 1000), async () => spikes.every((x) => seen.has(x.node))).catch((err) => log(String(err.message)));
const spikeProcs = s.window();
const spikeApi1 = apiWrites(await scrapeApi());
watchAbort.abort();
for (const x of spikes) {
  const e = seen.get(x.node);
  // From the start of the agent's write (its request can be answered after the operator already
  // saw the change, so timing from the reply would undercount) to the watch delivering the Event.
  x.eventSeenMs = e ? e.seenAt - x.writeStart : null;
  x.eventSeenAfterReplyMs = e ? e.seenAt - x.writeDone : null;
  x.eventTimeMs = e ? e.eventTime - x.writeStart : null;
}
const pct = (xs, p) => (xs.length ? xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] : null);
const dist = (key) => {
  const xs = spikes.map((x) => x[key]).filter((x) => x !== null).sort((a, b) => a - b);
  return { n: xs.length, p50Ms: pct(xs, 50), p99Ms: pct(xs, 99), maxMs: xs.at(-1) ?? null, minMs: xs[0] ?? null };
};
const fromStart = dist('eventSeenMs');
const latency = { spiked: spikes.length, withEvent: fromStart.n, ...fromStart, afterWriteReply: dist('eventSeenAfterReplyMs'), eventTimeAfterWriteStart: dist('eventTimeMs') };
const spikeWindowWrites = Object.keys(spikeApi1).map((k) => ({ write: k, by: writerOf(k), total: (spikeApi1[k] ?? 0) - (spikeApi0[k] ?? 0) })).filter((w) => w.total > 0);

// --- stop everything ----------------------------------------------------------------------------------

const agentsFinal = await ask({ cmd: 'stop' }, 'stopped');
const opFinal = readProc(operator.pid);
operator.kill('SIGTERM');
await Promise.race([new Promise((r) => operator.once('exit', r)), sleep(15_000)]);
if (operator.exitCode === null) operator.kill('SIGKILL');
s.stop();
const uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
if (!KEEP) controlplane('down');
else log(`cluster kept: ${controlplane('env')}`);

const result = {
  date: new Date().toISOString(),
  host: { kernel: os.release(), cpus: os.cpus().length, memGiB: round(os.totalmem() / 2 ** 30, 1), node: process.version, uptimeAtEnd: uptime },
  config: { nodes: N, heartbeatSeconds: HEARTBEAT_S, reportWritesPerSecond: round(N / HEARTBEAT_S, 2), steadySeconds: STEADY_S, settleSeconds: SETTLE_S, spikeRounds: SPIKE_ROUNDS, spikeNodes: SPIKE_NODES, spikeGapSeconds: SPIKE_GAP_S, concurrency: CONCURRENCY, agentPods: false },
  setup: { createNodesSeconds: round(createSeconds, 1), nodesReadySeconds: round(nodesReadySeconds, 1), nodesReady: ready, processesDuringNodeSetup: nodeSetup, idleWithNodes, warmup },
  steady: { seconds: round(steadySeconds, 1), processes: steadyProcs, apiWritesPerSecond: writesPerSecond, operatorCountersPerSecond, agents: steadyStats },
  spikes: { latency, processes: spikeProcs, apiWrites: spikeWindowWrites, raw: spikes },
  operator: { peakRssMiB: opFinal ? round(opFinal.hwmKb / 1024, 1) : null, cpuSecondsTotal: opFinal?.cpu ?? null, log: opLog },
  agentsFinal,
};
mkdirSync(path.join(root, 'bench/results'), { recursive: true });
const file = path.join(root, 'bench/results', `operator-${N}-${result.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + '\n');

const fmt = (x) => (x === null || x === undefined ? '' : x.toLocaleString('en-US'));
console.log(`\n${N} nodes, report heartbeat ${HEARTBEAT_S} s (${result.config.reportWritesPerSecond} report writes/s), steady window ${result.steady.seconds} s; ${os.cpus().length} CPUs, ${uptime}\n`);
console.log('| process | CPU % of one core (steady) | CPU s (steady) | max RSS MiB (steady) | peak RSS MiB (whole run) | CPU % with only the nodes (before the policy) |');
console.log('|---|---|---|---|---|---|');
for (const name of ['operator', 'agents', 'kube-apiserver', 'etcd', 'kwok', 'kube-controller-manager', 'kube-scheduler']) {
  const p = steadyProcs[name];
  if (!p) continue;
  const peak = name === 'operator' ? result.operator.peakRssMiB : p.peakRssMiB;
  console.log(`| ${name} | ${p.cpuPercentOfOneCore} | ${p.cpuSeconds} | ${p.maxRssMiB} | ${peak} | ${idleWithNodes[name]?.cpuPercentOfOneCore ?? ''} |`);
}
console.log('\n| API write (resource verb) | writer | per second |');
console.log('|---|---|---|');
for (const w of writesPerSecond) console.log(`| ${w.write} | ${w.by} | ${w.perSecond} |`);
console.log(`\noperator counters per second (steady): ${Object.entries(operatorCountersPerSecond).map(([k, v]) => `${k.replace('dropwatch_operator_', '')} ${v}`).join(', ')}`);
console.log(`\n| spike-to-Event | nodes spiked | with Event | p50 ms | p99 ms | max ms |`);
console.log('|---|---|---|---|---|---|');
console.log(`| DropThresholdExceeded on the Node: agent write start to watch delivery | ${latency.spiked} | ${latency.withEvent} | ${fmt(latency.p50Ms)} | ${fmt(latency.p99Ms)} | ${fmt(latency.maxMs)} |`);
console.log(`\nsetup: ${N} nodes created in ${result.setup.createNodesSeconds} s, Ready in ${result.setup.nodesReadySeconds} s; first reports written in ${warm.seconds.toFixed(1)} s; agents: ${agentsFinal.writes} writes, ${agentsFinal.errors} errors`);
console.log(`results: ${path.relative(root, file)}`);
process.exit(0);
