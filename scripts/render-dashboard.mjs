#!/usr/bin/env node
// Renders docs/images/dashboard.svg from real data: runs the real agent on this host (metrics
// only) and a real Prometheus (hack/prometheus.sh) scraping it every second, makes real kernel
// drops in a network namespace of its own (UDP to a closed port, an nftables drop rule, a socket
// with a tiny receive buffer that nobody reads), then runs every query of the chart's Grafana
// dashboard through /api/v1/query_range and draws the panels on the dashboard's grid as a plain
// SVG. When the local control plane's binaries are built (make cluster-build), it also starts a
// private control plane with a Node for this host and one policy, runs the real operator, and runs
// the agent in publish mode for that policy, so the report and operator panels have data too.
//
//   node scripts/render-dashboard.mjs [--seconds 75] [--out docs/images/dashboard.svg]
//
// Needs root (tracefs, network namespaces, nft) and `make build` (it runs dist/). Everything it
// starts or creates (processes, the network namespace and its nft table, the control plane, the
// temp directory) is removed on exit, also on failure or Ctrl-C.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DASHBOARD = path.join(ROOT, 'charts/dropwatch-operator/files/grafana-dashboard.json');
const RULES = path.join(ROOT, 'charts/dropwatch-operator/files/prometheus-rules.yaml');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const FLOOD = path.join(ROOT, 'test/integration/helpers/udp-flood.mjs');
const CONTROLPLANE = path.join(ROOT, 'hack/controlplane.sh');
const POLICY = 'sensors';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '75' },
    out: { type: 'string', default: path.join(ROOT, 'docs/images/dashboard.svg') },
    'no-operator': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(flags.seconds);
if (!(SECONDS >= 30 && SECONDS <= 600)) fail('--seconds must be between 30 and 600');

// The drops this script makes, inside its own network namespace. Rates are datagrams per second;
// each datagram is one kernel drop with the named reason.
const CLOSED_PORT = 9; // nothing listens: NO_SOCKET (transport)
const FILTERED_PORT = 4000; // an nft rule drops it: NETFILTER_DROP (netfilter)
const FULL_PORT = 5000; // a stopped process's socket with a 1 KiB buffer: SOCKET_RCVBUFF (socket)
const SCENARIO = [
  { what: `NO_SOCKET: UDP to closed port ${CLOSED_PORT}`, port: CLOSED_PORT, rate: 300, from: 0, to: 1 },
  { what: `NETFILTER_DROP: nft drops UDP to port ${FILTERED_PORT}`, port: FILTERED_PORT, rate: 150, from: 0.15, to: 0.75 },
  { what: `SOCKET_RCVBUFF: UDP to an unread socket with SO_RCVBUF 1 KiB on port ${FULL_PORT}`, port: FULL_PORT, rate: 250, from: 0.3, to: 0.6 },
];

