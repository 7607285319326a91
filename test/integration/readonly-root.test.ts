// The images promise a read-only root filesystem (Dockerfile, the chart's and the DaemonSet's
// readOnlyRootFilesystem). Without a container engine here, this test gives the real processes
// the same world: a private mount namespace whose root is remounted read-only (so /tmp, /app and
// the working directory are read-only too), with /proc, /sys, /dev and the host's tracefs left as
// the separate mounts a pod also has. The agent then takes a real snapshot, and the operator
// campaigns for its Lease and runs its controller against the real API server, then stops cleanly.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCluster, repoRoot, type Cluster } from './cluster.js';
import { cliPath, ourInstances } from './helpers/kernel.js';
import { eventually } from './helpers/wait.js';

const execFileP = promisify(execFile);

/** argv that runs `cmd` in a private mount namespace with a read-only root. */
function readOnlyRoot(cmd: readonly string[]): string[] {
  // "$@" keeps the arguments intact; remount,bind,ro changes only this namespace's copy of /.
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -o remount,bind,ro / && exec "$@"', 'ro-root', ...cmd];
}

const NS = `dwot-roroot-${process.pid}`;
let cluster: Cluster;

beforeAll(async () => {
  cluster = ensureCluster();
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', `${repoRoot}/crds/`]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/dropwatchpolicies.dropwatch.dev', 'crd/dropwatchnodereports.dropwatch.dev']);
  await cluster.kubectl(['create', 'namespace', NS]);
});
afterAll(async () => {
  await cluster.kubectlResult(['delete', 'namespace', NS, '--wait=false']);
});

describe('read-only root filesystem', () => {
  it('the harness really makes the root read-only (and leaves the host alone)', async () => {
    const [bin, ...args] = readOnlyRoot(['touch', `/tmp/dwot-ro-${process.pid}`]);
    const r = await execFileP(bin!, args).then(
      () => ({ ok: true, stderr: '' }),
      (e: { stderr: string }) => ({ ok: false, stderr: e.stderr }),
    );
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/Read-only file system/);
    // Outside the namespace / is still writable.
    await execFileP('touch', [`/tmp/dwot-ro-${process.pid}`]);
    await execFileP('rm', ['-f', `/tmp/dwot-ro-${process.pid}`]);
  });

  it('the agent takes a snapshot (tracefs instance made and removed) with nothing writable but tracefs', async () => {
    const before = new Set(ourInstances());
    const [bin, ...args] = readOnlyRoot([process.execPath, cliPath, 'snapshot', '--seconds', '1', '--json']);
    const { stdout } = await execFileP(bin!, args, { maxBuffer: 16 << 20 });
    const snap = JSON.parse(stdout) as { sources: { kind?: string }[] | Record<string, unknown>; window: { seconds: number } };
    expect(snap.window.seconds).toBeGreaterThan(0.5);
    expect(stdout).toMatch(/tracefs-ring|hist/);
    expect(ourInstances().filter((n) => !before.has(n))).toEqual([]);
  });

  it('the operator takes its Lease, runs its controller and stops cleanly', async () => {
    const [bin, ...args] = readOnlyRoot([
      process.execPath, cliPath, 'operator', '--kubeconfig', cluster.kubeconfig, '--namespace', NS,
      '--agent-image', 'registry.invalid/dropwatch-agent:ro', '--identity', 'ro-root', '--metrics-bind-address', '127.0.0.1:0',
    ]);
    const child = spawn(bin!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('close', r));
    try {
      await eventually('the operator to lead and sync its caches', 30_000, () => (log.includes('Caches synced; controller running') ? true : undefined));
      const holder = await cluster.kubectl(['-n', NS, 'get', 'lease', 'dropwatch-operator', '-o', 'jsonpath={.spec.holderIdentity}']);
      expect(holder).toBe('ro-root');
    } finally {
      child.kill('SIGTERM');
    }
    // 143 = 128 + SIGTERM: the operator exits with the signal's code after its clean shutdown (src/runtime/shutdown.ts).
    expect(await exited).toBe(143);
    expect(log).toMatch(/"msg":"Stopped"/);
    expect(log).not.toMatch(/EROFS|read-only file system/i);
  });
});
