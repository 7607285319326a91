// Pure decoder for ftrace ring-buffer sub-buffers as read from per_cpu/cpuN/trace_pipe_raw, and
// the kfree_skb payload decoder/aggregator on top of it. Called by the tracefs source (tracefs.ts)
// once per page read; never throws on bad input. Facts: reference/kernel.md section 1.
import type { KernelDropSample } from '../../domain/types.js';
import { DEFAULT_PAGE_HEADER, FormatParseError, findField, renderReason } from './event-format.js';
import type { EventFormat, PageHeaderLayout } from './event-format.js';

/** Record type_len values above the data range (1–28 inline, 0 with a length word). */
export const TYPE_PADDING = 29;
export const TYPE_TIME_EXTEND = 30;
export const TYPE_TIME_STAMP = 31;

/** Low bits of the commit word: bytes of record data in the page. */
export const COMMIT_LENGTH_MASK = (1 << 27) - 1;
/** Commit flag: events were lost before this page. */
export const COMMIT_MISSED_EVENTS = 0x80000000;
/** Commit flag: the number of lost events is stored (unsigned long) right after the data. */
export const COMMIT_MISSED_STORED = 0x40000000;

const TIME_SHIFT = 2 ** 27;
// Absolute timestamps keep 59 bits; the top 5 come from the running clock.
const ABS_TS_TOP_BITS = 0xf8n << 56n;
const ABS_TS_WRAP = 1n << 59n;

/** The decoded page header. */
export interface PageHeader {
  /** Page timestamp (trace clock units, ns with the default clock); records add deltas to it. */
  readonly timestamp: bigint;
  /** Bytes of record data as the commit word states them (before clamping to the buffer). */
  readonly dataLength: number;
  /** The kernel flagged lost events before this page (overwrite mode only). */
  readonly missedEvents: boolean;
  /**
   * Events lost before this page: the stored count when the kernel stored one, -1 when the page
   * is flagged but carries no count (or the count lies outside the buffer), 0 when not flagged.
   */
  readonly missedCount: number;
}

/** What {@link walkPage} found in one page. */
export interface PageWalk {
  /** Undefined when the buffer is too short to hold a header. */
  readonly header: PageHeader | undefined;
  /** Data records (type_len 0–28) handed to the visitor. */
  readonly dataRecords: number;
  readonly paddingRecords: number;
  readonly timeExtends: number;
  readonly absoluteStamps: number;
  /** Timestamp of the last record walked (the page timestamp if none). */
  readonly lastTimestamp: bigint;
  /** Inconsistencies found: 0 for a good page. Walking stops at the first one in the records. */
  readonly errors: number;
  /** What the first inconsistency was, with its byte offset; undefined when errors is 0. */
  readonly error: string | undefined;
}

/** Receives each data record of a page. */
export interface RecordVisitor {
  /**
   * @param buf the page buffer
   * @param offset byte offset of the payload (common_type) in buf
   * @param length payload length in bytes (may include tail padding up to 4-byte alignment)
   * @param tsOffset nanoseconds since the page timestamp (may be negative after an absolute stamp)
   */
  record(buf: Buffer, offset: number, length: number, tsOffset: number): void;
}

function readHeaderWord(buf: Buffer, offset: number, size: number): bigint {
  return size === 8 ? buf.readBigUInt64LE(offset) : BigInt(buf.readUInt32LE(offset));
}

/**
 * Walks one sub-buffer: header, then every record up to the commit length, keeping the running
 * timestamp. Never throws: a truncated header, a commit beyond the buffer, or a record that is
 * malformed or runs past the data stops the walk (records before it are still visited) and is
 * reported in `errors`/`error`. A commit beyond the buffer is clamped to the buffer and walked.
 * @param length bytes of `buf` that hold the page (what read() returned; default buf.length)
 */
