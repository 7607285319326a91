#!/usr/bin/env node
// The `dropwatch-operator` command: `snapshot` (one window, text or JSON) and `top` (live view)
// on one host, no Kubernetes needed, and `agent` (publish mode, run by the operator's DaemonSet).
// Parses flags, validates them once, and runs the monitor or the agent.
import { parseArgs } from 'node:util';
import { parseMonitorConfig, type MonitorConfig } from '../config/agent.js';
import { CATALOGUE, DwoError, toDwoError } from '../runtime/errors.js';
import { DropMonitor } from '../agent/monitor.js';
import { renderSnapshot } from './render.js';
import { runTop } from './top.js';
import { AGENT_HELP, AGENT_OPTIONS, AGENT_USAGE, agentCommand } from './agent.js';
import { onShutdown, runShutdown } from '../runtime/shutdown.js';
import { operatorCommand } from '../operator/main.js';

export const VERSION = '0.1.0';

const HELP = `dropwatch-operator ${VERSION}: where is this host losing packets, and what to tune

Usage:
  dropwatch-operator snapshot [--seconds N] [--json] [options]   one window of drops
  dropwatch-operator top [options]                               live view, refreshed each second (q quits)
${AGENT_USAGE}
  dropwatch-operator operator --namespace NS --agent-image IMG [...]   the policy controller (operator --help)
  dropwatch-operator version

${AGENT_HELP}
Options:
  --seconds N            window length for snapshot (default 5)
  --json                 print the snapshot as JSON (the node report body)
  --ignore-reason R      drop reason to filter out in the kernel, repeatable (e.g. OTHERHOST)
  --reason R             record only this drop reason, repeatable (filtered in the kernel)
  --interface IF         interface whose counters to read, repeatable (default: all)
  --source S             auto | hist | tracefs | counters (default auto: the best this kernel has)
  --tracefs-root DIR     where tracefs is mounted (default: found, or mounted at /sys/kernel/tracing)
  --buffer-size-kb N     per-CPU ring size of our tracefs instance (default 2048)
  --poll-interval-ms N   how often the ring is drained (default 25; faster while busy)
  --top N                sites to keep (default 50)

Needs root (tracefs and kernel symbols). Without a kernel drop source, use --source counters.
`;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        seconds: { type: 'string' },
        json: { type: 'boolean' },
        'ignore-reason': { type: 'string', multiple: true },
        reason: { type: 'string', multiple: true },
        interface: { type: 'string', multiple: true },
        source: { type: 'string' },
        'tracefs-root': { type: 'string' },
        'buffer-size-kb': { type: 'string' },
        'poll-interval-ms': { type: 'string' },
        top: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...AGENT_OPTIONS,
      },
    });
  } catch (err) {
    throw new DwoError('DWO_E_USAGE', (err as Error).message);
  }
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new DwoError('DWO_E_USAGE', `--${flag} must be a number, got "${v}"`);
  return n;
}

function monitorConfig(values: ReturnType<typeof parseFlags>['values']): MonitorConfig {
  const raw: Record<string, unknown> = {
    ignoreReasons: values['ignore-reason'] ?? [],
    onlyReasons: values.reason ?? [],
    interfaces: values.interface ?? [],
  };
  if (values.source !== undefined) raw['source'] = values.source;
  if (values['tracefs-root'] !== undefined) raw['tracefsRoot'] = values['tracefs-root'];
  const buf = num('buffer-size-kb', values['buffer-size-kb']);
  if (buf !== undefined) raw['bufferSizeKb'] = buf;
  const poll = num('poll-interval-ms', values['poll-interval-ms']);
  if (poll !== undefined) raw['pollIntervalMs'] = poll;
  const top = num('top', values.top);
  if (top !== undefined) raw['maxSites'] = top;
  return parseMonitorConfig(raw);
}

/** A monitor for the CLI: refuses to run blind unless counters-only was asked for. */
async function startMonitor(config: MonitorConfig): Promise<DropMonitor> {
  const m = await DropMonitor.start(config);
  onShutdown(() => m.close());
  if (m.sourceInfo.kind === 'counters-only' && config.source !== 'counters') {
    await m.close();
    const notRoot = typeof process.getuid === 'function' && process.getuid() !== 0;
    throw new DwoError(notRoot ? 'DWO_E_NOT_ROOT' : 'DWO_E_TRACEFS_PERMISSION', `no kernel drop source: ${m.sourceInfo.reason}`, {
      fix: `${notRoot ? 'Run as root (sudo). ' : ''}Or run with --source counters for NIC, softnet and snmp counters only.`,
    });
  }
  return m;
}

async function snapshot(values: ReturnType<typeof parseFlags>['values']): Promise<void> {
  const seconds = num('seconds', values.seconds) ?? 5;
  if (!(seconds > 0 && seconds <= 86_400)) throw new DwoError('DWO_E_USAGE', `--seconds must be between 0 and 86400, got ${seconds}`);
  const config = monitorConfig(values);
  const m = await startMonitor(config);
  try {
    process.stderr.write(`dropwatch-operator: watching kernel drops for ${seconds} s (source ${m.sourceInfo.kind})\n`);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const snap = await m.snapshot();
    process.stdout.write(values.json ? JSON.stringify(snap, null, 2) + '\n' : renderSnapshot(snap, { width: process.stdout.columns ?? 140 }) + '\n');
  } finally {
    await m.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  // The operator has flags of its own, parsed by src/operator/main.ts.
  if (argv[0] === 'operator') return operatorCommand(argv.slice(1), VERSION);
  const { values, positionals } = parseFlags(argv);
  const cmd = positionals[0];
  if (values.help || cmd === undefined || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd === undefined && !values.help ? 2 : 0;
  }
  switch (cmd) {
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case 'snapshot':
      await snapshot(values);
      return 0;
    case 'agent':
      await agentCommand(values, VERSION);
      return 0;
    case 'top': {
      const m = await startMonitor(monitorConfig(values));
      try {
        await runTop(m);
      } finally {
        await m.close();
      }
      return 0;
    }
    default:
      throw new DwoError('DWO_E_USAGE', `unknown command "${cmd}"`, { fix: 'Commands: snapshot, top, agent, version. See --help.' });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (err: unknown) => {
    const e = toDwoError(err);
    process.stderr.write(`error ${e.format()}\n`);
    await runShutdown();
    process.exit(CATALOGUE[e.code].exitCode);
  },
);