function fail(msg) {
  console.error(`render-dashboard: ${msg}`);
  process.exit(1);
}
const log = (msg) => console.error(`[render-dashboard ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- resources, all released by cleanup() ------------------------------------------------------

const children = [];
let netnsName;
let tmp;
let clusterEnv;

function start(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  const keep = (d) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const entry = { name, child, output: () => out };
  children.push(entry);
  return entry;
}

async function stopChild({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGCONT'); // a stopped process does not act on SIGTERM until continued
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await Promise.all(children.splice(0).reverse().map(stopChild));
    if (netnsName !== undefined) {
      // Deleting the namespace also deletes its nft table and sockets.
      try {
        execFileSync('ip', ['netns', 'del', netnsName], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    if (clusterEnv !== undefined) {
      try {
        execFileSync('bash', [CONTROLPLANE, 'down'], { env: clusterEnv, stdio: 'ignore' });
      } catch {
        // not running
      }
    }
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  });
}

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function waitUntil(what, timeoutMs, fn) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      if (await fn()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(250);
  }
}

const inNetns = (cmd, args) => execFileSync('ip', ['netns', 'exec', netnsName, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

// --- the run -----------------------------------------------------------------------------------

async function main() {
  if (process.getuid?.() !== 0) fail('needs root (tracefs, network namespaces, nft); run it with sudo');
  if (!existsSync(CLI)) fail('dist/ is missing: run `make build` first');
  execFileSync('bash', [path.join(ROOT, 'hack/prometheus.sh'), 'build'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const promBin = execFileSync('bash', [path.join(ROOT, 'hack/prometheus.sh'), 'bin-dir'], { encoding: 'utf8' }).trim();
  const promVersion = /version (\S+)/.exec(execFileSync(path.join(promBin, 'prometheus'), ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dwo-render-'));
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
  // This host's Node name: the hostname as a DNS subdomain.
  const hostNode = os.hostname().toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  const namespace = 'dropwatch-system';

  log('network namespace with an nft drop rule and an unread socket');
  netnsName = `dwor-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', netnsName]);
  inNetns('ip', ['link', 'set', 'lo', 'up']);
  inNetns('nft', ['add table inet dwor']);
  inNetns('nft', ['add chain inet dwor input { type filter hook input priority 0 ; policy accept ; }']);
  inNetns('nft', [`add rule inet dwor input udp dport ${FILTERED_PORT} drop`]);
  const sink = start('full-socket', 'ip', ['netns', 'exec', netnsName, process.execPath, '-e', `
    const s = require('node:dgram').createSocket({ type: 'udp4', recvBufferSize: 1024 });
    s.bind(${FULL_PORT}, '127.0.0.1', () => process.stdout.write('bound\\n'));
    setInterval(() => {}, 1000);`]);
  await waitUntil('the unread socket', 10_000, () => sink.output().includes('bound'));
  // `ip netns exec` execs node, so this pid is the node process: stopped, it never reads.
  sink.child.kill('SIGSTOP');

  const withOperator = !flags['no-operator'] && existsSync(path.join(execFileSync('bash', [CONTROLPLANE, 'bin-dir'], { encoding: 'utf8' }).trim(), 'kube-apiserver'));
  const scrapeConfigs = [];
  let agentArgs = ['--metrics-only'];
  let operatorNote = flags['no-operator'] ? 'no operator (--no-operator)' : 'no operator (the control plane is not built: make cluster-build)';
  if (withOperator) {
    const { operatorPort, kubeconfig } = await startOperator(namespace, hostNode);
    scrapeConfigs.push({ job_name: 'dropwatch-operator', static_configs: [{ targets: [`127.0.0.1:${operatorPort}`], labels: { namespace, pod: 'dropwatch-operator-render' } }] });
    agentArgs = ['--policy', POLICY, '--node-name', hostNode, '--kubeconfig', kubeconfig, '--heartbeat-interval', '10s'];
    operatorNote = `the operator and the agent's reports ran against a private local control plane (policy ${POLICY}, a Node for this host, operator resync 5 s)`;
  }

  log(`agent (${withOperator ? 'publish mode' : 'metrics only'}) and Prometheus`);
  const agentPort = await freePort();
  const agent = start('agent', process.execPath, [CLI, 'agent', ...agentArgs, '--metrics-bind-address', `127.0.0.1:${agentPort}`, '--sampling-interval', '500ms', '--report-interval', '1s']);
  await waitUntil('the agent', 20_000, async () => (await fetch(`http://127.0.0.1:${agentPort}/healthz`)).ok);
  const source = /"source":"([a-z-]+)"/.exec(agent.output())?.[1] ?? 'unknown';
  // The labels the chart's PodMonitor gives an agent target in a cluster.
  scrapeConfigs.push({ job_name: 'dropwatch-agent', static_configs: [{ targets: [`127.0.0.1:${agentPort}`], labels: { namespace, pod: `dropwatch-agent-${hostNode}`, node: hostNode } }] });
  const promPort = await freePort();
  writeFileSync(path.join(tmp, 'prometheus.yml'), JSON.stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, rule_files: [RULES], scrape_configs: scrapeConfigs }));
  start('prometheus', path.join(promBin, 'prometheus'), [`--config.file=${path.join(tmp, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(tmp, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
  const api = async (endpoint, params) => {
    const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/${endpoint}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(10_000) });
    const body = await res.json();
    if (body.status !== 'success') throw new Error(`${params.query}: ${body.error ?? res.status}`);
    return body.data.result;
  };
  await waitUntil('Prometheus to scrape the agent', 30_000, async () => (await api('query', { query: 'up{job="dropwatch-agent"} == 1' })).length > 0);

  const t0 = Date.now();
  log(`making drops for ${SECONDS} s: ${SCENARIO.map((s) => s.what).join('; ')}`);
  await Promise.all(
    SCENARIO.map(async (s) => {
      await sleep(s.from * SECONDS * 1000);
      const seconds = Math.round((s.to - s.from) * SECONDS);
      const flood = start(`flood-${s.port}`, 'ip', ['netns', 'exec', netnsName, process.execPath, FLOOD, '127.0.0.1', String(s.port), String(s.rate), String(seconds)]);
      await new Promise((r) => flood.child.once('exit', r));
    }),
  );
  await sleep(Math.max(0, t0 + SECONDS * 1000 - Date.now()) + 2000);
  const t1 = Date.now();

  log('querying every panel');
  const range = { start: String(t0 / 1000), end: String(t1 / 1000), step: '1' };
  const promql = (expr) =>
    expr
      .replace(/\$__rate_interval/g, '5s')
      .replace(/\$__range/g, `${Math.round((t1 - t0) / 1000)}s`)
      .replace(/\$\{?(namespace|node|policy)\}?/g, '.*');
  const data = new Map();
  for (const p of dashboard.panels) {
    if (p.type === 'row') continue;
    const results = [];
    for (const t of p.targets ?? []) {
      const instant = t.instant === true && t.range !== true;
      const r = instant ? await api('query', { query: promql(t.expr), time: String(t1 / 1000) }) : await api('query_range', { query: promql(t.expr), ...range });
      results.push({ target: t, series: r });
    }
    data.set(p.id, results);
  }
  const kernel = os.release();
  const svg = renderSvg(dashboard, data, {
    t0,
    t1,
    notes: [
      `A rendering of the queries of charts/dropwatch-operator/files/grafana-dashboard.json by scripts/render-dashboard.mjs (not a Grafana screenshot).`,
      `Data: Prometheus ${promVersion} scraping the real \`dropwatch-operator agent\` on this host (kernel ${kernel}, drop source ${source}) every 1 s for ${Math.round((t1 - t0) / 1000)} s; ${operatorNote}.`,
      `Drops made in a network namespace: ${SCENARIO.map((s) => `${s.what.split(':')[0]} ${s.rate}/s from ${Math.round(s.from * SECONDS)} s to ${Math.round(s.to * SECONDS)} s`).join('; ')}. Other drops on the host are real too.`,
    ],
  });
  writeFileSync(flags.out, svg);
  log(`wrote ${path.relative(process.cwd(), flags.out)} (${svg.length} bytes)`);
}

