// Text output of `kubectl dropwatch`: kubectl-style tables (upper-case headers, columns padded,
// three spaces apart) for nodes and top, and the node view (header, site table, loss ladder,
// interfaces, softnet, hints, condition, Events). Pure; reuses the CLI's table helpers.
import { clip, fmtRate, lpad, pad, renderLadder, renderSiteTable } from '../cli/render.js';
import type { ConditionView, FleetTop, NodeRow, ReportView } from './view.js';

/** kubectl's compact age: 45s, 3m12s, 17m, 4h5m, 30h, 6d3h, 40d, 3y. */
export function humanAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

/** A column: header, cell text, right-aligned or not. */
interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => string;
  readonly right?: boolean;
}

/** kubectl's table layout: each column as wide as its widest cell, three spaces between. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], opts: { headers?: boolean } = {}): string[] {
  const cells = rows.map((r) => columns.map((c) => c.cell(r)));
  const all = opts.headers === false ? cells : [columns.map((c) => c.header), ...cells];
  const widths = columns.map((_, i) => Math.max(0, ...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) =>
    r
      .map((v, i) => {
        const last = i === columns.length - 1;
        if (columns[i]?.right) return lpad(v, widths[i] ?? 0);
        return last ? v : pad(v, widths[i] ?? 0);
      })
      .join('   ')
      .trimEnd(),
  );
}

const rate = (x: number | undefined): string => (x === undefined ? '-' : fmtRate(x));

/** The table of `kubectl dropwatch nodes` (wide adds kernel, sources, loss, condition reason). */
export function renderNodes(rows: readonly NodeRow[], opts: { wide?: boolean; headers?: boolean } = {}): string {
  if (rows.length === 0) return 'No node reports found.';
  const columns: Column<NodeRow>[] = [
    { header: 'NODE', cell: (r) => r.node },
    { header: 'POLICY', cell: (r) => r.policy },
    { header: 'STATE', cell: (r) => r.state },
    { header: 'DROPS/S', cell: (r) => rate(r.dropsPerSecond), right: true },
    { header: 'ACTIONABLE/S', cell: (r) => rate(r.actionablePerSecond), right: true },
    { header: 'TOP LAYER', cell: (r) => r.topLayer ?? '-' },
    { header: 'TOP SITE', cell: (r) => r.topSite ?? '-' },
    { header: 'LOST', cell: (r) => (r.lostEvents === undefined ? '-' : String(r.lostEvents)), right: true },
    { header: 'AGE', cell: (r) => (r.ageSeconds === undefined ? '-' : humanAge(r.ageSeconds)) },
  ];
  if (opts.wide) {
    columns.push(
      { header: 'KERNEL', cell: (r) => r.kernel ?? '-' },
      { header: 'SOURCES', cell: (r) => (r.sources === undefined || r.sources.length === 0 ? '-' : r.sources.join(',')) },
      { header: 'MAX LOSS %', cell: (r) => (r.maxLossPercent === undefined ? '-' : r.maxLossPercent.toFixed(3)), right: true },
      { header: 'CONDITION', cell: (r) => (r.condition === undefined ? '-' : `PacketLoss=${r.condition.status} (${r.condition.reason})`) },
    );
  }
  return table(rows, columns, opts.headers === undefined ? {} : { headers: opts.headers }).join('\n');
}

/** The table of `kubectl dropwatch top`, with a line on what went into it. */
export function renderTop(top: FleetTop, opts: { width?: number; headers?: boolean } = {}): string {
  const note = `${top.reports} fresh ${top.reports === 1 ? 'report' : 'reports'} from ${top.nodes} ${top.nodes === 1 ? 'node' : 'nodes'}` +
    (top.staleReports > 0 ? `; ${top.staleReports} stale left out` : '');
  if (top.sites.length === 0) return `No drop sites (${note}).`;
  const width = Math.max(80, opts.width ?? 160);
  const body = table(
    top.sites,
    [
      { header: 'DROPS/S', cell: (s) => fmtRate(s.dropsPerSecond), right: true },
      { header: 'NODES', cell: (s) => String(s.nodes), right: true },
      { header: 'LAYER', cell: (s) => s.layer },
      { header: 'SITE', cell: (s) => s.site },
      { header: 'WORST NODE', cell: (s) => `${s.worstNode} (${fmtRate(s.worstNodeDropsPerSecond)}/s)` },
      { header: 'HINT', cell: (s) => `${s.actionable ? '' : '(benign) '}${s.hint ?? '-'}` },
    ],
    opts.headers === undefined ? {} : { headers: opts.headers },
  ).map((l) => clip(l, width));
  return opts.headers === false ? body.join('\n') : [...body, '', note].join('\n');
}

