// Text rendering of a DropSnapshot for people: the dropwatch-like site table, the loss ladder,
// interfaces and the monitor's own loss. Pure string building; called by the CLI, and (the table
// helpers) by the kubectl plugin's views of node reports.
import type { DropSnapshot } from '../domain/snapshot.js';

/** A rate with 3 significant-ish digits: 1234, 12.3, 1.23. */
export const fmtRate = (r: number): string => (r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2));
/** Pads on the right to `n` characters (left-aligned column). */
export const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
/** Pads on the left to `n` characters (right-aligned column). */
export const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
/** Cuts to `n` characters with an ellipsis. */
export const clip = (s: string, n: number): string => (s.length <= n ? s : s.slice(0, Math.max(0, n - 1)) + '…');

/** One row of the drop-site table (a snapshot's DropSiteOut fits; so does a node report's site). */
export interface SiteTableRow {
  readonly count: number;
  readonly rate: number;
  readonly layer: string;
  readonly reason: string;
  readonly location: string;
  readonly hint: string;
}

/** The dropwatch-like site table: COUNT RATE/s LAYER REASON LOCATION HINT, hints clipped to `width`. */
export function renderSiteTable(sites: readonly SiteTableRow[], width: number): string[] {
  const lines: string[] = [];
  const locW = Math.min(48, Math.max(20, ...sites.map((d) => d.location.length)));
  const fixed = 9 + 1 + 10 + 1 + 10 + 1 + 22 + 1 + locW + 1;
  const hintW = Math.max(20, width - fixed);
  lines.push(`${lpad('COUNT', 9)} ${lpad('RATE/s', 10)} ${pad('LAYER', 10)} ${pad('REASON', 22)} ${pad('LOCATION', locW)} HINT`);
  for (const d of sites) {
    lines.push(`${lpad(String(d.count), 9)} ${lpad(fmtRate(d.rate), 10)} ${pad(d.layer, 10)} ${pad(clip(d.reason, 22), 22)} ${pad(clip(d.location, locW), locW)} ${clip(d.hint, hintW)}`);
  }
  return lines;
}

/** One rung of the loss ladder; `from: 'counters'` marks figures the tracepoint cannot see. */
export interface LadderRung {
  readonly layer: string;
  readonly rate: number;
  readonly from?: string;
}

/** The loss ladder, wire to application, as a title line, the rungs, and (optionally) the footnote for `*`. */
export function renderLadder(ladder: readonly LadderRung[], opts: { footnote?: boolean } = {}): string[] {
  const lines = ['loss ladder (wire -> application):'];
  lines.push('  ' + ladder.map((l) => `${l.layer} ${fmtRate(l.rate)}/s${l.from === 'counters' ? '*' : ''}`).join('  |  '));
  if (opts.footnote ?? true) lines.push('  (* from kernel counters: the tracepoint cannot see these drops)');
  return lines;
}

/** Renders the snapshot as the human-readable report printed by `snapshot` and `top`. */
export function renderSnapshot(s: DropSnapshot, opts: { width?: number; maxSites?: number; title?: string } = {}): string {
  const width = Math.max(80, opts.width ?? 120);
  const lines: string[] = [];
  const title = opts.title ?? 'dropwatch-operator snapshot';
  lines.push(`${title}: ${s.window.seconds.toFixed(1)} s window, kernel ${s.kernel.release}, drop source ${s.sources.drops}${s.sources.ignoredReasons.length ? `, ignoring ${s.sources.ignoredReasons.join(',')}` : ''}`);
  if (s.sources.drops === 'counters-only') lines.push(`  note: no kernel drop sites: ${s.sources.reason}`);
  lines.push(`total ${s.totals.drops} drops (${fmtRate(s.totals.dropsPerSecond)}/s), ${fmtRate(s.totals.actionableDropsPerSecond)}/s actionable`);
  lines.push('');
  const sites = s.drops.slice(0, opts.maxSites ?? 20);
  if (sites.length === 0) {
    lines.push(s.sources.drops === 'counters-only' ? 'no kernel drop sites (counters only)' : 'no kernel drops in this window');
  } else {
    lines.push(...renderSiteTable(sites, width));
    if (s.drops.length > sites.length) lines.push(`… ${s.drops.length - sites.length} more sites`);
  }
  lines.push('');
  lines.push(...renderLadder(s.ladder));
  const ifs = s.interfaces.filter((i) => i.rxPackets > 0 || i.drops > 0);
  if (ifs.length > 0) {
    lines.push('');
    lines.push(`${pad('INTERFACE', 16)} ${lpad('RX pkt/s', 12)} ${lpad('DROPS/s', 10)} ${lpad('LOSS %', 8)}`);
    for (const i of ifs) lines.push(`${pad(i.name, 16)} ${lpad(fmtRate(i.rxPacketsPerSecond), 12)} ${lpad(fmtRate(i.dropsPerSecond), 10)} ${lpad(i.lossPercent.toFixed(3), 8)}`);
  }
  lines.push('');
  lines.push(`softnet: dropped ${s.softnet.dropped}, time_squeeze ${s.softnet.timeSqueeze}, flow_limit ${s.softnet.flowLimit} (${s.softnet.cpus} CPUs)`);
  lines.push(`monitor: ${s.monitor.events} events read, ${s.monitor.lostEvents} lost by the monitor, ${s.monitor.parseErrors} parse errors; used ${s.monitor.cpuSeconds.toFixed(2)} CPU s, ${(s.monitor.rssBytes / 1048576).toFixed(0)} MiB`);
  return lines.join('\n');
}
