import { describe, expect, it } from 'vitest';
import { DwoError } from '../runtime/errors.js';
import { DEFAULT_METRICS_BIND_ADDRESS, monitorSource, parseAgentConfig } from './agent.js';

const base = { policy: 'span-sensors', nodeName: 'sensor-1.example' };

function configError(raw: unknown): DwoError {
  try {
    parseAgentConfig(raw);
  } catch (err) {
    if (err instanceof DwoError) return err;
    throw err;
  }
  throw new Error('expected a DWO_E_CONFIG error');
}

describe('parseAgentConfig', () => {
  it('applies the CRD defaults and the default metrics address', () => {
    const c = parseAgentConfig(base);
    expect(c).toMatchObject({
      policy: 'span-sensors',
      nodeName: 'sensor-1.example',
      samplingIntervalMs: 1000,
      reportIntervalMs: 15_000,
      heartbeatIntervalMs: 60_000,
      sources: ['tracepoint', 'histTriggers', 'counters'],
      metrics: { host: '0.0.0.0', port: 9847 },
      metricsTopSites: 20,
    });
    expect(DEFAULT_METRICS_BIND_ADDRESS).toBe('0.0.0.0:9847');
    expect(c.kubeconfig).toBeUndefined();
    expect(c.monitor).toMatchObject({ source: 'auto', pollIntervalMs: 1000, bufferSizeKb: 2048, onlyReasons: [], ignoreReasons: [], interfaces: [] });
  });

  it('reads Go durations, the comma-separated sources and the monitor options the DaemonSet passes', () => {
    const c = parseAgentConfig({
      ...base,
      samplingInterval: '500ms',
      reportInterval: '1m30s',
      heartbeatInterval: '0.75h',
      sources: 'counters, tracepoint',
      tracefsRoot: '/host/sys/kernel/tracing',
      bufferSizeKb: 4096,
      ignoreReasons: ['otherhost', 'SKB_DROP_REASON_PKT_TOO_SMALL'],
      interfaces: ['eth0'],
      kubeconfig: '/etc/kube/config',
      metricsBindAddress: '[::1]:0',
    });
    expect(c.samplingIntervalMs).toBe(500);
    expect(c.reportIntervalMs).toBe(90_000);
    expect(c.heartbeatIntervalMs).toBe(2_700_000);
    expect(c.sources).toEqual(['tracepoint', 'counters']);
    expect(c.metrics).toEqual({ host: '::1', port: 0 });
    expect(c.kubeconfig).toBe('/etc/kube/config');
    expect(c.monitor).toMatchObject({ source: 'tracefs', pollIntervalMs: 500, bufferSizeKb: 4096, tracefsRoot: '/host/sys/kernel/tracing', ignoreReasons: ['OTHERHOST', 'PKT_TOO_SMALL'], interfaces: ['eth0'] });
  });

  it('clamps long sampling intervals to the monitor maximum', () => {
    expect(parseAgentConfig({ ...base, samplingInterval: '1m', reportInterval: '2m', heartbeatInterval: '5m' }).monitor.pollIntervalMs).toBe(5000);
  });

  it('maps the enabled sources onto the monitor source', () => {
    expect(monitorSource(['tracepoint', 'histTriggers', 'counters'])).toBe('auto');
    expect(monitorSource(['histTriggers'])).toBe('auto');
    expect(monitorSource(['tracepoint', 'counters'])).toBe('tracefs');
    expect(monitorSource(['counters'])).toBe('counters');
  });

  it.each([
    [{ nodeName: 'n' }, /^policy: /],
    [{ policy: 'p' }, /^nodeName: /],
    [{ ...base, policy: 'Span_Sensors' }, /^policy: a policy name is a DNS label/],
    [{ ...base, policy: 'p'.repeat(41) }, /^policy: /],
    [{ ...base, nodeName: 'Node_1' }, /^nodeName: a node name is a DNS subdomain/],
    [{ ...base, reportInterval: '15' }, /^reportInterval: invalid duration "15"/],
    [{ ...base, samplingInterval: '50ms' }, /^samplingInterval: "50ms" is out of range: from 100ms to 1m/],
    [{ ...base, heartbeatInterval: '2h' }, /^heartbeatInterval: "2h" is out of range/],
    [{ ...base, reportInterval: '2s', samplingInterval: '3s' }, /^reportInterval: must be at least samplingInterval/],
    [{ ...base, reportInterval: '30s', heartbeatInterval: '10s' }, /^heartbeatInterval: must be at least reportInterval/],
    [{ ...base, sources: 'tracepoint,bpf' }, /^sources/],
    [{ ...base, sources: '' }, /^sources: enable at least one/],
    [{ ...base, metricsBindAddress: '9847' }, /^metricsBindAddress: "9847" is not host:port/],
    [{ ...base, metricsBindAddress: 'localhost:70000' }, /^metricsBindAddress: /],
    [{ ...base, nodeName: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(50)}`, policy: 'p'.repeat(40) }, /^nodeName: too long/],
  ])('rejects %j with DWO_E_CONFIG', (raw, message) => {
    const e = configError(raw);
    expect(e.code).toBe('DWO_E_CONFIG');
    expect(e.message).toMatch(message);
  });
});
