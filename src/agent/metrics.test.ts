import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../domain/snapshot.js';
import type { Capabilities } from '../domain/types.js';
import { AgentMetrics } from './metrics.js';

const caps: Capabilities = {
  tracefs: { available: true, writable: true },
  kfreeSkb: { available: true, reasonField: true },
  kallsyms: { visible: true },
  histTriggers: false,
  dropMonitor: false,
  ethtool: false,
};

function snap(sites: number) {
  return buildSnapshot({
    kernel: { release: 'r', machine: 'x86_64' },
    source: { kind: 'tracefs-ring', reason: '' },
    capabilities: caps,
    ignoredReasons: [],
    startMs: 0,
    endMs: 1000,
    sites: Array.from({ length: sites }, (_, i) => ({ location: 0xffffffff81000000n + BigInt(i * 0x100), reasonCode: 3, reason: 'NO_SOCKET', count: 10 })),
    symbolize: (a) => ({ symbol: `fn_${a.toString(16)}`, offset: 0, size: 0x100 }),
    monitor: { lostEvents: 2, parseErrors: 0 },
    maxSites: 1000,
  });
}

describe('AgentMetrics', () => {
  it('keeps site labels bounded and sums the rest as other, losing no counts', async () => {
    const m = new AgentMetrics({ maxSites: 3 });
    m.observe(snap(10));
    const text = await m.text();
    const siteLines = text.split('\n').filter((l) => l.startsWith('dropwatch_site_drops_total{'));
    expect(siteLines).toHaveLength(4);
    expect(siteLines.find((l) => l.includes('symbol="other"'))).toMatch(/ 70$/);
    expect(text).toMatch(/dropwatch_layer_drops_total\{layer="transport"\} 100/);
    expect(text).toMatch(/dropwatch_monitor_lost_events_total 2/);
    expect(text).toMatch(/dropwatch_source_info\{source="tracefs-ring"\} 1/);
  });
});
