// Parses tracefs self-description files: an event's `format` (ID, fields, reason names from the
// print fmt) and `events/header_page` (the ring-buffer page header layout). Pure text parsing;
// used by the tracefs source (tracefs.ts), the ring-buffer decoder (ring-buffer.ts) and the probe.
import { SourceError } from './errors.js';

/** One `field:` line of an event format file. */
export interface EventField {
  /** Field name without any array suffix, e.g. "location" or "comm" for `char comm[16]`. */
  readonly name: string;
  /** C type as declared, with an array suffix moved onto the type, e.g. "void *", "char[16]". */
  readonly type: string;
  /** Byte offset inside the event payload (common_type is at 0). */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  readonly signed: boolean;
}

/** A parsed event `format` file. */
export interface EventFormat {
  /** Event name, e.g. "kfree_skb". */
  readonly name: string;
  /** Event ID; records carry it in `common_type`. */
  readonly id: number;
  /** Every field, common fields first, in file order. */
  readonly fields: readonly EventField[];
  /** The `print fmt:` line after the colon, verbatim ("" when absent). */
  readonly printFmt: string;
  /**
   * Value -> name from `__print_symbolic(REC->reason, ...)` in the print fmt; empty when the
   * event has no reason field or the list could not be read.
   */
  readonly reasons: ReadonlyMap<number, string>;
}

/** Where the ring-buffer page header puts its fields (from `events/header_page`). */
export interface PageHeaderLayout {
  readonly timestampOffset: number;
  readonly timestampSize: number;
  readonly commitOffset: number;
  /** Size of the commit word (local_t: 8 on 64-bit kernels, 4 on 32-bit); also the size of the stored missed-event count. */
  readonly commitSize: number;
  /** Offset of the first record. */
  readonly dataOffset: number;
  /** Bytes of record data per page as the header file states it (sub-buffer size − dataOffset). */
  readonly dataSize: number;
}

/** The layout of 64-bit kernels (6.18 CI kernel), used when header_page cannot be read. */
export const DEFAULT_PAGE_HEADER: PageHeaderLayout = {
  timestampOffset: 0,
  timestampSize: 8,
  commitOffset: 8,
  commitSize: 8,
  dataOffset: 16,
  dataSize: 4080,
};

/** Error thrown by the parsers when a file does not have the expected shape. */
export class FormatParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatParseError';
  }
}

/** The mask of subsystem drop reasons (SKB_DROP_REASON_SUBSYS_MASK); the subsystem is value >>> 16. */
export const REASON_SUBSYS_MASK = 0xffff0000;

const REASON_PREFIX = 'SKB_DROP_REASON_';

// `field:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;` (signed: is absent on very old kernels)
const FIELD_LINE = /^\s*field:\s*(.+?);\s*offset:\s*(\d+);\s*size:\s*(\d+);(?:\s*signed:\s*(-?\d+);)?/;

/** Splits a C declaration like `unsigned char name[16]` into its name and type. */
function splitDeclaration(decl: string): { name: string; type: string } {
  let rest = decl.trim();
  let suffix = '';
  const arr = /\[[^\]]*\]\s*$/.exec(rest);
  if (arr) {
    suffix = arr[0].trim();
    rest = rest.slice(0, arr.index).trimEnd();
  }
  const id = /([A-Za-z_][A-Za-z0-9_]*)$/.exec(rest);
  if (!id) return { name: rest, type: suffix };
  const type = rest.slice(0, id.index).trimEnd();
  return { name: id[1] ?? rest, type: type + suffix };
}

/**
 * Parses the text of `events/<system>/<event>/format`.
 * @throws FormatParseError when the name, the ID or the field list is missing.
 */
