// Integration-tier global setup: nothing is started eagerly. Kernel tests need only root and
// tracefs; API-server tests call ensureCluster() from ./cluster.ts, which starts the control
// plane on first use. Teardown stops it only if this run started it (a cluster someone brought
// up with `make cluster-up` is left alone), and never when DWO_KEEP_CLUSTER=1.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../hack/controlplane.sh');

function running(): boolean {
  try {
    execFileSync('bash', [script, 'status'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export default function setup(): () => void {
  const wasRunning = running();
  return () => {
    if (wasRunning || process.env['DWO_KEEP_CLUSTER'] === '1') return;
    try {
      execFileSync('bash', [script, 'down'], { stdio: 'ignore' });
    } catch {
      // nothing was running
    }
  };
}
