// The hist-trigger drop source: the kernel counts skb:kfree_skb by (location, reason) in a hash
// table of a dedicated tracefs instance; we read the table and diff it. Opened by the drop monitor
// when the probe finds hist triggers (CONFIG_HIST_TRIGGERS); same poll() shape as the ring reader.
import { readFileSync } from 'node:fs';
import { appendFile, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KernelDropSample } from '../../domain/types.js';
import { SourceError } from './errors.js';
import { buildReasonFilter, findField, parseEventFormat, renderReason, type EventFormat } from './event-format.js';
import { codeOf, exists } from './fs-util.js';

/** One `{ key: value, ... } hitcount: N ...` line of a hist file, raw. */
export interface HistEntry {
  /** Key name -> printed value, trimmed (e.g. "location" -> "ffffffff8204674c"). */
  readonly keys: ReadonlyMap<string, string>;
  /** Value name -> number (always includes "hitcount"). */
  readonly values: ReadonlyMap<string, bigint>;
}

/** The footer of a hist table. */
export interface HistTotals {
  /** Events that reached the trigger (passed its filter), including Dropped. */
  readonly hits: bigint;
  readonly entries: number;
  /** Events not counted because the table was full. */
  readonly dropped: bigint;
}

/** One table of a hist file (one per hist trigger attached to the event). */
export interface HistTable {
  /** The "# trigger info:" text, e.g. "hist:keys=location.hex,reason:vals=hitcount:... [active]". */
  readonly triggerInfo?: string;
  readonly entries: readonly HistEntry[];
  readonly totals?: HistTotals;
  /** Lines of this table that could not be read. */
  readonly parseErrors: number;
}

interface TableBuilder {
  triggerInfo?: string;
  entries: HistEntry[];
  totals: { hits?: bigint; entries?: number; dropped?: bigint };
  parseErrors: number;
}

function finish(t: TableBuilder): HistTable {
  const { hits, entries, dropped } = t.totals;
  const base = { entries: t.entries, parseErrors: t.parseErrors };
  const withInfo = t.triggerInfo === undefined ? base : { ...base, triggerInfo: t.triggerInfo };
  return hits === undefined ? withInfo : { ...withInfo, totals: { hits, entries: entries ?? t.entries.length, dropped: dropped ?? 0n } };
}

/** Splits "location: ffff..., reason:         13" at the commas that start a new "name:". */
const KEY_SPLIT = /,\s+(?=[A-Za-z_][\w.-]*:)/;
const VALUE_PAIR = /([A-Za-z_][\w.-]*):\s*(\d+)/g;

function parseEntry(line: string): HistEntry | undefined {
  const close = line.lastIndexOf('}');
  if (close < 0) return undefined;
  const keys = new Map<string, string>();
  for (const part of line.slice(line.indexOf('{') + 1, close).split(KEY_SPLIT)) {
    const colon = part.indexOf(':');
    if (colon <= 0) return undefined;
    keys.set(part.slice(0, colon).trim(), part.slice(colon + 1).trim());
  }
  const values = new Map<string, bigint>();
  for (const m of line.slice(close + 1).matchAll(VALUE_PAIR)) values.set(m[1] ?? '', BigInt(m[2] ?? '0'));
  if (keys.size === 0 || !values.has('hitcount')) return undefined;
  return { keys, values };
}

/**
 * Parses the text of an event's `hist` file (Documentation/trace/histogram.rst): optional
 * "# event histogram" / "# trigger info:" headers, one "{ keys } hitcount: N" line per entry, and a
 * "Totals:" footer with Hits, Entries and Dropped. Several triggers give several tables.
 */