export function parseEventFormat(text: string): EventFormat {
  let name: string | undefined;
  let id: number | undefined;
  let printFmt = '';
  const fields: EventField[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('name:')) {
      name = trimmed.slice(5).trim();
    } else if (trimmed.startsWith('ID:')) {
      const n = Number(trimmed.slice(3).trim());
      if (Number.isInteger(n) && n >= 0) id = n;
    } else if (trimmed.startsWith('field:')) {
      const m = FIELD_LINE.exec(trimmed);
      if (!m) continue;
      const { name: fieldName, type } = splitDeclaration(m[1] ?? '');
      fields.push({
        name: fieldName,
        type,
        offset: Number(m[2]),
        size: Number(m[3]),
        signed: m[4] !== undefined && m[4] !== '0',
      });
    } else if (trimmed.startsWith('print fmt:')) {
      printFmt = trimmed.slice('print fmt:'.length).trim();
    }
  }
  if (name === undefined || name === '') throw new FormatParseError('event format has no "name:" line');
  if (id === undefined) throw new FormatParseError(`event format for ${name} has no valid "ID:" line`);
  if (fields.length === 0) throw new FormatParseError(`event format for ${name} has no "field:" lines`);
  const hasReason = fields.some((f) => f.name === 'reason');
  const reasons = hasReason ? parseSymbolicList(printFmt, 'reason') : new Map<number, string>();
  return { name, id, fields, printFmt, reasons };
}

/** Finds a field by name. */
export function findField(format: EventFormat, name: string): EventField | undefined {
  return format.fields.find((f) => f.name === name);
}

/** Parses one C integer literal as printed in a print fmt (decimal, hex, octal, optional U/L suffixes, sign). */
function parseCInteger(literal: string): number | undefined {
  let s = literal.trim().replace(/^\((?:[^()]*)\)\s*/, ''); // drop a leading cast such as (unsigned long)
  s = s.replace(/[uUlL]+$/, '');
  let negative = false;
  if (s.startsWith('-')) {
    negative = true;
    s = s.slice(1).trim();
  }
  let value: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) value = parseInt(s.slice(2), 16);
  else if (/^0[0-7]+$/.test(s)) value = parseInt(s.slice(1), 8);
  else if (/^\d+$/.test(s)) value = parseInt(s, 10);
  else return undefined;
  return negative ? -value : value;
}

/**
 * Reads the `__print_symbolic(REC-><field>, { value, "NAME" }, ...)` list of a print fmt into a
 * map. Entries whose value is not a plain integer (an enum the kernel did not resolve) are skipped.
 * Returns an empty map when the list is absent.
 */