export function walkPage(
  buf: Buffer,
  visitor: RecordVisitor,
  layout: PageHeaderLayout = DEFAULT_PAGE_HEADER,
  length: number = buf.length,
): PageWalk {
  const len = Math.min(length, buf.length);
  let errors = 0;
  let error: string | undefined;
  const fail = (what: string): void => {
    errors++;
    if (error === undefined) error = what;
  };
  const headerEnd = Math.max(layout.dataOffset, layout.commitOffset + layout.commitSize, layout.timestampOffset + layout.timestampSize);
  if (len < headerEnd) {
    fail(`truncated page header: ${len} bytes, need ${headerEnd}`);
    return { header: undefined, dataRecords: 0, paddingRecords: 0, timeExtends: 0, absoluteStamps: 0, lastTimestamp: 0n, errors, error };
  }
  const pageTs = readHeaderWord(buf, layout.timestampOffset, layout.timestampSize);
  // Flags live in bits 31/30 of the low word whatever the size of local_t (little-endian).
  const commit = buf.readUInt32LE(layout.commitOffset);
  const dataLength = commit & COMMIT_LENGTH_MASK;
  const missedEvents = (commit & COMMIT_MISSED_EVENTS) !== 0;
  let missedCount = 0;
  if (missedEvents) {
    missedCount = -1;
    const at = layout.dataOffset + dataLength;
    if ((commit & COMMIT_MISSED_STORED) !== 0) {
      if (at + layout.commitSize <= len) {
        const stored = readHeaderWord(buf, at, layout.commitSize);
        missedCount = stored > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(stored);
      } else {
        fail(`missed-events count stored at ${at} lies past the page end ${len}`);
      }
    }
  }
  const header: PageHeader = { timestamp: pageTs, dataLength, missedEvents, missedCount };

  let end = layout.dataOffset + dataLength;
  if (end > len) {
    fail(`commit ${dataLength} runs past the page end: data would end at ${end}, page has ${len} bytes`);
    end = len;
  }

  let off = layout.dataOffset;
  let ts = 0; // ns since pageTs
  let dataRecords = 0;
  let paddingRecords = 0;
  let timeExtends = 0;
  let absoluteStamps = 0;
  while (off < end) {
    if (off + 4 > end) {
      fail(`record header at ${off} truncated (data ends at ${end})`);
      break;
    }
    const word = buf.readUInt32LE(off);
    const typeLen = word & 31;
    const delta = word >>> 5;
    if (typeLen !== 0 && typeLen <= 28) {
      const payload = typeLen * 4;
      if (off + 4 + payload > end) {
        fail(`record at ${off} (type_len ${typeLen}, ${payload} bytes) runs past the data end ${end}`);
        break;
      }
      ts += delta;
      dataRecords++;
      visitor.record(buf, off + 4, payload, ts);
      off += 4 + payload;
      continue;
    }
    if (typeLen === TYPE_PADDING && delta === 0) {
      // A null padding record: the rest of the page is unused.
      paddingRecords++;
      break;
    }
    if (off + 8 > end) {
      fail(`record at ${off} (type_len ${typeLen}) needs 8 bytes, data ends at ${end}`);
      break;
    }
    const arg = buf.readUInt32LE(off + 4);
    if (typeLen === 0) {
      // array[0] counts itself plus the payload.
      if (arg <= 4 || (arg & 3) !== 0) {
        fail(`record at ${off} has invalid length word ${arg}`);
        break;
      }
      if (off + 4 + arg > end) {
        fail(`record at ${off} (${arg} bytes) runs past the data end ${end}`);
        break;
      }
      ts += delta;
      dataRecords++;
      visitor.record(buf, off + 8, arg - 4, ts);
      off += 4 + arg;
    } else if (typeLen === TYPE_PADDING) {
      if ((arg & 3) !== 0 || off + 4 + arg > end) {
        fail(`padding at ${off} has invalid length ${arg} (data ends at ${end})`);
        break;
      }
      ts += delta;
      paddingRecords++;
      off += 4 + arg;
    } else if (typeLen === TYPE_TIME_EXTEND) {
      ts += arg * TIME_SHIFT + delta;
      timeExtends++;
      off += 8;
    } else {
      // TYPE_TIME_STAMP: absolute time, 59 low bits; take the top bits from the running clock.
      const current = pageTs + BigInt(ts);
      let abs = (BigInt(arg) << 27n) | BigInt(delta);
      const top = current & ABS_TS_TOP_BITS;
      if (top !== 0n) {
        abs |= top;
        if (abs < current) abs += ABS_TS_WRAP;
      }
      ts = Number(abs - pageTs);
      absoluteStamps++;
      off += 8;
    }
  }
  return { header, dataRecords, paddingRecords, timeExtends, absoluteStamps, lastTimestamp: pageTs + BigInt(ts), errors, error };
}

/** Where a kfree_skb record keeps what we need, from the event format. */
export interface KfreeSkbLayout {
  /** Event ID to match against common_type. */
  readonly id: number;
  readonly typeOffset: number;
  readonly typeSize: number;
  readonly locationOffset: number;
  /** 8 on 64-bit kernels, 4 on 32-bit ones. */
  readonly locationSize: number;
  readonly reasonOffset: number;
  /** 0 when the kernel has no reason field (before 5.17). */
  readonly reasonSize: number;
  /** Smallest payload that holds every field read. */
  readonly minPayload: number;
}

/**
 * Derives the record layout from a parsed kfree_skb format.
 * @throws FormatParseError when a needed field is missing or has an unsupported size.
 */
