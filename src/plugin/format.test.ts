import { describe, expect, it } from 'vitest';
import { humanAge, renderNodeFooter, renderNodes, renderTop, table } from './format.js';
import type { FleetTop, NodeRow } from './view.js';

describe('humanAge', () => {
  it.each([
    [0, '0s'], [45, '45s'], [119, '119s'], [120, '2m'], [192, '3m12s'], [600, '10m'], [17 * 60, '17m'], [179 * 60, '179m'],
    [3 * 3600, '3h'], [4 * 3600 + 5 * 60, '4h5m'], [30 * 3600, '30h'], [6 * 86400 + 3 * 3600, '6d3h'], [40 * 86400, '40d'], [3 * 365 * 86400, '3y'], [-5, '0s'],
  ])('%d s -> %s', (s, want) => {
    expect(humanAge(s)).toBe(want);
  });
});

describe('table', () => {
  it('pads columns to the widest cell, three spaces apart, right-aligns numbers, no trailing spaces', () => {
    const rows = [{ a: 'x', n: '5', z: '' }, { a: 'longer', n: '1234', z: 'end' }];
    expect(table(rows, [{ header: 'A', cell: (r) => r.a }, { header: 'N', cell: (r) => r.n, right: true }, { header: 'Z', cell: (r) => r.z }])).toEqual([
      'A           N   Z',
      'x           5',
      'longer   1234   end',
    ]);
    expect(table(rows, [{ header: 'A', cell: (r) => r.a }], { headers: false })).toEqual(['x', 'longer']);
  });
});

const row = (over: Partial<NodeRow>): NodeRow => ({ node: 'n1', policy: 'p', state: 'Healthy', ...over });

describe('renderNodes', () => {
  it('prints the columns, dashes for what is unknown, and wide extras', () => {
    const rows = [
      row({ state: 'Warning', dropsPerSecond: 4953.76, actionablePerSecond: 1200, topLayer: 'transport', topSite: 'f+0x1 (NO_SOCKET)', lostEvents: 3, ageSeconds: 75, kernel: '6.1', sources: ['tracepoint'], maxLossPercent: 0.25, condition: { status: 'True', reason: 'DropThresholdWarning', message: '' } }),
      row({ node: 'n2', state: 'NO REPORT' }),
    ];
    expect(renderNodes(rows).split('\n')).toEqual([
      'NODE   POLICY   STATE       DROPS/S   ACTIONABLE/S   TOP LAYER   TOP SITE            LOST   AGE',
      'n1     p        Warning        4954           1200   transport   f+0x1 (NO_SOCKET)      3   75s',
      'n2     p        NO REPORT         -              -   -           -                      -   -',
    ]);
    const wide = renderNodes(rows, { wide: true }).split('\n');
    expect(wide[0]).toMatch(/AGE {3}KERNEL {3}SOURCES {6}MAX LOSS % {3}CONDITION$/);
    expect(wide[1]).toMatch(/75s {3}6\.1 {6}tracepoint {8}0\.250 {3}PacketLoss=True \(DropThresholdWarning\)$/);
    expect(renderNodes(rows, { headers: false }).split('\n')).toHaveLength(2);
    expect(renderNodes([])).toBe('No node reports found.');
  });
});

describe('renderTop', () => {
  const top: FleetTop = {
    sites: [
      { symbol: 'f', reason: 'NO_SOCKET', layer: 'transport', site: 'f+0x4 (NO_SOCKET)', dropsPerSecond: 400, nodes: 2, worstNode: 'b', worstNodeDropsPerSecond: 300, actionable: false, hint: 'benign' },
      { symbol: 'g', reason: 'CPU_BACKLOG', layer: 'backlog', site: 'g (CPU_BACKLOG)', dropsPerSecond: 7, nodes: 1, worstNode: 'a', worstNodeDropsPerSecond: 7, actionable: true },
    ],
    reports: 3,
    nodes: 2,
    staleReports: 1,
  };

  it('prints sites with nodes, worst node and hint (benign marked), then what went in', () => {
    expect(renderTop(top).split('\n')).toEqual([
      'DROPS/S   NODES   LAYER       SITE                WORST NODE   HINT',
      '    400       2   transport   f+0x4 (NO_SOCKET)   b (300/s)    (benign) benign',
      '   7.00       1   backlog     g (CPU_BACKLOG)     a (7.00/s)   -',
      '',
      '3 fresh reports from 2 nodes; 1 stale left out',
    ]);
    expect(renderTop(top, { headers: false }).split('\n')).toHaveLength(2);
    expect(renderTop({ sites: [], reports: 1, nodes: 1, staleReports: 0 })).toBe('No drop sites (1 fresh report from 1 node).');
  });

  it('clips lines to the terminal width', () => {
    const long = { ...top, sites: [{ ...top.sites[0]!, hint: 'x'.repeat(300) }] };
    expect(Math.max(...renderTop(long, { width: 100 }).split('\n').map((l) => l.length))).toBe(100);
  });
});

describe('renderNodeFooter', () => {
  it('prints the condition and Events, newest first as given', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    const out = renderNodeFooter({ status: 'True', reason: 'DropThresholdWarning', message: 'warning: x' }, [
      { type: 'Warning', reason: 'DropThresholdExceeded', message: 'over', count: 3, lastSeen: '2026-11-25T11:59:30Z', source: 'dropwatch.dev/operator' },
    ], now);
    expect(out.split('\n')).toEqual([
      'PacketLoss:  True (DropThresholdWarning) warning: x',
      '',
      'Events:',
      '  TYPE      REASON                  AGE   FROM                     MESSAGE',
      '  Warning   DropThresholdExceeded   30s   dropwatch.dev/operator   (x3) over',
    ]);
    expect(renderNodeFooter(undefined, [], now)).toContain('Events:      <none>');
    expect(renderNodeFooter(undefined, undefined, now)).not.toContain('Events');
  });
});