export function parseSymbolicList(printFmt: string, fieldName: string): Map<number, string> {
  const out = new Map<number, string>();
  const head = new RegExp(`__print_symbolic\\(\\s*REC->${fieldName}\\s*,`);
  const start = head.exec(printFmt);
  if (!start) return out;
  const entry = /\s*,?\s*\{\s*([^,{}"]+?)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\}/y;
  entry.lastIndex = start.index + start[0].length;
  for (;;) {
    const m = entry.exec(printFmt);
    if (!m) break;
    const value = parseCInteger(m[1] ?? '');
    const label = m[2] ?? '';
    if (value !== undefined && label !== '' && !out.has(value)) out.set(value, label);
  }
  return out;
}

/**
 * Renders a raw reason value: the print fmt name when known; subsystem reasons (top 16 bits set)
 * as "SUBSYS_<subsystem>:<code>"; anything else as "UNKNOWN_<value>".
 */
export function renderReason(value: number, reasons: ReadonlyMap<number, string>): string {
  const known = reasons.get(value);
  if (known !== undefined) return known;
  const v = value >>> 0;
  if ((v & REASON_SUBSYS_MASK) !== 0) return `SUBSYS_${v >>> 16}:${v & 0xffff}`;
  return `UNKNOWN_${value}`;
}

/**
 * Looks a reason name up in the print fmt list: case-insensitive, with or without the
 * SKB_DROP_REASON_ prefix. Also accepts the forms renderReason prints ("UNKNOWN_<n>",
 * "SUBSYS_<s>:<code>") and plain decimal numbers. Returns undefined for names this kernel
 * does not know.
 */
export function reasonNumber(name: string, reasons: ReadonlyMap<number, string>): number | undefined {
  let wanted = name.trim().toUpperCase();
  if (wanted.startsWith(REASON_PREFIX)) wanted = wanted.slice(REASON_PREFIX.length);
  if (wanted === '') return undefined;
  for (const [value, label] of reasons) {
    if (label.toUpperCase() === wanted) return value;
  }
  if (/^\d+$/.test(wanted)) return Number(wanted);
  const unknown = /^UNKNOWN_(\d+)$/.exec(wanted);
  if (unknown) return Number(unknown[1]);
  const subsys = /^SUBSYS_(\d+):(\d+)$/.exec(wanted);
  if (subsys) {
    const s = Number(subsys[1]);
    const c = Number(subsys[2]);
    if (s > 0 && s <= 0xffff && c <= 0xffff) return ((s << 16) | c) >>> 0;
  }
  return undefined;
}

/**
 * Parses `events/header_page`. Reads the timestamp, commit and data fields; ignores the
 * `overwrite` alias of the commit word.
 * @throws FormatParseError when the commit or data field is missing or implausible.
 */
export function parseHeaderPage(text: string): PageHeaderLayout {
  const byName = new Map<string, { offset: number; size: number }>();
  for (const line of text.split('\n')) {
    const m = FIELD_LINE.exec(line);
    if (!m) continue;
    const { name } = splitDeclaration(m[1] ?? '');
    if (!byName.has(name)) byName.set(name, { offset: Number(m[2]), size: Number(m[3]) });
  }
  const ts = byName.get('timestamp');
  const commit = byName.get('commit');
  const data = byName.get('data');
  if (!commit || !data) throw new FormatParseError('header_page has no "commit" or "data" field');
  if (commit.size !== 4 && commit.size !== 8) throw new FormatParseError(`header_page commit size ${commit.size} is not 4 or 8`);
  if (data.offset < commit.offset + commit.size || data.size <= 0) {
    throw new FormatParseError(`header_page data field (offset ${data.offset}, size ${data.size}) is implausible`);
  }
  return {
    timestampOffset: ts?.offset ?? 0,
    timestampSize: ts?.size ?? 8,
    commitOffset: commit.offset,
    commitSize: commit.size,
    dataOffset: data.offset,
    dataSize: data.size,
  };
}

/**
 * The in-kernel event filter for reasons to record: `(reason == A || reason == B) && reason != C`.
 * Empty when there is nothing to filter, or when the kernel has no reason field (before 5.17;
 * drops then carry reason "" and callers see that in the source's `reasonField`).
 * @throws SourceError DWO_E_UNKNOWN_REASON listing every name this kernel knows
 */
export function buildReasonFilter(format: EventFormat, sel: { readonly ignore: readonly string[]; readonly only?: readonly string[] }): string {
  const only = sel.only ?? [];
  if ((sel.ignore.length === 0 && only.length === 0) || !findField(format, 'reason')) return '';
  const unknown: string[] = [];
  const numbers = (names: readonly string[]): number[] => {
    const out: number[] = [];
    for (const name of names) {
      const v = reasonNumber(name, format.reasons);
      if (v === undefined) unknown.push(name);
      else if (!out.includes(v)) out.push(v);
    }
    return out;
  };
  const ignore = numbers(sel.ignore);
  const keep = numbers(only);
  if (unknown.length > 0) {
    const valid = [...format.reasons.values()].join(', ');
    throw new SourceError('DWO_E_UNKNOWN_REASON', `unknown drop reason${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}; this kernel knows: ${valid}`);
  }
  const parts: string[] = [];
  if (keep.length === 1) parts.push(`reason == ${keep[0]}`);
  else if (keep.length > 1) parts.push(`(${keep.map((v) => `reason == ${v}`).join(' || ')})`);
  parts.push(...ignore.map((v) => `reason != ${v}`));
  return parts.join(' && ');
}