export function parseHist(text: string): HistTable[] {
  const tables: HistTable[] = [];
  let cur: TableBuilder | undefined;
  const open = (): TableBuilder => {
    cur ??= { entries: [], totals: {}, parseErrors: 0 };
    return cur;
  };
  const close = (): void => {
    if (cur !== undefined) tables.push(finish(cur));
    cur = undefined;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line === '.') continue;
    if (line.startsWith('#')) {
      const info = /^#\s*trigger info:\s*(.*)$/.exec(line);
      if (/^#\s*event histogram/.test(line)) {
        close();
        open();
      } else if (info) {
        if (cur !== undefined && (cur.triggerInfo !== undefined || cur.entries.length > 0)) close();
        open().triggerInfo = info[1] ?? '';
      }
      continue;
    }
    if (line.startsWith('{')) {
      const t = open();
      const e = parseEntry(line);
      if (e) t.entries.push(e);
      else t.parseErrors++;
      continue;
    }
    if (line === 'Totals:') {
      open();
      continue;
    }
    const total = /^(Hits|Entries|Dropped):\s*(\d+)$/.exec(line);
    if (total) {
      const t = open();
      const v = BigInt(total[2] ?? '0');
      if (total[1] === 'Hits') t.totals.hits = v;
      else if (total[1] === 'Entries') t.totals.entries = Number(v);
      else {
        t.totals.dropped = v;
        close(); // Dropped is the last footer line
      }
      continue;
    }
    open().parseErrors++;
  }
  close();
  return tables.filter((t) => t.triggerInfo !== undefined || t.entries.length > 0 || t.totals !== undefined || t.parseErrors > 0);
}

/** Cumulative kfree_skb count for one (location, reason). */
export interface HistCount {
  readonly location: bigint;
  readonly reasonCode: number;
  readonly hitcount: bigint;
}

/** The modifier a trigger gave a key ("hex", "sym", "sym-offset", ...), read from its trigger info. */
function keyModifier(triggerInfo: string | undefined, key: string): string | undefined {
  const keys = /keys=([^:\s]+)/.exec(triggerInfo ?? '')?.[1];
  const spec = keys?.split(',').find((k) => k === key || k.startsWith(`${key}.`));
  return spec?.includes('.') ? spec.slice(spec.indexOf('.') + 1) : undefined;
}

/**
 * Reads a printed numeric key. `[ffffffff8204674c] sym+0x4bc/0xd00` (.sym, .sym-offset) gives the
 * bracketed hex; .hex prints bare hex; no modifier prints decimal. Without trigger info, digits
 * only means decimal and anything with a-f means hex.
 */
function readNumericKey(printed: string, modifier: string | undefined): bigint | undefined {
  const bracket = /^\[([0-9a-fA-F]+)\]/.exec(printed);
  if (bracket) return BigInt(`0x${bracket[1] ?? '0'}`);
  const word = printed.split(/\s/)[0] ?? '';
  const hex = modifier === 'hex' || modifier?.startsWith('sym') === true || (modifier === undefined && /[a-fA-F]/.test(word));
  if (hex) return /^(0x)?[0-9a-fA-F]+$/.test(word) ? BigInt(word.startsWith('0x') ? word : `0x${word}`) : undefined;
  return /^\d+$/.test(word) ? BigInt(word) : undefined;
}

/**
 * Turns a kfree_skb hist table into counts keyed "location:reason". Tables without a reason key
 * (kernels before 5.17) give reason 0. Entries whose keys cannot be read are counted as errors.
 */
export function kfreeSkbCounts(table: HistTable): { counts: Map<string, HistCount>; parseErrors: number } {
  const counts = new Map<string, HistCount>();
  let parseErrors = table.parseErrors;
  const locMod = keyModifier(table.triggerInfo, 'location');
  const reasonMod = keyModifier(table.triggerInfo, 'reason');
  for (const e of table.entries) {
    const loc = e.keys.get('location');
    const location = loc === undefined ? undefined : readNumericKey(loc, locMod);
    const reasonText = e.keys.get('reason');
    const reason = reasonText === undefined ? 0n : readNumericKey(reasonText, reasonMod);
    const hitcount = e.values.get('hitcount');
    if (location === undefined || reason === undefined || hitcount === undefined) {
      parseErrors++;
      continue;
    }
    const reasonCode = Number(reason);
    const key = `${location.toString(16)}:${reasonCode}`;
    const prev = counts.get(key);
    counts.set(key, { location, reasonCode, hitcount: (prev?.hitcount ?? 0n) + hitcount });
  }
  return { counts, parseErrors };
}

/**
 * The change between two reads of the same table. A count that went down means the table was
 * cleared or re-created; its current value is then the change.
 */