/**
 * Starts a private control plane with the CRDs, a namespace, a Node for this host and one policy
 * selecting it, and the operator; returns the operator's metrics port and the admin kubeconfig.
 */
async function startOperator(namespace, hostNode) {
  const apiserverPort = await freePort();
  let etcdPort = await freePort();
  // etcd also takes the next port for peers.
  while (etcdPort + 1 === apiserverPort) etcdPort = await freePort();
  clusterEnv = { ...process.env, DWO_CLUSTER_DIR: path.join(tmp, 'cluster'), DWO_APISERVER_PORT: String(apiserverPort), DWO_ETCD_PORT: String(etcdPort) };
  log('private control plane for the operator');
  execFileSync('bash', [CONTROLPLANE, 'up'], { env: clusterEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  const kubeconfig = execFileSync('bash', [CONTROLPLANE, 'kubeconfig'], { env: clusterEnv, encoding: 'utf8' }).trim();
  const kubectlBin = path.join(execFileSync('bash', [CONTROLPLANE, 'bin-dir'], { env: clusterEnv, encoding: 'utf8' }).trim(), 'kubectl');
  const kubectl = (args, input) => execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { input, stdio: ['pipe', 'ignore', 'inherit'] });
  kubectl(['apply', '--server-side', '-f', path.join(ROOT, 'crds')]);
  kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/dropwatchpolicies.dropwatch.dev']);
  kubectl(['create', 'namespace', namespace]);
  // A plain Node (no kubelet serves it: the agent pod the operator plans stays Pending; the agent
  // for this host is the process this script starts).
  kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: hostNode, labels: { 'dropwatch.dev/sensor': 'span' } } }));
  kubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'dropwatch.dev/v1alpha1',
    kind: 'DropWatchPolicy',
    metadata: { name: POLICY },
    spec: {
      nodeSelector: { matchLabels: { 'dropwatch.dev/sensor': 'span' } },
      samplingInterval: '1s',
      reportInterval: '1s',
      heartbeatInterval: '10s',
      // The scenario peaks at about 700 drops/s: one warning and one recovery Event.
      thresholds: [{ name: 'kernel-drops', metric: 'dropsPerSecond', warning: 450, clear: 150, for: '0s' }],
    },
  }));
  const port = await freePort();
  start('operator', process.execPath, [CLI, 'operator', '--kubeconfig', kubeconfig, '--namespace', namespace, '--agent-image', 'ghcr.io/dropwatch/dropwatch-agent:render', '--identity', 'dropwatch-operator-render', '--resync', '5', '--metrics-bind-address', `127.0.0.1:${port}`]);
  await waitUntil('the operator to lead', 30_000, async () => /^dropwatch_operator_leader 1$/m.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()));
  return { operatorPort: port, kubeconfig };
}

