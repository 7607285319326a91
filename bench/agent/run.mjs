// `make bench-agent`: the drop path's throughput with and without monitoring, side by side in
// one run (this machine is noisy, so only ratios within a run mean anything). Modes, interleaved
// per round: no monitoring; our agent (the real CLI reading the raw ring); bpftrace map
// aggregation; a text trace_pipe reader. Writes bench/results/agent-<stamp>.json and prints a
// markdown table for docs/performance.md. Needs root, gcc; bpftrace is optional.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TRACEFS = '/sys/kernel/tracing';

if (process.getuid?.() !== 0) {
  console.error('bench-agent needs root (tracefs, bpftrace)');
  process.exit(2);
}

// Build the flood generator outside the repo (never commit binaries).
const buildDir = mkdtempSync(path.join(os.tmpdir(), 'dwo-bench-'));
const flood = path.join(buildDir, 'flood');
execFileSync('gcc', ['-O2', '-o', flood, path.join(root, 'bench/agent/flood.c')]);
const cli = path.join(root, 'dist/cli/main.js');
if (!existsSync(cli)) throw new Error('run `make build` first');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function closedPort() {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

function noPorts() {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [h, v] = [lines[0].split(/\s+/), lines[1].split(/\s+/)];
  return Number(v[h.indexOf('NoPorts')]);
}

function runFlood(port) {
  const before = noPorts();
  const out = execFileSync(flood, [String(port), String(SECONDS)], { encoding: 'utf8' }).trim().split(' ');
  const drops = noPorts() - before;
  return { sent: Number(out[0]), seconds: Number(out[1]), drops, rate: drops / Number(out[1]) };
}

/** Samples a process's CPU time and peak RSS from /proc until it exits. */
function sampler(pid) {
  const tick = os.constants?.signals ? 100 : 100; // USER_HZ is 100 on Linux
  let last = { cpu: 0, hwmKb: 0 };
  const read = () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(f[11]) + Number(f[12])) / tick;
      const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      last = { cpu, hwmKb: hwm ? Number(hwm[1]) : last.hwmKb };
    } catch {
      /* exited */
    }
  };
  const t = setInterval(read, 50);
  return { mark: () => (read(), { ...last }), stop: () => (clearInterval(t), read(), { ...last }) };
}

async function modeNone(port) {
  return runFlood(port);
}

async function modeAgent(port) {
  const child = spawn(process.execPath, [cli, 'snapshot', '--seconds', String(SECONDS + 2), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      if (err.includes('watching')) resolve();
    });
    child.once('exit', () => reject(new Error(`agent exited early: ${err}`)));
  });
  const s = sampler(child.pid);
  const cpu0 = s.mark().cpu;
  const f = runFlood(port);
  const cpu1 = s.mark().cpu;
  await new Promise((r) => child.once('exit', r));
  const usage = s.stop();
  const snap = JSON.parse(out);
  const counted = snap.drops.filter((d) => d.reason === 'NO_SOCKET').reduce((a, d) => a + d.count, 0);
  const lost = snap.monitor.lostEvents;
  const generated = snap.snmp['Udp.NoPorts'];
  return {
    ...f,
    counted,
    lost,
    generated,
    unexplained: generated - counted - lost,
    cpuSeconds: cpu1 - cpu0,
    cpuSecondsPerMillionEvents: ((cpu1 - cpu0) / Math.max(1, counted + lost)) * 1e6,
    peakRssMb: usage.hwmKb / 1024,
  };
}

