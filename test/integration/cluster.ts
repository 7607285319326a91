// Test harness for the real local control plane (hack/controlplane.sh): starts it once per test
// run (idempotent; binaries come from the version-keyed cache), and runs kubectl against it.
// Used by integration and e2e tests; never mocks the API server.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(repoRoot, 'hack/controlplane.sh');

export interface Cluster {
  readonly kubeconfig: string;
  readonly binDir: string;
  /** Runs kubectl; resolves with stdout, rejects with an error whose message includes stderr. */
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /** Runs kubectl and returns exit code, stdout and stderr without throwing. */
  kubectlResult(args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
}

let cached: Cluster | undefined;

/** Starts (or reuses) the control plane and returns a handle to it. */
export function ensureCluster(): Cluster {
  if (cached) return cached;
  execFileSync('bash', [script, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const kubeconfig = execFileSync('bash', [script, 'kubeconfig'], { encoding: 'utf8' }).trim();
  const binDir = execFileSync('bash', [script, 'bin-dir'], { encoding: 'utf8' }).trim();
  const kubectlBin = path.join(binDir, 'kubectl');
  const kubectlResult = (args: readonly string[], input?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      if (input !== undefined) child.stdin?.end(input);
      else child.stdin?.end();
    });
  cached = {
    kubeconfig,
    binDir,
    kubectlResult,
    async kubectl(args, input) {
      const r = await kubectlResult(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return r.stdout;
    },
  };
  return cached;
}

/** Runs a helper command from the control plane's bin directory (helm, kwok). */
export async function runBin(name: string, args: readonly string[]): Promise<string> {
  const c = ensureCluster();
  const { stdout } = await execFileP(path.join(c.binDir, name), [...args], { env: { ...process.env, KUBECONFIG: c.kubeconfig } });
  return stdout;
}

/**
 * Writes a kubeconfig (mode 0600) that reaches `c` with a bearer token instead of the admin's
 * client certificate: same server and CA, user `user`. Returns `file`. For tests that act as a
 * ServiceAccount (a token from `kubectl create token`).
 */
export function writeTokenKubeconfig(c: Cluster, file: string, user: string, token: string): string {
  const admin = readFileSync(c.kubeconfig, 'utf8');
  const server = /server: (\S+)/.exec(admin)?.[1] ?? '';
  const ca = /certificate-authority: (\S+)/.exec(admin)?.[1] ?? '';
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority': ca } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: 'local', user } }],
    'current-context': user,
  }), { mode: 0o600 });
  return file;
}