/** One report of a node, as `kubectl dropwatch node` prints it. */
export function renderReport(v: ReportView, opts: { width?: number } = {}): string {
  const width = Math.max(80, opts.width ?? 160);
  const r = v.row;
  const lines: string[] = [];
  const w = v.window;
  lines.push(`Node:        ${r.node}`);
  lines.push(`Policy:      ${r.policy} (report ${r.report ?? '-'})`);
  lines.push(`State:       ${r.state}`);
  lines.push(`Kernel:      ${r.kernel ?? '-'}   agent ${v.agentVersion ?? '-'}   sources ${r.sources?.join(',') || '-'}`);
  lines.push(`Window:      ${w?.seconds === undefined ? '-' : `${w.seconds.toFixed(1)} s`}${w?.end === undefined ? '' : ` ending ${w.end}`}   last heartbeat ${r.ageSeconds === undefined ? 'never' : `${humanAge(r.ageSeconds)} ago`}`);
  if (v.degraded !== undefined) lines.push(`Degraded:    ${v.degraded}`);
  if (v.unknownReasons.length > 0) lines.push(`Unknown ignoreReasons on this kernel: ${v.unknownReasons.join(', ')}`);
  lines.push(`Total:       ${v.totalDrops} drops (${rate(r.dropsPerSecond)}/s), ${rate(r.actionablePerSecond)}/s actionable; monitor lost ${v.monitor.lostEvents} events, ${v.monitor.parseErrors} parse errors`);
  if (v.monitor.lostEvents > 0) lines.push('             the monitor lost events: the counts above are too low (raise spec.sources.tracepoint.bufferSizeKb)');
  lines.push('');
  if (v.sites.length === 0) lines.push('No kernel drop sites in the last window.');
  else lines.push(...renderSiteTable(v.sites, width));
  lines.push('');
  lines.push(...renderLadder(v.ladder, { footnote: false }));
  // As the CLI does: interfaces that neither received nor dropped anything are left out.
  const ifs = v.interfaces.filter((i) => i.rxPackets > 0 || i.drops > 0);
  const idle = v.interfaces.length - ifs.length;
  if (ifs.length > 0) {
    lines.push('');
    lines.push(
      ...table(ifs, [
        { header: 'INTERFACE', cell: (i) => i.name },
        { header: 'RX PACKETS', cell: (i) => String(i.rxPackets), right: true },
        { header: 'DROPS', cell: (i) => String(i.drops), right: true },
        { header: 'LOSS %', cell: (i) => i.lossPercent.toFixed(3), right: true },
        { header: 'COUNTERS', cell: (i) => Object.entries(i.counters).map(([k, n]) => `${k}=${n}`).join(' ') || '-' },
      ]),
    );
  }
  if (idle > 0) lines.push(`(${idle} idle ${idle === 1 ? 'interface' : 'interfaces'} not shown)`);
  lines.push('');
  lines.push(`softnet: dropped ${v.softnet.dropped}, time_squeeze ${v.softnet.timeSqueeze}, flow_limit ${v.softnet.flowLimit}`);
  if (v.hints.length > 0) {
    lines.push('');
    lines.push('What to tune (busiest sites first):');
    for (const h of v.hints) lines.push(`  - ${h.site}: ${h.actionable ? '' : '(benign) '}${h.hint}`);
  }
  return lines.join('\n');
}

/** The node-level footer: the PacketLoss condition and recent Events. */
export function renderNodeFooter(
  cond: ConditionView | undefined,
  events: readonly { type: string; reason: string; message: string; count: number; lastSeen?: string; source: string }[] | undefined,
  now: Date,
): string {
  const lines: string[] = [];
  lines.push(cond === undefined ? 'PacketLoss:  (no condition: no policy with thresholds covers this node)' : `PacketLoss:  ${cond.status} (${cond.reason}) ${cond.message}`);
  if (events !== undefined) {
    lines.push('');
    if (events.length === 0) {
      lines.push('Events:      <none>');
    } else {
      lines.push('Events:');
      lines.push(
        ...table(events, [
          { header: 'TYPE', cell: (e) => e.type },
          { header: 'REASON', cell: (e) => e.reason },
          { header: 'AGE', cell: (e) => (e.lastSeen === undefined ? '-' : humanAge((now.getTime() - Date.parse(e.lastSeen)) / 1000)) },
          { header: 'FROM', cell: (e) => e.source || '-' },
          { header: 'MESSAGE', cell: (e) => `${e.count > 1 ? `(x${e.count}) ` : ''}${e.message}` },
        ]).map((l) => `  ${l}`),
      );
    }
  }
  return lines.join('\n');
}
