import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { DropWatchPolicySpec } from '../api/generated/types.js';
import { agentArgs, AGENT_SUBCOMMAND } from '../domain/daemonset-plan.js';
import { DwoError } from '../runtime/errors.js';
import { AGENT_OPTIONS, agentConfigFromFlags } from './agent.js';

// The monitor flags main.ts declares for every command, which the agent shares.
const SHARED = {
  'ignore-reason': { type: 'string', multiple: true },
  interface: { type: 'string', multiple: true },
  'tracefs-root': { type: 'string' },
  'buffer-size-kb': { type: 'string' },
} as const;

const parse = (args: string[]) => parseArgs({ args, allowPositionals: true, strict: true, options: { ...SHARED, ...AGENT_OPTIONS } });

const spec: DropWatchPolicySpec = {
  nodeSelector: { matchLabels: { 'dropwatch.dev/sensor': 'span' } },
  samplingInterval: '500ms',
  reportInterval: '15s',
  heartbeatInterval: '1m',
  sources: { tracepoint: { enabled: true, bufferSizeKb: 4096 }, histTriggers: { enabled: false }, counters: { enabled: true } },
  ignoreReasons: ['OTHERHOST'],
  interfaces: ['ens1f0', 'ens1f1'],
  agent: { securityMode: 'leastPrivilege', metricsPort: 9847 },
};

describe('agent flags', () => {
  it('accepts exactly the command line the operator DaemonSet gives the agent', () => {
    // Kubernetes expands $(NODE_NAME) from the downward API before the agent starts.
    const args = agentArgs('span-sensors', spec).map((a) => (a === '$(NODE_NAME)' ? 'sensor-7' : a));
    const { values, positionals } = parse(args);
    expect(positionals).toEqual([AGENT_SUBCOMMAND]);
    const c = agentConfigFromFlags(values);
    expect(c).toMatchObject({
      policy: 'span-sensors',
      nodeName: 'sensor-7',
      samplingIntervalMs: 500,
      reportIntervalMs: 15_000,
      heartbeatIntervalMs: 60_000,
      sources: ['tracepoint', 'counters'],
      metrics: { host: '0.0.0.0', port: 9847 },
    });
    expect(c.kubeconfig).toBeUndefined();
    expect(c.monitor).toMatchObject({
      source: 'tracefs',
      pollIntervalMs: 500,
      bufferSizeKb: 4096,
      tracefsRoot: '/host/sys/kernel/tracing',
      ignoreReasons: ['OTHERHOST'],
      interfaces: ['ens1f0', 'ens1f1'],
    });
  });

  it('takes --kubeconfig and --metrics-bind-address', () => {
    const { values } = parse(['agent', '--policy', 'p', '--node-name', 'n', '--kubeconfig', '/k', '--metrics-bind-address', '127.0.0.1:0']);
    expect(agentConfigFromFlags(values)).toMatchObject({ kubeconfig: '/k', metrics: { host: '127.0.0.1', port: 0 } });
  });

  it.each([
    [['agent', '--node-name', 'n'], 'DWO_E_USAGE', /^--policy is required/],
    [['agent', '--policy', 'p'], 'DWO_E_USAGE', /^--node-name is required/],
    [['agent', '--policy', 'p', '--node-name', 'n', '--heartbeat-interval', 'soon'], 'DWO_E_CONFIG', /^--heartbeat-interval: invalid duration "soon"/],
    [['agent', '--policy', 'p', '--node-name', 'n', '--sources', 'tracepoint,ebpf'], 'DWO_E_CONFIG', /^--sources/],
    [['agent', '--policy', 'p', '--node-name', 'n', '--buffer-size-kb', 'big'], 'DWO_E_USAGE', /^--buffer-size-kb must be a number/],
  ])('%j -> %s', (args, code, message) => {
    let err: unknown;
    try {
      agentConfigFromFlags(parse(args).values);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DwoError);
    expect((err as DwoError).code).toBe(code);
    expect((err as DwoError).message).toMatch(message);
  });
});

describe('agent --metrics-only', () => {
  it('needs neither a policy nor a node name, and talks to no API server', () => {
    const c = agentConfigFromFlags(parse(['agent', '--metrics-only', '--metrics-bind-address', ':9847']).values);
    expect(c).toMatchObject({ metricsOnly: true, metrics: { host: '0.0.0.0', port: 9847 } });
    expect(c.policy).toBeUndefined();
    expect(c.kubeconfig).toBeUndefined();
  });

  it('refuses a policy or a kubeconfig next to it, naming both flags', () => {
    const err = (args: string[]) => {
      try {
        agentConfigFromFlags(parse(args).values);
      } catch (e) {
        return e as DwoError;
      }
      throw new Error('accepted');
    };
    const a = err(['agent', '--metrics-only', '--policy', 'p', '--node-name', 'n']);
    expect(a.code).toBe('DWO_E_USAGE');
    expect(a.message).toMatch(/--metrics-only and --policy exclude each other/);
    const b = err(['agent', '--metrics-only', '--kubeconfig', '/tmp/kc']);
    expect(b.message).toMatch(/--metrics-only and --kubeconfig/);
    // Without --metrics-only the policy stays required.
    expect(err(['agent', '--node-name', 'n']).message).toMatch(/--policy is required/);
  });
});
