// The Grafana dashboard the chart ships (charts/dropwatch-operator/files/grafana-dashboard.json)
// and the alert rules (files/prometheus-rules.yaml) stay in step with the metrics the agent and
// the operator define: the metric families are read from the real registries, not listed here.
// Whether every query parses is checked with promtool by test/integration/prometheus.test.ts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { OperatorMetrics } from '../../src/operator/metrics.js';
import { LAYERS } from '../../src/domain/types.js';

const root = path.resolve(import.meta.dirname, '../..');
const files = path.join(root, 'charts/dropwatch-operator/files');

// Labels the scrape adds to every series (the chart's PodMonitor/ServiceMonitor), on top of the
// labels a metric defines. `policy` is optional: the dashboard's selector matches it when absent.
const SCRAPE_LABELS = ['namespace', 'pod', 'node', 'instance', 'job', 'policy'];
// Series Prometheus makes itself.
const BUILTIN_METRICS = new Map<string, readonly string[]>([['up', []]]);

interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat?: string;
  readonly datasource?: { readonly uid?: string };
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource?: { readonly uid?: string };
  readonly targets?: readonly Target[];
}
interface Dashboard {
  readonly schemaVersion: number;
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly type: string; readonly query?: unknown; readonly allValue?: string }[] };
}

/** Metric name -> label names, for every series name the two registries expose. */
let series: Map<string, readonly string[]>;

beforeAll(async () => {
  series = new Map(BUILTIN_METRICS);
  for (const registry of [new AgentMetrics().registry, new OperatorMetrics().registry]) {
    for (const family of await registry.getMetricsAsJSON()) {
      const labels = (registry.getSingleMetric(family.name) as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
      if (String(family.type) === 'histogram') {
        series.set(`${family.name}_bucket`, [...labels, 'le']);
        series.set(`${family.name}_sum`, labels);
        series.set(`${family.name}_count`, labels);
      } else {
        series.set(family.name, labels);
      }
    }
  }
});

/** PromQL with Grafana's variables replaced by values promtool and Prometheus accept. */
function substituteGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{?(namespace|node|policy)\}?/g, '.*');
}

/** Metric names an expression reads (identifiers that are not functions, keywords or labels). */
function metricNames(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const noLabels = noStrings.replace(/\{[^}]*\}/g, '{}').replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const noRanges = noLabels.replace(/\[[^\]]*\]/g, '[]');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);
  const names: string[] = [];
  for (const m of noRanges.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\(|\{|\[|\s|\)|$|,|>|<|=|!|\/|\*|\+|-))/g)) {
    const after = noRanges.slice((m.index ?? 0) + m[0].length).trimStart();
    if (after.startsWith('(')) continue; // a function or an aggregation
    if (keywords.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

/** Label names an expression groups by or matches on. */
function labelNames(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const out: string[] = [];
  for (const m of noStrings.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)) out.push(...(m[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  for (const m of noStrings.matchAll(/\{([^}]*)\}/g)) for (const l of (m[1] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) if (l[1] !== undefined) out.push(l[1]);
  return out;
}

/** Problems with the metrics and labels an expression uses; empty when it is consistent. */
function checkExpr(expr: string, recorded: ReadonlyMap<string, readonly string[]>): string[] {
  const problems: string[] = [];
  const names = metricNames(expr);
  if (names.length === 0) problems.push(`reads no metric: ${expr}`);
  const allowed = new Set([...SCRAPE_LABELS]);
  for (const n of names) {
    const labels = series.get(n) ?? recorded.get(n);
    if (labels === undefined) problems.push(`unknown metric ${n} in: ${expr}`);
    else for (const l of labels) allowed.add(l);
  }
  for (const l of labelNames(expr)) if (!allowed.has(l)) problems.push(`label ${l} is on none of ${names.join(', ')} in: ${expr}`);
  for (const [open, close] of [['(', ')'], ['{', '}'], ['[', ']']] as const) {
    const a = expr.split(open).length - 1;
    const b = expr.split(close).length - 1;
    if (a !== b) problems.push(`unbalanced ${open}${close} in: ${expr}`);
  }
  return problems;
}

const dashboard = JSON.parse(readFileSync(path.join(files, 'grafana-dashboard.json'), 'utf8')) as Dashboard;

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
const ruleFile = parse(readFileSync(path.join(files, 'prometheus-rules.yaml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const rules = ruleFile.groups.flatMap((g) => g.rules);

/** Recording rules' output names -> the labels they keep (their `by` clause). */
function recordedSeries(): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const r of rules) {
    if (r.record === undefined) continue;
    const by = /\bby\s*\(([^)]*)\)/.exec(r.expr)?.[1] ?? '';
    out.set(r.record, by.split(',').map((s) => s.trim()).filter(Boolean));
  }
  return out;
}

describe('grafana dashboard', () => {
  const panels = dashboard.panels;
  const queryPanels = panels.filter((p) => p.type !== 'row');

  it('is a current dashboard with a templated Prometheus data source and the label variables', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    const vars = dashboard.templating.list;
    expect(vars.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['namespace', 'node', 'policy']) {
      // "All" must match series that lack the label (a scrape without it), so it is ".*".
      expect(vars.find((v) => v.name === name), name).toMatchObject({ type: 'query', allValue: '.*' });
    }
    for (const p of queryPanels) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      for (const t of p.targets ?? []) expect(t.datasource?.uid, `${p.title} ${t.refId}`).toBe('${datasource}');
    }
  });

  it('has unique panel ids and unique refIds within each panel', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of queryPanels) {
      const refs = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refs).size, p.title).toBe(refs.length);
      expect(refs.length, `${p.title} has no query`).toBeGreaterThan(0);
    }
  });

  it('lays the panels out on the 24-column grid without overlaps', () => {
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(Math.min(p.gridPos.x, p.gridPos.y, p.gridPos.w - 1, p.gridPos.h - 1), p.title).toBeGreaterThanOrEqual(0);
    }
    const overlaps: string[] = [];
    for (const [i, a] of panels.entries()) {
      for (const b of panels.slice(i + 1)) {
        const g = a.gridPos;
        const h = b.gridPos;
        if (g.x < h.x + h.w && h.x < g.x + g.w && g.y < h.y + h.h && h.y < g.y + g.h) overlaps.push(`${a.title} / ${b.title}`);
      }
    }
    expect(overlaps).toEqual([]);
  });

  it('reads only metrics and labels the agent and the operator define', () => {
    const problems = queryPanels.flatMap((p) => (p.targets ?? []).flatMap((t) => checkExpr(substituteGrafanaVariables(t.expr), new Map()).map((e) => `${p.title}: ${e}`)));
    expect(problems).toEqual([]);
  });

  it('shows every agent and operator metric family somewhere', () => {
    const used = new Set(queryPanels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(substituteGrafanaVariables(t.expr)))));
    // Not worth a panel: the source in use is in the node report and in `snapshot`; the gauge
    // duplicates the ladder's rates; the reconcile histogram's _sum and _count.
    const skipped = new Set(['up', 'dropwatch_source_info', 'dropwatch_drop_rate_per_second', 'dropwatch_interface_loss_ratio', 'dropwatch_operator_reconcile_duration_seconds_sum', 'dropwatch_operator_reconcile_duration_seconds_count']);
    const missing = [...series.keys()].filter((n) => !used.has(n) && !skipped.has(n));
    expect(missing).toEqual([]);
  });

  it('draws the loss ladder one layer per query, from the wire inwards, in the classifier\'s order', () => {
    const ladder = queryPanels.find((p) => p.title.startsWith('Loss ladder'));
    expect(ladder).toBeDefined();
    const layers = (ladder?.targets ?? []).map((t) => /layer="([a-z]+)"/.exec(t.expr)?.[1]);
    expect(layers).toEqual([...LAYERS]);
    expect((ladder?.targets ?? []).map((t) => t.legendFormat)).toEqual([...LAYERS]);
  });

  it('has the top-sites table by symbol, reason and layer', () => {
    const table = queryPanels.find((p) => p.type === 'table' && (p.targets ?? []).some((t) => t.expr.includes('dropwatch_site_drops_total')));
    expect(table?.targets?.[0]?.expr).toMatch(/topk\(\d+, sum by \(symbol, reason, layer\)/);
  });
});

