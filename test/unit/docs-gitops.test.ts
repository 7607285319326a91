// The Argo CD health check (gitops/argocd/health.lua) on DropWatchPolicy objects recorded from the
// real operator (gitops/argocd/testdata, written by test/integration/gitops.test.ts), plus edge
// cases built by hand, run with lua5.4 the way Argo CD runs it; and the argocd-cm snippet must
// carry exactly that script.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { evaluateHealth, toLua } from '../../gitops/argocd/harness.mjs';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../gitops/argocd');

interface HealthTests {
  tests: { healthStatus: { status: string; message: string }; inputPath: string }[];
}

const recorded = parse(readFileSync(path.join(dir, 'health_test.yaml'), 'utf8')) as HealthTests;

describe('Argo CD health check on recorded policies', () => {
  it('covers every health status the script can return', () => {
    expect(new Set(recorded.tests.map((t) => t.healthStatus.status))).toEqual(new Set(['Healthy', 'Progressing', 'Degraded']));
  });

  for (const t of recorded.tests) {
    it(`${t.inputPath} -> ${t.healthStatus.status}`, () => {
      const obj: unknown = parse(readFileSync(path.join(dir, t.inputPath), 'utf8'));
      expect(evaluateHealth(obj)).toEqual(t.healthStatus);
    });
  }
});

const readyPolicy = (): Record<string, unknown> =>
  parse(readFileSync(path.join(dir, 'testdata/ready.yaml'), 'utf8')) as Record<string, unknown>;

describe('Argo CD health check edge cases', () => {
  it('ignores conditions computed for an older generation', () => {
    const p = readyPolicy() as { metadata: { generation: number }; status: { observedGeneration: number } };
    // The status says generation 3 but the Ready condition is from generation 2: not Healthy.
    p.metadata.generation = 3;
    p.status.observedGeneration = 3;
    expect(evaluateHealth(p)).toEqual({ status: 'Progressing', message: 'no Ready condition for generation 3 yet' });
  });

  it('prefers Stalled over Degraded over Ready', () => {
    const p = readyPolicy() as { status: { conditions: { type: string; status: string; reason: string; message: string }[] } };
    const set = (type: string, status: string, reason: string, message: string) => {
      const c = p.status.conditions.find((x) => x.type === type);
      if (c === undefined) throw new Error(`no ${type}`);
      Object.assign(c, { status, reason, message });
    };
    set('Degraded', 'True', 'NodesStale', '1 node stopped reporting (n1)');
    expect(evaluateHealth(p)).toEqual({ status: 'Degraded', message: 'Degraded True (NodesStale): 1 node stopped reporting (n1)' });
    set('Stalled', 'True', 'InvalidSpec', 'DWO_E_CONFIG: bad');
    expect(evaluateHealth(p)).toEqual({ status: 'Degraded', message: 'Stalled True (InvalidSpec): DWO_E_CONFIG: bad' });
  });

  it('reports a Degraded condition during a rollout as Progressing, with both messages', () => {
    const p = readyPolicy() as { status: { conditions: { type: string; status: string; reason: string; message: string }[] } };
    for (const [type, status, reason, message] of [
      ['Reconciling', 'True', 'RollingOut', 'DaemonSet d: 0 of 2 updated, 0 available'],
      ['Degraded', 'True', 'AgentsNotScheduled', 'the DaemonSet schedules agents on 0 of 2 matching nodes'],
      ['Ready', 'False', 'RollingOut', 'DaemonSet d: 0 of 2 updated, 0 available'],
    ] as const) {
      const c = p.status.conditions.find((x) => x.type === type);
      if (c === undefined) throw new Error(`no ${type}`);
      Object.assign(c, { status, reason, message });
    }
    expect(evaluateHealth(p)).toEqual({
      status: 'Progressing',
      message: 'Reconciling True (RollingOut): DaemonSet d: 0 of 2 updated, 0 available; Degraded True (AgentsNotScheduled): the DaemonSet schedules agents on 0 of 2 matching nodes',
    });
  });

  it('keeps non-ASCII text and quotes intact through the Lua literal', () => {
    const p = readyPolicy() as { status: { conditions: { type: string; message: string }[] } };
    const ready = p.status.conditions.find((c) => c.type === 'Ready');
    if (ready === undefined) throw new Error('no Ready');
    ready.message = 'nodes a, b, … "quoted" \\ back\nslash';
    expect(evaluateHealth(p).message).toBe('Ready True (AgentsReady): nodes a, b, … "quoted" \\ back\nslash');
    expect(toLua({ a: null, b: [1, 'x'] })).toBe('{["b"] = {1, "x"}}');
  });
});

describe('argocd-cm snippet', () => {
  it('embeds exactly gitops/argocd/health.lua under the DropWatchPolicy key', () => {
    const cm = parse(readFileSync(path.join(dir, 'argocd-cm.yaml'), 'utf8')) as { data: Record<string, string> };
    expect(Object.keys(cm.data)).toEqual(['resource.customizations.health.dropwatch.dev_DropWatchPolicy']);
    expect(cm.data['resource.customizations.health.dropwatch.dev_DropWatchPolicy']).toBe(readFileSync(path.join(dir, 'health.lua'), 'utf8'));
  });
});