export function kfreeSkbLayout(format: EventFormat): KfreeSkbLayout {
  const type = findField(format, 'common_type') ?? { offset: 0, size: 2 };
  const location = findField(format, 'location');
  if (!location) throw new FormatParseError(`event ${format.name} has no "location" field`);
  if (location.size !== 8 && location.size !== 4) throw new FormatParseError(`location field size ${location.size} is not 4 or 8`);
  if (type.size !== 2 && type.size !== 4) throw new FormatParseError(`common_type size ${type.size} is not 2 or 4`);
  const reason = findField(format, 'reason');
  const reasonSize = reason?.size ?? 0;
  if (reason && ![1, 2, 4, 8].includes(reason.size)) throw new FormatParseError(`reason field size ${reason.size} is not 1, 2, 4 or 8`);
  const reasonOffset = reason?.offset ?? 0;
  const minPayload = Math.max(type.offset + type.size, location.offset + location.size, reasonOffset + reasonSize);
  return {
    id: format.id,
    typeOffset: type.offset,
    typeSize: type.size,
    locationOffset: location.offset,
    locationSize: location.size,
    reasonOffset,
    reasonSize,
    minPayload,
  };
}

/**
 * Counts events by (location, reason) without allocating per event: an open-addressing hash
 * table over typed arrays, keyed by the two 32-bit halves of the location and the reason value.
 * A BigInt and a sample object are created only when draining, once per distinct key.
 */
export class DropAggregator {
  private lo = new Uint32Array(64);
  private hi = new Uint32Array(64);
  private reason = new Uint32Array(64);
  private counts = new Float64Array(64);
  private used = new Uint8Array(64);
  /** Slots in first-seen order, so drain and reset cost O(distinct keys). */
  private order = new Int32Array(64);
  private mask = 63;
  private distinct = 0;
  private total = 0;

  /** Number of distinct (location, reason) keys held. */
  get size(): number {
    return this.distinct;
  }

  /** Number of events added since the last drain. */
  get events(): number {
    return this.total;
  }

  /** Adds `n` events for location (hi:lo) and reason. */
  add(lo: number, hi: number, reason: number, n = 1): void {
    let h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) ^ Math.imul(reason + 0x27d4eb2f, 0xc2b2ae35);
    h ^= h >>> 15;
    let slot = h & this.mask;
    for (;;) {
      if (this.used[slot] === 0) break;
      if (this.lo[slot] === lo && this.hi[slot] === hi && this.reason[slot] === reason) {
        this.counts[slot] = (this.counts[slot] ?? 0) + n;
        this.total += n;
        return;
      }
      slot = (slot + 1) & this.mask;
    }
    this.used[slot] = 1;
    this.lo[slot] = lo;
    this.hi[slot] = hi;
    this.reason[slot] = reason;
    this.counts[slot] = n;
    this.order[this.distinct++] = slot;
    this.total += n;
    if (this.distinct * 2 > this.mask + 1) this.grow();
  }

  private grow(): void {
    const old = { lo: this.lo, hi: this.hi, reason: this.reason, counts: this.counts, order: this.order, n: this.distinct };
    const cap = (this.mask + 1) * 2;
    this.lo = new Uint32Array(cap);
    this.hi = new Uint32Array(cap);
    this.reason = new Uint32Array(cap);
    this.counts = new Float64Array(cap);
    this.used = new Uint8Array(cap);
    this.order = new Int32Array(cap);
    this.mask = cap - 1;
    this.distinct = 0;
    const total = this.total;
    for (let i = 0; i < old.n; i++) {
      const s = old.order[i] ?? 0;
      this.add(old.lo[s] ?? 0, old.hi[s] ?? 0, old.reason[s] ?? 0, old.counts[s] ?? 0);
    }
    this.total = total;
  }

  /**
   * Returns one sample per distinct key, in first-seen order, and empties the aggregator.
   * @param render reason value -> name (called once per key)
   */
  drain(render: (reasonCode: number) => string): KernelDropSample[] {
    const out: KernelDropSample[] = new Array<KernelDropSample>(this.distinct);
    for (let i = 0; i < this.distinct; i++) {
      const s = this.order[i] ?? 0;
      const code = this.reason[s] ?? 0;
      out[i] = {
        location: (BigInt(this.hi[s] ?? 0) << 32n) | BigInt(this.lo[s] ?? 0),
        reasonCode: code,
        reason: render(code),
        count: this.counts[s] ?? 0,
      };
      this.used[s] = 0;
    }
    this.distinct = 0;
    this.total = 0;
    return out;
  }
}

/** Running totals of a {@link KfreeSkbDecoder}; the caller may reset them. */
export interface DecodeTotals {
  pages: number;
  /** kfree_skb events counted. */
  events: number;
  /** Data records of other events (ignored). */
  otherRecords: number;
  /** Inconsistencies: page walk errors plus kfree_skb records too short for the format. */
  errors: number;
  /** The first inconsistency seen since the totals were last reset. */
  firstError: string | undefined;
  /** Pages flagged with lost events before them (overwrite mode). */
  missedPages: number;
  /** Sum of stored lost-event counts. */
  missedEvents: number;
}