describe('alert rules', () => {
  it('read only metrics and labels the agent, the operator and the recording rules define', () => {
    const recorded = recordedSeries();
    const problems = rules.flatMap((r) => checkExpr(r.expr, recorded).map((e) => `${r.alert ?? r.record}: ${e}`));
    expect(problems).toEqual([]);
  });

  it('every alert has a severity, a for, a summary, a description and a runbook', () => {
    const alerts = rules.filter((r) => r.alert !== undefined);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    for (const a of alerts) {
      expect(a.alert).toMatch(/^Dropwatch[A-Z][A-Za-z]+$/);
      expect(['info', 'warning', 'critical'], a.alert).toContain(a.labels?.['severity']);
      expect(a.for, a.alert).toMatch(/^\d+[smh]$/);
      for (const k of ['summary', 'description', 'runbook_url']) expect(a.annotations?.[k], `${a.alert} ${k}`).toBeTruthy();
      // The runbook is the alert's section in docs/monitoring.md.
      expect(a.annotations?.['runbook_url']).toMatch(new RegExp(`/docs/monitoring\\.md#${a.alert?.toLowerCase() ?? ''}$`));
    }
  });

  it('docs/monitoring.md has a section for every alert', () => {
    const doc = readFileSync(path.join(root, 'docs/monitoring.md'), 'utf8');
    for (const a of rules.filter((r) => r.alert !== undefined)) expect(doc, a.alert).toMatch(new RegExp(`^#+ ${a.alert ?? ''}$`, 'm'));
  });

  it('link only to sections docs/troubleshooting.md has', () => {
    // GitHub's heading anchors: lower case, punctuation other than "-" and "_" dropped, spaces as "-".
    const anchors = new Set(
      [...readFileSync(path.join(root, 'docs/troubleshooting.md'), 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) =>
        (m[1] ?? '').trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-'),
      ),
    );
    const links = [...readFileSync(path.join(files, 'prometheus-rules.yaml'), 'utf8').matchAll(/docs\/troubleshooting\.md#([a-z0-9_-]+)/g)].map((m) => m[1] ?? '');
    expect(links.length).toBeGreaterThanOrEqual(3);
    expect(links.filter((l) => !anchors.has(l))).toEqual([]);
  });
});

describe('docs/monitoring.md', () => {
  it('lists every metric family the agent and the operator define', () => {
    const doc = readFileSync(path.join(root, 'docs/monitoring.md'), 'utf8');
    const families = [...series.keys()].filter((n) => n.startsWith('dropwatch_')).map((n) => n.replace(/_(bucket|sum|count)$/, ''));
    expect(families.filter((f) => !doc.includes(`\`${f}\``))).toEqual([]);
  });
});