// --- drawing -----------------------------------------------------------------------------------

const WIDTH = 1400;
const COL = WIDTH / 24;
const ROW = 30;
const HEADER = 64;
const PALETTE = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#705da0', '#37872d', '#fade2a'];
const BG = '#111217';
const PANEL = '#181b1f';
const BORDER = '#2c3235';
const TEXT = '#ccccdc';
const MUTED = '#8e8e9e';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fix = (n) => (Math.round(n * 10) / 10).toString();

/** A number with the dashboard unit, short. */
function fmt(v, unit) {
  if (!Number.isFinite(v)) return '–';
  if (unit === 'percentunit') return `${fix(v * 100)}%`;
  const suffix = { pps: '/s', ops: '/s', wps: '/s', s: ' s' }[unit] ?? '';
  const a = Math.abs(v);
  const scaled = a >= 1e6 ? `${fix(v / 1e6)}M` : a >= 1e3 ? `${fix(v / 1e3)}k` : a >= 10 || a === 0 ? `${Math.round(v)}` : a >= 0.01 ? v.toFixed(2) : v.toExponential(0);
  return `${scaled}${suffix}`;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function legendName(target, metric) {
  const f = target.legendFormat ?? '';
  if (f === '' || f === '__auto') return Object.entries(metric).map(([k, v]) => `${k}=${v}`).join(', ') || target.refId;
  return f.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, k) => metric[k] ?? '');
}

function colorFor(panel, name, i) {
  for (const o of panel.fieldConfig?.overrides ?? []) {
    if (o.matcher?.id === 'byName' && o.matcher.options === name) {
      const c = o.properties?.find((p) => p.id === 'color')?.value?.fixedColor;
      if (c) return c;
    }
  }
  return PALETTE[i % PALETTE.length];
}

