// Integration-tier global setup: nothing is started eagerly. Kernel tests need only root and
// tracefs; API-server tests call ensureCluster() from ./cluster.ts, which starts the control
// plane on first use. Teardown stops it unless DWO_KEEP_CLUSTER=1.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): () => void {
  return () => {
    if (process.env['DWO_KEEP_CLUSTER'] === '1') return;
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    try {
      execFileSync('bash', [path.join(root, 'hack/controlplane.sh'), 'down'], { stdio: 'ignore' });
    } catch {
      // nothing was running
    }
  };
}