/** A fresh, zeroed {@link DecodeTotals}. */
export function emptyTotals(): DecodeTotals {
  return { pages: 0, events: 0, otherRecords: 0, errors: 0, firstError: undefined, missedPages: 0, missedEvents: 0 };
}

/**
 * Decodes kfree_skb records from pages into a {@link DropAggregator}. One instance per source;
 * holds no per-page state between calls apart from the totals.
 */
export class KfreeSkbDecoder implements RecordVisitor {
  readonly layout: KfreeSkbLayout;
  readonly totals: DecodeTotals = emptyTotals();
  private readonly pageLayout: PageHeaderLayout;
  private readonly reasons: ReadonlyMap<number, string>;
  private readonly hasReason: boolean;
  private readonly rendered = new Map<number, string>();
  private sink: DropAggregator;
  private pageErrors = 0;

  /**
   * @throws FormatParseError when the format lacks the fields the decoder needs.
   */
  constructor(format: EventFormat, pageLayout: PageHeaderLayout = DEFAULT_PAGE_HEADER, aggregator: DropAggregator = new DropAggregator()) {
    this.layout = kfreeSkbLayout(format);
    this.pageLayout = pageLayout;
    this.reasons = format.reasons;
    this.hasReason = this.layout.reasonSize > 0;
    this.sink = aggregator;
  }

  /** The aggregator events are added to. */
  get aggregator(): DropAggregator {
    return this.sink;
  }

  /** Reason value -> name, cached; "" when the kernel has no reason field. */
  reasonName = (code: number): string => {
    if (!this.hasReason) return '';
    let name = this.rendered.get(code);
    if (name === undefined) {
      name = renderReason(code, this.reasons);
      this.rendered.set(code, name);
    }
    return name;
  };

  /**
   * Decodes one page into the aggregator and the totals.
   * @param length bytes of buf holding the page (what read() returned)
   * @returns the page walk (for its header and error details)
   */
  decodePage(buf: Buffer, length: number = buf.length): PageWalk {
    this.pageErrors = 0;
    const walk = walkPage(buf, this, this.pageLayout, length);
    const t = this.totals;
    t.pages++;
    if (walk.errors > 0) {
      t.errors += walk.errors;
      if (t.firstError === undefined) t.firstError = walk.error;
    }
    t.errors += this.pageErrors;
    if (walk.header?.missedEvents) {
      t.missedPages++;
      if (walk.header.missedCount > 0) t.missedEvents += walk.header.missedCount;
    }
    return walk;
  }

  /** @internal RecordVisitor: counts one record if it is a kfree_skb event. */
  record(buf: Buffer, offset: number, length: number): void {
    const l = this.layout;
    const type = l.typeSize === 2 ? buf.readUInt16LE(offset + l.typeOffset) : buf.readUInt32LE(offset + l.typeOffset);
    if (type !== l.id) {
      this.totals.otherRecords++;
      return;
    }
    if (length < l.minPayload) {
      this.pageErrors++;
      if (this.totals.firstError === undefined) this.totals.firstError = `kfree_skb record of ${length} bytes is shorter than the format's ${l.minPayload}`;
      return;
    }
    const lo = buf.readUInt32LE(offset + l.locationOffset);
    const hi = l.locationSize === 8 ? buf.readUInt32LE(offset + l.locationOffset + 4) : 0;
    let reason = 0;
    switch (l.reasonSize) {
      case 4:
      case 8:
        reason = buf.readUInt32LE(offset + l.reasonOffset);
        break;
      case 2:
        reason = buf.readUInt16LE(offset + l.reasonOffset);
        break;
      case 1:
        reason = buf.readUInt8(offset + l.reasonOffset);
        break;
      default:
        break;
    }
    this.totals.events++;
    this.sink.add(lo, hi, reason);
  }

  /** Drains the aggregator into samples (one per distinct location and reason). */
  drain(): KernelDropSample[] {
    return this.sink.drain(this.reasonName);
  }
}

/**
 * Convenience for one page: decodes it and returns its samples, event count and errors.
 * Allocates a decoder per call; the live source keeps one {@link KfreeSkbDecoder} instead.
 */
export function decodeDropPage(
  buf: Buffer,
  format: EventFormat,
  layout: PageHeaderLayout = DEFAULT_PAGE_HEADER,
  length: number = buf.length,
): { samples: KernelDropSample[]; events: number; errors: number; error: string | undefined; walk: PageWalk } {
  const decoder = new KfreeSkbDecoder(format, layout);
  const walk = decoder.decodePage(buf, length);
  return { samples: decoder.drain(), events: decoder.totals.events, errors: decoder.totals.errors, error: decoder.totals.firstError, walk };
}
