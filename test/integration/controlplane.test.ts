// The local control plane is real: kwok fake nodes with labels and taints register, and a
// DaemonSet gets Running pods on exactly the nodes it selects and tolerates (the controller
// manager creates the pods, the scheduler binds them, kwok runs them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCluster, type Cluster } from './cluster.js';
import { waitFor } from './helpers/wait.js';

const ns = 'dwo-cp-test';
let c: Cluster;

const node = (name: string, labels: Record<string, string>, taints: string) => `
apiVersion: v1
kind: Node
metadata:
  name: ${name}
  annotations: {kwok.x-k8s.io/node: fake}
  labels: ${JSON.stringify({ ...labels, 'dwo-test': 'controlplane' })}
spec:
  taints: ${taints}
`;

describe('local control plane', () => {
  beforeAll(async () => {
    c = ensureCluster();
    await c.kubectl(['create', 'namespace', ns]);
  });
  afterAll(async () => {
    await c.kubectlResult(['delete', 'namespace', ns, '--wait=false']);
    await c.kubectlResult(['delete', 'nodes', '-l', 'dwo-test=controlplane']);
  });

  it('serves the version it was built as, on loopback', async () => {
    const v = JSON.parse(await c.kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
    expect(v.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    const cfg = await c.kubectl(['config', 'view', '-o', 'jsonpath={.clusters[0].cluster.server}']);
    expect(cfg).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('runs a DaemonSet on exactly the matching, tolerated kwok nodes', async () => {
    const taint = '[{key: dedicated, value: ids, effect: NoSchedule}]';
    await c.kubectl(['apply', '-f', '-'], [
      node('cp-sensor-a', { role: 'sensor' }, '[]'),
      node('cp-sensor-tainted', { role: 'sensor' }, taint),
      node('cp-sensor-tainted-untolerated', { role: 'sensor', pool: 'other' }, '[{key: other, value: x, effect: NoSchedule}]'),
      node('cp-web', { role: 'web' }, '[]'),
    ].join('\n---\n'));
    await c.kubectl(['apply', '-f', '-'], `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: probe, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec:
      nodeSelector: {role: sensor, dwo-test: controlplane}
      tolerations: [{key: dedicated, operator: Equal, value: ids, effect: NoSchedule}]
      containers: [{name: c, image: example.invalid/probe:1}]
`);
    const running = await waitFor('2 running pods', async () => {
      const out = await c.kubectl(['-n', ns, 'get', 'pods', '-o', 'jsonpath={range .items[*]}{.spec.nodeName}={.status.phase}{"\\n"}{end}']);
      const rows = out.trim().split('\n').filter(Boolean);
      return rows.length === 2 && rows.every((r) => r.endsWith('=Running')) ? rows : undefined;
    });
    expect(running.map((r) => r.split('=')[0]).sort()).toEqual(['cp-sensor-a', 'cp-sensor-tainted']);
  });
});
