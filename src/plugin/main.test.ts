import { describe, expect, it } from 'vitest';
import { DwoError } from '../runtime/errors.js';
import type { PluginKubeConfigSource } from '../k8s/plugin-reads.js';
import { runPlugin, type PluginContext, type PluginReads } from './main.js';
import type { ReportInput } from './view.js';

const NOW = new Date('2026-11-25T12:00:00Z');

const report = (node: string, rate: number): ReportInput => ({
  apiVersion: 'dropwatch.dev/v1alpha1',
  kind: 'DropWatchNodeReport',
  metadata: { name: `p.${node}` },
  spec: { policy: 'p', nodeName: node },
  status: { lastHeartbeatTime: NOW.toISOString(), window: { seconds: 1 }, totals: { drops: rate, dropsPerSecond: rate }, drops: [{ symbol: 'f', reason: 'NO_SOCKET', layer: 'transport', count: rate, rate }] },
});

/** A fake reader (unit tier); the real one is exercised by test/integration/kubectl-plugin.test.ts. */
function fake(over: Partial<PluginReads> = {}): { reads: PluginReads; calls: string[] } {
  const calls: string[] = [];
  const reads: PluginReads = {
    listReports: async (filter) => {
      calls.push(`reports:${filter?.policy ?? '*'}:${filter?.nodeName ?? '*'}`);
      return [report('a', 5), report('b', 50)];
    },
    listPolicies: async () => [],
    listNodes: async () => [],
    getNode: async () => undefined,
    nodeEvents: async () => [],
    ...over,
  };
  return { reads, calls };
}

async function run(argv: string[], reads: PluginReads = fake().reads, env: PluginContext['env'] = {}) {
  let out = '';
  let err = '';
  let source: PluginKubeConfigSource | undefined;
  const code = await runPlugin(argv, {
    env, delimiter: ':', now: () => NOW,
    out: (t) => { out += t; },
    err: (t) => { err += t; },
    reader: (s) => { source = s; return reads; },
  });
  return { code, out, err, source };
}

const usageOf = async (argv: string[]): Promise<string> => {
  try {
    await run(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(DwoError);
    expect((e as DwoError).code).toBe('DWO_E_USAGE');
    expect((e as DwoError).fix).toContain('kubectl dropwatch --help');
    return (e as DwoError).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};

describe('runPlugin', () => {
  it('prints help: exit 2 without a command, 0 with --help, per-command help', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['--help'])).code).toBe(0);
    const h = await run(['top', '-h']);
    expect(h.code).toBe(0);
    expect(h.out).toContain('kubectl dropwatch top [--policy P] [-n N]');
  });

  it.each([
    [['frob'], 'unknown command "frob"'],
    [['nodes', 'extra'], 'nodes takes no arguments'],
    [['node'], 'node needs a NAME'],
    [['node', 'a', 'b'], 'node takes one NAME'],
    [['nodes', '--sort', 'age'], '--sort must be rate or name'],
    [['nodes', '-o', 'table'], '--output must be one of wide, json, yaml'],
    [['node', 'a', '-o', 'wide'], '--output must be one of json, yaml'],
    [['top', '-n', '0'], '-n/--limit must be a positive integer'],
    [['top', '--sort', 'name'], 'top does not take --sort'],
    [['node', 'a', '--no-headers'], 'node does not take --no-headers'],
    [['nodes', '--bogus'], "Unknown option '--bogus'"],
  ])('rejects %j', async (argv, message) => {
    expect(await usageOf(argv)).toContain(message);
  });

  it('passes --kubeconfig, --context and KUBECONFIG/HOME to the kubeconfig loader', async () => {
    const r = await run(['nodes', '--kubeconfig', '/k', '--context', 'c'], fake().reads, { KUBECONFIG: '/a:/b', HOME: '/home/u' });
    expect(r.source).toEqual({ delimiter: ':', kubeconfig: '/k', context: 'c', kubeconfigEnv: '/a:/b', homeConfig: '/home/u/.kube/config' });
  });

  it('reads one policy with --policy and prints the table', async () => {
    const { reads, calls } = fake();
    const r = await run(['nodes', '--policy', 'p'], reads);
    expect(calls).toEqual(['reports:p:*']);
    expect(r.out.split('\n').slice(1, 3).map((l) => l.split(/\s+/)[0])).toEqual(['b', 'a']);
  });

  it('warns and carries on when policies or Nodes are forbidden', async () => {
    const forbidden = async (): Promise<never> => {
      throw new DwoError('DWO_E_API_FORBIDDEN', 'nodes is forbidden');
    };
    const r = await run(['nodes', '-o', 'json'], fake({ listNodes: forbidden, listPolicies: forbidden }).reads);
    expect(r.err).toContain('warning: cannot read Nodes (DWO_E_API_FORBIDDEN)');
    expect(r.err).toContain('warning: cannot read DropWatchPolicies (DWO_E_API_FORBIDDEN)');
    expect((JSON.parse(r.out) as { nodes: unknown[] }).nodes).toHaveLength(2);
  });

  it('fails when the reports themselves cannot be read', async () => {
    const unavailable = fake({ listReports: async () => Promise.reject(new DwoError('DWO_E_API_UNAVAILABLE', 'refused')) }).reads;
    await expect(run(['top'], unavailable)).rejects.toMatchObject({ code: 'DWO_E_API_UNAVAILABLE' });
  });

  it('node NAME without a report: DWO_E_REPORT_NOT_FOUND saying whether the Node exists', async () => {
    await expect(run(['node', 'zz'])).rejects.toMatchObject({ code: 'DWO_E_REPORT_NOT_FOUND', message: expect.stringContaining('no Node named zz exists either') });
    const withNode = fake({ getNode: async (name) => ({ name, labels: {}, conditions: [] }) }).reads;
    await expect(run(['node', 'zz', '--policy', 'p'], withNode)).rejects.toMatchObject({
      message: 'no DropWatchNodeReport for node zz and policy p; the Node exists, but no agent reports for it under this policy',
    });
  });

  it('node NAME asks the API server for that node\'s reports only', async () => {
    const { reads, calls } = fake();
    const r = await run(['node', 'b', '--policy', 'p', '-o', 'json'], reads);
    expect(calls).toEqual(['reports:p:b']);
    expect((JSON.parse(r.out) as { reports: { row: { node: string } }[] }).reports.map((x) => x.row.node)).toEqual(['b']);
  });

  it('top -n limits the sites, -o yaml prints YAML', async () => {
    const r = await run(['top', '-n', '1', '-o', 'yaml']);
    expect(r.out).toMatch(/^sites:\n {2}- symbol: f\n/);
    expect(r.out).toMatch(/dropsPerSecond: 55\n/);
  });
});