export function diffHistCounts(prev: ReadonlyMap<string, HistCount>, cur: ReadonlyMap<string, HistCount>): HistCount[] {
  const out: HistCount[] = [];
  for (const [key, c] of cur) {
    const before = prev.get(key)?.hitcount ?? 0n;
    const delta = c.hitcount >= before ? c.hitcount - before : c.hitcount;
    if (delta > 0n) out.push({ ...c, hitcount: delta });
  }
  return out;
}

/** What one poll returns; the shape the tracefs ring reader returns too. */
export interface HistPollResult {
  readonly samples: KernelDropSample[];
  /** Events that reached the trigger since the last poll (Δ Hits), including those the full table dropped. */
  readonly events: number;
  /** Always 0: nothing is read page by page. */
  readonly pages: 0;
  readonly parseErrors: number;
}

/** Options for {@link HistDropSource.open}. */
export interface HistDropSourceOptions {
  /** tracefs mount point (default /sys/kernel/tracing); tests pass a fake tree. */
  readonly tracefsRoot?: string;
  /** Instance name (default `dropwatch-hist-<pid>`); created if missing and then removed on close. */
  readonly instance?: string;
  /** Reason names (print fmt names, SKB_DROP_REASON_ prefix optional) filtered out in the kernel. */
  readonly ignoreReasons?: readonly string[];
  /** When non-empty, only these reasons are counted (filtered in the kernel). */
  readonly onlyReasons?: readonly string[];
  /** Hash table size, a power of two between 128 and 131072 (default 8192). */
  readonly tableSize?: number;
  /** Pid used in the default instance name (default process.pid). */
  readonly pid?: number;
}


/**
 * Builds the trigger. The location key uses `.hex`, not `.sym-offset`: the table is keyed by the
 * raw address either way, and with the bare address we symbolize with our own kallsyms table,
 * so both drop sources print identical sites, and the kernel does not run a kallsyms lookup per
 * entry on every read. (The parser still accepts `[addr] sym+off/size` keys.) The reason stays
 * numeric and is named from the event's print fmt, like the ring reader does.
 */
export function buildHistTrigger(reasonField: boolean, tableSize: number, filter: string | undefined): string {
  const keys = reasonField ? 'location.hex,reason' : 'location.hex';
  const base = `hist:keys=${keys}:vals=hitcount:size=${tableSize}`;
  return filter === undefined || filter === '' ? base : `${base} if ${filter}`;
}

/**
 * Counts kfree_skb in the kernel with a hist trigger on a dedicated instance. `poll()` reads the
 * table synchronously (it is small) and returns what changed since the previous poll.
 */
export class HistDropSource {
  private prev = new Map<string, HistCount>();
  private prevHits = 0n;
  private dropped = 0n;
  private closed = false;

  private constructor(
    private readonly instanceDir: string,
    private readonly createdInstance: boolean,
    private readonly eventDir: string,
    /** The trigger text as installed (without the leading `!`). */
    readonly trigger: string,
    private readonly format: EventFormat,
    private readonly reasonField: boolean,
  ) {}

