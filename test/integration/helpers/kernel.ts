// Helpers for kernel tests: closed ports, UDP senders, network namespaces and veth pairs that
// the test creates and removes, and a runner for the real CLI. Everything made here is cleaned
// up by the returned handles; names carry a "dwot" prefix so leftovers are recognisable.
import { execFile, execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../cluster.js';

const execFileP = promisify(execFile);
const sender = path.join(repoRoot, 'test/integration/helpers/udp-send.mjs');
export const cliPath = path.join(repoRoot, 'dist/cli/main.js');

/** A UDP port on 127.0.0.1 that nothing listens on (bound, read, then released). */
export async function closedUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Sends `count` datagrams, optionally inside a network namespace; resolves with the number sent. */
export async function sendUdp(host: string, port: number, count: number, opts: { netns?: string; burst?: number } = {}): Promise<number> {
  const args = [sender, host, String(port), String(count), String(opts.burst ?? 50)];
  const { stdout } = opts.netns
    ? await execFileP('ip', ['netns', 'exec', opts.netns, process.execPath, ...args])
    : await execFileP(process.execPath, args);
  return Number(stdout.trim());
}

export function sh(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A network namespace made for one test; remove() deletes it (and its veth ends). */
export interface Netns {
  readonly name: string;
  exec(cmd: string, args: readonly string[]): string;
  remove(): void;
}

export function makeNetns(tag: string): Netns {
  const name = `dwot-${tag}-${randomBytes(3).toString('hex')}`;
  sh('ip', ['netns', 'add', name]);
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    exec: (cmd, args) => sh('ip', ['netns', 'exec', name, cmd, ...args]),
    remove: () => {
      try {
        sh('ip', ['netns', 'del', name]);
      } catch {
        // already gone
      }
    },
  };
}

/** Result of one `dropwatch-operator snapshot --json` run. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Starts `dropwatch-operator snapshot`, waits until it reports it is watching, runs `during`
 * (which makes the drops), then waits for the window to end.
 */
export async function snapshotDuring(args: readonly string[], during: () => Promise<void>): Promise<CliRun> {
  const child = spawn(process.execPath, [cliPath, 'snapshot', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('watching')) resolve();
    });
    child.once('exit', () => reject(new Error(`CLI exited before it was ready: ${stderr}`)));
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  try {
    await ready;
    await during();
  } catch (err) {
    child.kill('SIGTERM');
    await exited;
    throw err;
  }
  const code = await exited;
  return { code, stdout, stderr };
}

/** Names of tracefs instances that look like ours. */
export function ourInstances(): string[] {
  try {
    return sh('ls', ['/sys/kernel/tracing/instances']).split('\n').filter((n) => n.startsWith('dropwatch-'));
  } catch {
    return [];
  }
}