function drawTimeseries(panel, results, box, span) {
  const unit = panel.fieldConfig?.defaults?.unit ?? '';
  const stacked = panel.fieldConfig?.defaults?.custom?.stacking?.mode === 'normal';
  const fillOpacity = (panel.fieldConfig?.defaults?.custom?.fillOpacity ?? 0) / 100;
  const series = [];
  for (const { target, series: rs } of results) {
    for (const s of rs) {
      const name = legendName(target, s.metric);
      series.push({ name, points: s.values.map(([t, v]) => [t * 1000, Number(v)]) });
    }
  }
  if (stacked) {
    // Stack in query order (the ladder: wire first, at the bottom).
    const base = new Map();
    for (const s of series) {
      s.base = s.points.map(([t]) => base.get(t) ?? 0);
      s.points = s.points.map(([t, v], k) => [t, (Number.isFinite(v) ? v : 0) + s.base[k]]);
      for (const [t, v] of s.points) base.set(t, v);
    }
  }
  const legendRight = panel.options?.legend?.placement === 'right';
  const legendW = legendRight ? Math.min(330, box.w * 0.42) : 0;
  const legendH = legendRight ? 0 : 18 * Math.min(3, Math.ceil(series.length / 3)) + 4;
  const plot = { x: box.x + 52, y: box.y + 30, w: box.w - 64 - legendW, h: box.h - 30 - 22 - legendH };
  const out = [];
  if (series.length === 0 || series.every((s) => s.points.every(([, v]) => !Number.isFinite(v)))) {
    out.push(`<text x="${box.x + box.w / 2}" y="${box.y + box.h / 2 + 5}" fill="${MUTED}" font-size="14" text-anchor="middle">No data</text>`);
    return out.join('\n');
  }
  const max = niceMax(Math.max(...series.flatMap((s) => s.points.map(([, v]) => v)).filter(Number.isFinite)));
  const X = (t) => plot.x + ((t - span.t0) / (span.t1 - span.t0)) * plot.w;
  const Y = (v) => plot.y + plot.h - (Math.max(0, v) / max) * plot.h;
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    out.push(`<line x1="${plot.x}" y1="${fix(Y(v))}" x2="${plot.x + plot.w}" y2="${fix(Y(v))}" stroke="${BORDER}" stroke-width="1"/>`);
    out.push(`<text x="${plot.x - 6}" y="${fix(Y(v) + 4)}" fill="${MUTED}" font-size="11" text-anchor="end">${esc(fmt(v, unit))}</text>`);
  }
  const ticks = plot.w > 420 ? 4 : 2;
  for (let k = 0; k <= ticks; k++) {
    const t = span.t0 + ((span.t1 - span.t0) * k) / ticks;
    const label = new Date(t).toISOString().slice(11, 19);
    out.push(`<text x="${fix(X(t))}" y="${plot.y + plot.h + 15}" fill="${MUTED}" font-size="11" text-anchor="${k === 0 ? 'start' : k === ticks ? 'end' : 'middle'}">${label}</text>`);
  }
  series.forEach((s, i) => {
    const color = colorFor(panel, s.name, i);
    const pts = s.points.filter(([, v]) => Number.isFinite(v));
    if (pts.length === 0) return;
    const line = pts.map(([t, v]) => `${fix(X(t))},${fix(Y(v))}`).join(' ');
    if (fillOpacity > 0) {
      const lower = stacked ? s.points.map(([t], k) => `${fix(X(t))},${fix(Y(s.base[k]))}`).reverse().join(' ') : `${fix(X(pts[pts.length - 1][0]))},${fix(Y(0))} ${fix(X(pts[0][0]))},${fix(Y(0))}`;
      out.push(`<polygon points="${line} ${lower}" fill="${color}" fill-opacity="${fillOpacity}" stroke="none"/>`);
    }
    out.push(`<polyline points="${line}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
  });
  // Legend: name plus mean / max / last of the series' own values (not the stacked sums).
  series.forEach((s, i) => {
    const color = colorFor(panel, s.name, i);
    const own = s.points.map(([, v], k) => (stacked ? v - s.base[k] : v)).filter(Number.isFinite);
    const mean = own.reduce((a, b) => a + b, 0) / (own.length || 1);
    if (legendRight) {
      const y = plot.y + 14 + i * 17;
      if (i === 0) out.push(`<text x="${box.x + box.w - legendW + 8}" y="${plot.y}" fill="${MUTED}" font-size="11">name</text>`, ...['mean', 'max', 'last'].map((h, j) => `<text x="${box.x + box.w - 12 - (2 - j) * 60}" y="${plot.y}" fill="${MUTED}" font-size="11" text-anchor="end">${h}</text>`));
      out.push(`<rect x="${box.x + box.w - legendW + 8}" y="${y - 8}" width="12" height="3" fill="${color}"/>`);
      out.push(`<text x="${box.x + box.w - legendW + 26}" y="${y}" fill="${TEXT}" font-size="12">${esc(s.name)}</text>`);
      [mean, Math.max(...own), own[own.length - 1]].forEach((v, j) => out.push(`<text x="${box.x + box.w - 12 - (2 - j) * 60}" y="${y}" fill="${TEXT}" font-size="12" text-anchor="end">${esc(fmt(v, unit))}</text>`));
    } else {
      const colW = (box.w - 24) / 3;
      const x = box.x + 12 + (i % 3) * colW;
      const y = plot.y + plot.h + 34 + Math.floor(i / 3) * 18;
      if (y > box.y + box.h - 4) return;
      out.push(`<rect x="${x}" y="${y - 8}" width="12" height="3" fill="${color}"/>`);
      const room = Math.floor((colW - 26) / 6.6);
      out.push(`<text x="${x + 18}" y="${y}" fill="${TEXT}" font-size="12">${esc(s.name.length > room ? `${s.name.slice(0, room - 1)}…` : s.name)}</text>`);
    }
  });
  return out.join('\n');
}

function drawTable(panel, results, box) {
  const rows = results.flatMap(({ series }) => series).map((s) => ({ ...s.metric, Value: Number(s.value[1]) }));
  rows.sort((a, b) => b.Value - a.Value);
  const order = panel.transformations?.find((t) => t.id === 'organize')?.options?.indexByName ?? {};
  const columns = Object.entries(order).sort((a, b) => a[1] - b[1]).map(([k]) => k);
  const renamed = Object.fromEntries((panel.fieldConfig?.overrides ?? []).flatMap((o) => (o.matcher?.id === 'byName' ? [[o.matcher.options, o.properties?.find((p) => p.id === 'displayName')?.value]] : [])).filter(([, v]) => v));
  const out = [];
  if (rows.length === 0) {
    out.push(`<text x="${box.x + box.w / 2}" y="${box.y + box.h / 2 + 5}" fill="${MUTED}" font-size="14" text-anchor="middle">No data</text>`);
    return out.join('\n');
  }
  const widths = columns.map((c) => (c === 'symbol' ? 0.42 : c === 'Value' ? 0.16 : 0.21));
  const xs = widths.map((_w, i) => box.x + 12 + widths.slice(0, i).reduce((a, b) => a + b, 0) * (box.w - 24));
  const y0 = box.y + 48;
  columns.forEach((c, i) => out.push(`<text x="${c === 'Value' ? xs[i] + widths[i] * (box.w - 24) - 8 : xs[i]}" y="${y0}" fill="${MUTED}" font-size="12" font-weight="bold" text-anchor="${c === 'Value' ? 'end' : 'start'}">${esc(renamed[c] ?? c)}</text>`));
  out.push(`<line x1="${box.x + 8}" y1="${y0 + 7}" x2="${box.x + box.w - 8}" y2="${y0 + 7}" stroke="${BORDER}"/>`);
  rows.slice(0, Math.floor((box.h - 60) / 20)).forEach((r, k) => {
    const y = y0 + 26 + k * 20;
    columns.forEach((c, i) => {
      const v = c === 'Value' ? fmt(r.Value, 'pps') : (r[c] ?? '');
      out.push(`<text x="${c === 'Value' ? xs[i] + widths[i] * (box.w - 24) - 8 : xs[i]}" y="${y}" fill="${TEXT}" font-size="12" text-anchor="${c === 'Value' ? 'end' : 'start'}"${c === 'symbol' ? ' font-family="monospace"' : ''}>${esc(v)}</text>`);
    });
  });
  return out.join('\n');
}

/** Splits text into lines of at most `width` characters, at spaces. */
function wrap(text, width) {
  const lines = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function renderSvg(dashboard, data, { t0, t1, notes: paragraphs }) {
  const notes = paragraphs.flatMap((n) => wrap(n, 200));
  const bottom = Math.max(...dashboard.panels.map((p) => p.gridPos.y + p.gridPos.h));
  const footer = 18 * notes.length + 16;
  const height = HEADER + bottom * ROW + footer;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Inter, Helvetica, Arial, sans-serif">`,
    `<title>${esc(dashboard.title)}: rendered by scripts/render-dashboard.mjs, not Grafana</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="${BG}"/>`,
    `<text x="16" y="28" fill="${TEXT}" font-size="20">${esc(dashboard.title)}</text>`,
    `<text x="16" y="50" fill="${MUTED}" font-size="12">${esc(`${new Date(t0).toISOString().slice(0, 19).replace('T', ' ')} to ${new Date(t1).toISOString().slice(11, 19)} UTC · namespace, node, policy: All · a rendering by scripts/render-dashboard.mjs, not Grafana`)}</text>`,
  ];
  for (const p of dashboard.panels) {
    const g = p.gridPos;
    const box = { x: g.x * COL + 4, y: HEADER + g.y * ROW + 4, w: g.w * COL - 8, h: g.h * ROW - 8 };
    if (p.type === 'row') {
      parts.push(`<text x="${box.x + 4}" y="${box.y + 16}" fill="${TEXT}" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
      continue;
    }
    parts.push(`<g>`, `<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" rx="3" fill="${PANEL}" stroke="${BORDER}"/>`);
    parts.push(`<text x="${box.x + 10}" y="${box.y + 19}" fill="${TEXT}" font-size="13" font-weight="bold">${esc(p.title)}</text>`);
    const results = data.get(p.id) ?? [];
    parts.push(p.type === 'table' ? drawTable(p, results, box) : drawTimeseries(p, results, box, { t0, t1 }));
    parts.push(`</g>`);
  }
  notes.forEach((n, i) => parts.push(`<text x="16" y="${HEADER + bottom * ROW + 18 + i * 18}" fill="${MUTED}" font-size="12">${esc(n)}</text>`));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

try {
  await main();
} catch (err) {
  console.error(`render-dashboard: ${err instanceof Error ? err.message : String(err)}`);
  for (const c of children) if (c.output()) console.error(`--- ${c.name} (last output) ---\n${c.output().slice(-2000)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