  /**
   * Creates (or reuses) the instance, installs the trigger and returns the source.
   * @throws SourceError when hist triggers are missing, a reason name is unknown or the kernel
   * refuses the trigger.
   */
  static async open(opts: HistDropSourceOptions = {}): Promise<HistDropSource> {
    const root = opts.tracefsRoot ?? '/sys/kernel/tracing';
    const instanceDir = path.join(root, 'instances', opts.instance ?? `dropwatch-hist-${opts.pid ?? process.pid}`);
    let created = false;
    if (!(await exists(instanceDir))) {
      try {
        await mkdir(instanceDir);
        created = true;
      } catch (err) {
        const code = codeOf(err);
        throw code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? new SourceError('DWO_E_TRACEFS_PERMISSION', `cannot create tracefs instance ${instanceDir}: ${code}`)
          : new SourceError('DWO_E_TRACEFS_NOT_MOUNTED', `cannot create tracefs instance ${instanceDir}: ${code}`);
      }
    }
    const removeInstance = async (): Promise<void> => {
      if (created) await rmdir(instanceDir).catch(() => undefined);
    };
    try {
      const eventDir = path.join(instanceDir, 'events/skb/kfree_skb');
      let formatText: string;
      try {
        formatText = await readFile(path.join(eventDir, 'format'), 'utf8');
      } catch (err) {
        throw new SourceError('DWO_E_NO_KFREE_SKB', `cannot read ${path.join(eventDir, 'format')}: ${codeOf(err)}`);
      }
      const format = parseEventFormat(formatText);
      if (findField(format, 'location') === undefined) throw new SourceError('DWO_E_NO_KFREE_SKB', `skb:kfree_skb in ${eventDir} has no location field`);
      if (!(await exists(path.join(eventDir, 'hist')))) {
        throw new SourceError('DWO_E_CONFIG', `this kernel has no hist triggers (no ${path.join(eventDir, 'hist')}; CONFIG_HIST_TRIGGERS is off)`, {
          fix: 'Use the tracefs ring source (--source tracefs or auto).',
        });
      }
      const reasonField = findField(format, 'reason') !== undefined;
      const trigger = buildHistTrigger(reasonField, opts.tableSize ?? 8192, buildReasonFilter(format, { ignore: opts.ignoreReasons ?? [], only: opts.onlyReasons ?? [] }) || undefined);
      // The hist path does not use the ring buffer: shrink the instance's to one page per CPU.
      if (created) await writeFile(path.join(instanceDir, 'buffer_size_kb'), '4').catch(() => undefined);
      const triggerFile = path.join(eventDir, 'trigger');
      // Append, never truncate: opening `trigger` with O_TRUNC removes every trigger on the event.
      // Remove a leftover copy first (a reused instance); the kernel rejects a duplicate.
      await appendFile(triggerFile, `!${trigger}\n`).catch(() => undefined);
      try {
        await appendFile(triggerFile, `${trigger}\n`);
      } catch (err) {
        const log = await readFile(path.join(root, 'error_log'), 'utf8').catch(() => '');
        const last = log.trim().split('\n').slice(-3).join(' | ');
        throw new SourceError('DWO_E_INTERNAL', `the kernel refused the hist trigger "${trigger}": ${codeOf(err)}${last ? `; error_log: ${last}` : ''}`, { cause: err });
      }
      return new HistDropSource(instanceDir, created, eventDir, trigger, format, reasonField);
    } catch (err) {
      await removeInstance();
      throw err;
    }
  }

  /** Reads the table and returns the drops counted since the previous poll. */
  poll(): HistPollResult {
    if (this.closed) return { samples: [], events: 0, pages: 0, parseErrors: 0 };
    const text = readFileSync(path.join(this.eventDir, 'hist'), 'utf8');
    const tables = parseHist(text);
    const table = tables.find((t) => t.triggerInfo?.includes('keys=location') === true) ?? tables[0];
    if (table === undefined) return { samples: [], events: 0, pages: 0, parseErrors: text.trim() === '' ? 0 : 1 };
    const { counts, parseErrors } = kfreeSkbCounts(table);
    const changed = diffHistCounts(this.prev, counts);
    this.prev = counts;
    const samples: KernelDropSample[] = changed.map((c) => ({
      location: c.location,
      reasonCode: c.reasonCode,
      reason: this.reasonField ? renderReason(c.reasonCode, this.format.reasons) : 'NOT_SPECIFIED',
      count: Number(c.hitcount),
    }));
    let events = samples.reduce((n, s) => n + s.count, 0);
    if (table.totals !== undefined) {
      const hits = table.totals.hits;
      events = Number(hits >= this.prevHits ? hits - this.prevHits : hits);
      this.prevHits = hits;
      this.dropped = table.totals.dropped;
    }
    return { samples, events, pages: 0, parseErrors };
  }

  /** Events the full table could not count since open (the footer's Dropped). */
  lostEvents(): bigint {
    return this.dropped;
  }

  /** Removes the trigger and, if we created it, the instance. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await appendFile(path.join(this.eventDir, 'trigger'), `!${this.trigger}\n`).catch(() => undefined);
    if (this.createdInstance) await rmdir(this.instanceDir).catch(() => undefined);
  }
}