async function modeBpftrace(port) {
  const prog = 'tracepoint:skb:kfree_skb { @drops[args->location, args->reason] = count(); }';
  const child = spawn('bpftrace', ['-e', prog], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve, reject) => {
    const onData = () => out.includes('Attaching') && resolve();
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`bpftrace exited (${code})`)));
  });
  await sleep(300);
  const f = runFlood(port);
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
  const counted = [...out.matchAll(/\]: (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
  return { ...f, counted };
}

/** The tracepoint writing into a ring nobody reads: the floor any ring reader can reach. */
async function modeEnabledNoReader(port) {
  const inst = path.join(TRACEFS, 'instances', `dropwatch-bench-noreader-${process.pid}`);
  mkdirSync(inst);
  try {
    writeFileSync(path.join(inst, 'events/skb/kfree_skb/enable'), '1');
    const f = runFlood(port);
    writeFileSync(path.join(inst, 'events/skb/kfree_skb/enable'), '0');
    return f;
  } finally {
    execFileSync('rmdir', [inst]);
  }
}

async function modeTracePipe(port) {
  const inst = path.join(TRACEFS, 'instances', `dropwatch-bench-textpipe-${process.pid}`);
  mkdirSync(inst);
  try {
    writeFileSync(path.join(inst, 'events/skb/kfree_skb/enable'), '1');
    const reader = spawn('bash', ['-c', `cat ${inst}/trace_pipe | wc -l`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    reader.stdout.on('data', (d) => (out += d));
    await sleep(300);
    const f = runFlood(port);
    await sleep(500);
    writeFileSync(path.join(inst, 'events/skb/kfree_skb/enable'), '0');
    spawnSync('pkill', ['-f', `cat ${inst}/trace_pipe`]);
    await new Promise((r) => reader.once('exit', r));
    return { ...f, counted: Number(out.trim()) };
  } finally {
    for (let i = 0; i < 20; i++) {
      try {
        rmSync(inst, { recursive: false });
        break;
      } catch {
        try {
          execFileSync('rmdir', [inst]);
          break;
        } catch {
          await sleep(100);
        }
      }
    }
  }
}

const haveBpftrace = spawnSync('bpftrace', ['--version']).status === 0;
const modes = [
  ['none', modeNone],
  ['tracepoint-no-reader', modeEnabledNoReader],
  ['agent', modeAgent],
  ...(haveBpftrace ? [['bpftrace', modeBpftrace]] : []),
  ['trace_pipe', modeTracePipe],
];

const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const round = {};
  for (const [name, fn] of modes) {
    const port = await closedPort();
    round[name] = await fn(port);
    process.stderr.write(`round ${r + 1}/${ROUNDS} ${name}: ${Math.round(round[name].rate)} drops/s\n`);
    await sleep(500);
  }
  rounds.push(round);
}
rmSync(buildDir, { recursive: true, force: true });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = {};
for (const [name] of modes) {
  const rs = rounds.map((r) => r[name]);
  summary[name] = {
    dropsPerSecond: Math.round(median(rs.map((x) => x.rate))),
    ratio: Number(median(rounds.map((r) => r[name].rate / r.none.rate)).toFixed(3)),
    // Time this mode adds to each drop: 1/rate - 1/rate(none), in nanoseconds.
    addedNsPerDrop: Number(median(rounds.map((r) => 1e9 / r[name].rate - 1e9 / r.none.rate)).toFixed(1)),
  };
  if (name === 'agent') {
    Object.assign(summary[name], {
      cpuSecondsPerMillionEvents: Number(median(rs.map((x) => x.cpuSecondsPerMillionEvents)).toFixed(3)),
      peakRssMb: Number(Math.max(...rs.map((x) => x.peakRssMb)).toFixed(1)),
      generated: rs.reduce((a, x) => a + x.generated, 0),
      counted: rs.reduce((a, x) => a + x.counted, 0),
      lost: rs.reduce((a, x) => a + x.lost, 0),
      unexplained: rs.reduce((a, x) => a + x.unexplained, 0),
    });
  }
}
const result = {
  date: new Date().toISOString(),
  host: { kernel: os.release(), cpus: os.cpus().length, node: process.version },
  secondsPerRun: SECONDS,
  rounds: ROUNDS,
  summary,
  raw: rounds,
};
mkdirSync(path.join(root, 'bench/results'), { recursive: true });
const file = path.join(root, 'bench/results', `agent-${result.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + '\n');

const rows = Object.entries(summary).map(([name, s]) =>
  `| ${name} | ${s.dropsPerSecond.toLocaleString('en-US')} | ${s.ratio.toFixed(3)} | ${s.addedNsPerDrop} | ${s.cpuSecondsPerMillionEvents ?? ''} | ${s.peakRssMb ?? ''} |`);
console.log(`\nkernel ${result.host.kernel}, ${result.host.cpus} CPUs, ${ROUNDS} rounds x ${SECONDS} s, median per mode\n`);
console.log('| mode | drops/s | ratio to none | ns added per drop | agent CPU s per 1M events | agent peak RSS MiB |');
console.log('|---|---|---|---|---|---|');
console.log(rows.join('\n'));
const a = summary.agent;
console.log(`\nagent accounting over all rounds: generated ${a.generated}, counted ${a.counted}, lost ${a.lost}, unexplained ${a.unexplained}`);
console.log(`results: ${path.relative(root, file)}`);
