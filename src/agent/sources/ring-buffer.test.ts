// Unit tests for the ring-buffer page decoder: real pages recorded from the 6.18 CI kernel
// (test/fixtures/ring/record.sh) and synthetic pages for every record type and corruption.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PAGE_HEADER, parseEventFormat, parseHeaderPage } from './event-format.js';
import type { PageHeaderLayout } from './event-format.js';
import {
  COMMIT_MISSED_EVENTS,
  COMMIT_MISSED_STORED,
  DropAggregator,
  KfreeSkbDecoder,
  decodeDropPage,
  walkPage,
} from './ring-buffer.js';
import type { RecordVisitor } from './ring-buffer.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/ring');
const FORMAT = parseEventFormat(readFileSync(path.join(FIXTURES, 'kfree_skb.format'), 'utf8'));
const LAYOUT = parseHeaderPage(readFileSync(path.join(FIXTURES, 'header_page'), 'utf8'));
const PAGE = 4096;
const ID = FORMAT.id;
const UDP_SITE = 0xffffffff820490ccn; // __udp4_lib_rcv on the recorded kernel

function pages(file: string): Buffer[] {
  const all = readFileSync(path.join(FIXTURES, file));
  const out: Buffer[] = [];
  for (let off = 0; off < all.length; off += PAGE) out.push(all.subarray(off, off + PAGE));
  return out;
}

/** A 40-byte kfree_skb payload laid out like the 6.18 format. */
function kfree(location: bigint, reason: number, type = ID): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt16LE(type, 0);
  b.writeInt32LE(4321, 4);
  b.writeBigUInt64LE(0xffff888100000000n, 8);
  b.writeBigUInt64LE(location, 16);
  b.writeUInt16LE(0x0800, 32);
  b.writeUInt32LE(reason, 36);
  return b;
}

/** Builds a sub-buffer record by record. */
class PageBuilder {
  private readonly chunks: Buffer[] = [];
  constructor(private readonly timestamp = 1_000_000n) {}

  private word(typeLen: number, delta: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(((delta << 5) | typeLen) >>> 0, 0);
    return b;
  }

  /** Data record with the length in type_len (payload 4..112 bytes, multiple of 4). */
  inline(payload: Buffer, delta = 0): this {
    const padded = Buffer.concat([payload, Buffer.alloc((4 - (payload.length % 4)) % 4)]);
    this.chunks.push(this.word(padded.length / 4, delta), padded);
    return this;
  }

  /** Data record with type_len 0 and the length in array[0]. */
  array(payload: Buffer, delta = 0): this {
    const padded = Buffer.concat([payload, Buffer.alloc((4 - (payload.length % 4)) % 4)]);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(padded.length + 4, 0);
    this.chunks.push(this.word(0, delta), len, padded);
    return this;
  }

  /** Padding (a discarded event) of `bytes` after its 8-byte header, time_delta non-zero. */
  padding(bytes: number, delta = 1): this {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(bytes + 4, 0);
    this.chunks.push(this.word(29, delta), len, Buffer.alloc(bytes, 0xee));
    return this;
  }

  /** Null padding: time_delta 0, the rest of the page is unused. */
  nullPadding(): this {
    this.chunks.push(this.word(29, 0));
    return this;
  }

  extend(ns: number): this {
    const arr = Buffer.alloc(4);
    arr.writeUInt32LE(Math.floor(ns / 2 ** 27), 0);
    this.chunks.push(this.word(30, ns % 2 ** 27), arr);
    return this;
  }

  absolute(ts: bigint): this {
    const arr = Buffer.alloc(4);
    arr.writeUInt32LE(Number((ts >> 27n) & 0xffffffffn), 0);
    this.chunks.push(this.word(31, Number(ts & ((1n << 27n) - 1n))), arr);
    return this;
  }

  raw(bytes: Buffer): this {
    this.chunks.push(bytes);
    return this;
  }

  get dataLength(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  build(opts: { commit?: number; flags?: number; missed?: bigint; size?: number } = {}): Buffer {
    const page = Buffer.alloc(opts.size ?? PAGE);
    page.writeBigUInt64LE(this.timestamp, 0);
    const data = Buffer.concat(this.chunks);
    const commit = opts.commit ?? data.length;
    data.copy(page, 16, 0, Math.min(data.length, page.length - 16));
    page.writeUInt32LE(((commit | (opts.flags ?? 0)) >>> 0), 8);
    if (opts.missed !== undefined) page.writeBigUInt64LE(opts.missed, 16 + commit);
    return page;
  }
}

interface Seen {
  offset: number;
  length: number;
  ts: number;
}

function collect(buf: Buffer, layout: PageHeaderLayout = LAYOUT, length?: number): { seen: Seen[]; walk: ReturnType<typeof walkPage> } {
  const seen: Seen[] = [];
  const visitor: RecordVisitor = { record: (_b, offset, len, ts) => seen.push({ offset, length: len, ts }) };
  const walk = walkPage(buf, visitor, layout, length);
  return { seen, walk };
}

describe('real pages from the 6.18 kernel', () => {
  it('decodes 200 NO_SOCKET drops across three pages, with a time extend after the pause', () => {
    const decoder = new KfreeSkbDecoder(FORMAT, LAYOUT);
    let extends_ = 0;
    let prev = 0n;
    for (const page of pages('udp-200.bin')) {
      const walk = decoder.decodePage(page);
      expect(walk.errors).toBe(0);
      expect(walk.header!.missedEvents).toBe(false);
      expect(walk.header!.timestamp).toBeGreaterThan(prev);
      expect(walk.lastTimestamp).toBeGreaterThanOrEqual(walk.header!.timestamp);
      prev = walk.lastTimestamp;
      extends_ += walk.timeExtends;
    }
    expect(extends_).toBeGreaterThanOrEqual(1);
    expect(decoder.totals).toMatchObject({ pages: 3, events: 200, errors: 0, otherRecords: 0 });
    expect(decoder.drain()).toEqual([{ location: UDP_SITE, reasonCode: 3, reason: 'NO_SOCKET', count: 200 }]);
    expect(decoder.drain()).toEqual([]);
  });

  it('holds 92 kfree_skb records (44 bytes each) in a full 4 KiB page', () => {
    const first = pages('udp-200.bin')[0]!;
    const { seen, walk } = collect(first);
    expect(walk.header!.dataLength).toBe(92 * 44);
    expect(seen).toHaveLength(92);
    expect(seen.every((s) => s.length === 40)).toBe(true);
  });

  it('reads the stored missed-events count of an overwrite-mode page', () => {
    const [first, second] = pages('overwrite-missed.bin');
    const w1 = decodeDropPage(first!, FORMAT, LAYOUT).walk;
    expect(w1.header).toMatchObject({ missedEvents: true, missedCount: 2760 });
    const w2 = decodeDropPage(second!, FORMAT, LAYOUT).walk;
    expect(w2.header).toMatchObject({ missedEvents: false, missedCount: 0 });
    const decoder = new KfreeSkbDecoder(FORMAT, LAYOUT);
    for (const p of pages('overwrite-missed.bin')) decoder.decodePage(p);
    expect(decoder.totals).toMatchObject({ events: 240, missedPages: 1, missedEvents: 2760, errors: 0 });
  });

  it('decodes a page read back with fewer bytes than the buffer (length argument)', () => {
    const last = pages('udp-200.bin')[2]!;
    const r = decodeDropPage(last, FORMAT, LAYOUT, 16 + 704);
    expect(r.events).toBe(16);
    expect(r.errors).toBe(0);
  });
});

describe('synthetic pages: every record type', () => {
  it('walks inline data records of every type_len 1..28 with running timestamps', () => {
    const b = new PageBuilder();
    for (let t = 1; t <= 28; t++) b.inline(Buffer.alloc(t * 4, t), t * 10);
    const { seen, walk } = collect(b.build());
    expect(walk.errors).toBe(0);
    expect(seen.map((s) => s.length)).toEqual(Array.from({ length: 28 }, (_, i) => (i + 1) * 4));
    let ts = 0;
    seen.forEach((s, i) => {
      ts += (i + 1) * 10;
      expect(s.ts).toBe(ts);
    });
    expect(walk.lastTimestamp).toBe(1_000_000n + BigInt(ts));
  });

  it('counts kfree_skb events only from records of the event ID, in both data encodings', () => {
    const b = new PageBuilder()
      .inline(kfree(UDP_SITE, 3))
      .array(kfree(UDP_SITE, 3))
      .inline(kfree(UDP_SITE, 13))
      .inline(kfree(0xffffffff81000010n, 3))
      .inline(kfree(UDP_SITE, 3, ID + 1)) // another event
      .array(Buffer.alloc(200, 1)); // large record of another event
    const r = decodeDropPage(b.build(), FORMAT, LAYOUT);
    expect(r.errors).toBe(0);
    expect(r.events).toBe(4);
    expect(r.samples).toEqual([
      { location: UDP_SITE, reasonCode: 3, reason: 'NO_SOCKET', count: 2 },
      { location: UDP_SITE, reasonCode: 13, reason: 'OTHERHOST', count: 1 },
      { location: 0xffffffff81000010n, reasonCode: 3, reason: 'NO_SOCKET', count: 1 },
    ]);
  });

  it('renders subsystem and unknown reasons', () => {
    const b = new PageBuilder().inline(kfree(UDP_SITE, 0x30002)).inline(kfree(UDP_SITE, 999));
    expect(decodeDropPage(b.build(), FORMAT, LAYOUT).samples.map((s) => s.reason)).toEqual(['SUBSYS_3:2', 'UNKNOWN_999']);
  });

  it('reads type_len 0 records: payload after array[0], which counts itself', () => {
    const { seen, walk } = collect(new PageBuilder().array(Buffer.alloc(40), 5).array(Buffer.alloc(120), 7).build());
    expect(walk.errors).toBe(0);
    expect(seen).toEqual([
      { offset: 24, length: 40, ts: 5 },
      { offset: 16 + 48 + 8, length: 120, ts: 12 },
    ]);
  });

  it('skips padding with a time delta and keeps going; null padding ends the page', () => {
    const b = new PageBuilder().inline(kfree(UDP_SITE, 3), 1).padding(36, 100).inline(kfree(UDP_SITE, 3), 2).nullPadding().inline(kfree(UDP_SITE, 3));
    const { seen, walk } = collect(b.build());
    expect(walk.errors).toBe(0);
    expect(walk.paddingRecords).toBe(2);
    expect(seen.map((s) => s.ts)).toEqual([1, 103]);
    expect(decodeDropPage(b.build(), FORMAT, LAYOUT).events).toBe(2);
  });

  it('adds time extends: (array[0] << 27) + time_delta', () => {
    const big = 5 * 2 ** 27 + 12345;
    const { seen, walk } = collect(new PageBuilder().inline(kfree(UDP_SITE, 3), 3).extend(big).inline(kfree(UDP_SITE, 3), 0).inline(kfree(UDP_SITE, 3), 4).build());
    expect(walk.timeExtends).toBe(1);
    expect(seen.map((s) => s.ts)).toEqual([3, 3 + big, 7 + big]);
    expect(walk.lastTimestamp).toBe(1_000_000n + BigInt(7 + big));
  });

  it('applies absolute timestamps, taking the top bits from the page clock', () => {
    const { seen, walk } = collect(new PageBuilder(1_000_000n).inline(kfree(UDP_SITE, 3), 1).absolute(2_000_000n).inline(kfree(UDP_SITE, 3), 5).build());
    expect(walk.absoluteStamps).toBe(1);
    expect(seen.map((s) => s.ts)).toEqual([1, 1_000_005]);
    expect(walk.lastTimestamp).toBe(2_000_005n);

    const top = 0x1n << 59n; // a clock with bits above the 59 the record keeps
    const r = collect(new PageBuilder(top + 100n).absolute(top + 500n).inline(kfree(UDP_SITE, 3)).build());
    expect(r.walk.lastTimestamp).toBe(top + 500n);
  });

  it('reports MISSED_EVENTS without a stored count as -1 and with one as the count', () => {
    const b = new PageBuilder().inline(kfree(UDP_SITE, 3));
    expect(collect(b.build({ flags: COMMIT_MISSED_EVENTS })).walk.header).toMatchObject({ missedEvents: true, missedCount: -1 });
    const stored = collect(b.build({ flags: COMMIT_MISSED_EVENTS | COMMIT_MISSED_STORED, missed: 736n }));
    expect(stored.walk.header).toMatchObject({ missedEvents: true, missedCount: 736, dataLength: 44 });
    expect(stored.walk.errors).toBe(0);
    expect(stored.seen).toHaveLength(1);
  });

  it('reads the flags in the low word even when the kernel sign-extended them into the high word', () => {
    const page = new PageBuilder().inline(kfree(UDP_SITE, 3)).build();
    page.writeBigUInt64LE(0xffffffff80000000n | 44n, 8);
    expect(collect(page).walk.header).toMatchObject({ missedEvents: true, missedCount: -1, dataLength: 44 });
  });

  it('follows a 32-bit header layout', () => {
    const layout: PageHeaderLayout = { timestampOffset: 0, timestampSize: 8, commitOffset: 8, commitSize: 4, dataOffset: 12, dataSize: 4084 };
    const data = new PageBuilder().inline(Buffer.alloc(8, 1), 9).build();
    const page = Buffer.alloc(PAGE);
    data.copy(page, 0, 0, 12);
    page.writeUInt32LE((12 | COMMIT_MISSED_EVENTS | COMMIT_MISSED_STORED) >>> 0, 8);
    data.copy(page, 12, 16, 16 + 12);
    page.writeUInt32LE(77, 12 + 12);
    const { seen, walk } = collect(page, layout);
    expect(walk.errors).toBe(0);
    expect(walk.header).toMatchObject({ missedCount: 77, dataLength: 12 });
    expect(seen).toEqual([{ offset: 16, length: 8, ts: 9 }]);
  });
});

describe('synthetic pages: corruption never throws and keeps earlier events', () => {
  const two = (): PageBuilder => new PageBuilder().inline(kfree(UDP_SITE, 3)).inline(kfree(UDP_SITE, 3));

  it('truncated header', () => {
    for (const n of [0, 1, 8, 15]) {
      const r = decodeDropPage(Buffer.alloc(n), FORMAT, LAYOUT);
      expect(r.errors).toBe(1);
      expect(r.error).toMatch(/truncated page header/);
      expect(r.events).toBe(0);
      expect(r.walk.header).toBeUndefined();
    }
  });

  it('commit bigger than the page: clamps, counts the events that are there', () => {
    const r = decodeDropPage(two().build({ commit: 5000 }), FORMAT, LAYOUT);
    expect(r.events).toBe(2);
    expect(r.errors).toBeGreaterThanOrEqual(1);
    expect(r.error).toMatch(/runs past the page end/);
  });

  it('record length past the end of the data', () => {
    const b = two();
    const bad = Buffer.alloc(8);
    bad.writeUInt32LE(0, 0); // type_len 0
    bad.writeUInt32LE(4000, 4);
    b.raw(bad);
    const r = decodeDropPage(b.build(), FORMAT, LAYOUT);
    expect(r).toMatchObject({ events: 2, errors: 1 });
    expect(r.error).toMatch(/runs past the data end/);

    const inline = decodeDropPage(two().inline(kfree(UDP_SITE, 3)).build({ commit: 2 * 44 + 20 }), FORMAT, LAYOUT);
    expect(inline).toMatchObject({ events: 2, errors: 1 });
  });

  it('zero-length array[0]', () => {
    const r = decodeDropPage(two().raw(Buffer.alloc(8)).inline(kfree(UDP_SITE, 3)).build(), FORMAT, LAYOUT);
    expect(r).toMatchObject({ events: 2, errors: 1 });
    expect(r.error).toMatch(/invalid length word 0/);
  });

  it('record header cut by the commit', () => {
    const r = decodeDropPage(two().build({ commit: 2 * 44 + 2 }), FORMAT, LAYOUT);
    expect(r).toMatchObject({ events: 2, errors: 1 });
    expect(r.error).toMatch(/truncated/);
    const ext = decodeDropPage(two().extend(2 ** 30).build({ commit: 2 * 44 + 4 }), FORMAT, LAYOUT);
    expect(ext).toMatchObject({ events: 2, errors: 1 });
  });

  it('misaligned padding, stored count past the end, short kfree_skb record', () => {
    const pad = Buffer.alloc(8);
    pad.writeUInt32LE((1 << 5) | 29, 0);
    pad.writeUInt32LE(6, 4);
    expect(decodeDropPage(two().raw(pad).build(), FORMAT, LAYOUT)).toMatchObject({ events: 2, errors: 1 });

    const full = two().build({ size: 16 + 88, flags: COMMIT_MISSED_EVENTS | COMMIT_MISSED_STORED });
    const r = decodeDropPage(full, FORMAT, LAYOUT);
    expect(r).toMatchObject({ events: 2, errors: 1 });
    expect(r.walk.header?.missedCount).toBe(-1);

    const short = Buffer.alloc(12);
    short.writeUInt16LE(ID, 0);
    const s = decodeDropPage(two().inline(short).inline(kfree(UDP_SITE, 3)).build(), FORMAT, LAYOUT);
    expect(s).toMatchObject({ events: 3, errors: 1 });
    expect(s.error).toMatch(/shorter than the format/);
  });

  it('random bytes never throw', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const real = pages('udp-200.bin')[0]!;
    for (let i = 0; i < 2000; i++) {
      const page = i % 2 === 0 ? Buffer.from(real) : Buffer.alloc(PAGE);
      const flips = 1 + (rand() % 64);
      for (let k = 0; k < flips; k++) page.writeUInt32LE(rand(), (rand() % (PAGE / 4)) * 4);
      const len = i % 7 === 0 ? rand() % PAGE : PAGE;
      expect(() => decodeDropPage(page, FORMAT, LAYOUT, len)).not.toThrow();
    }
  });
});

describe('formats of other kernels', () => {
  it('decodes a kernel without a reason field: code 0, reason ""', () => {
    const old = parseEventFormat(
      'name: kfree_skb\nID: 77\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:void * location;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:unsigned short protocol;\toffset:24;\tsize:2;\tsigned:0;\n',
    );
    const p = Buffer.alloc(28);
    p.writeUInt16LE(77, 0);
    p.writeBigUInt64LE(0xffffffff81234567n, 16);
    const r = decodeDropPage(new PageBuilder().inline(p).inline(p).build(), old, DEFAULT_PAGE_HEADER);
    expect(r.samples).toEqual([{ location: 0xffffffff81234567n, reasonCode: 0, reason: '', count: 2 }]);
  });
});

describe('DropAggregator', () => {
  it('keeps exact counts across growth and empties on drain', () => {
    const agg = new DropAggregator();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5000; i++) agg.add(0x81000000 + i * 16, 0xffffffff, i % 7, 1 + (i % 3));
    }
    expect(agg.size).toBe(5000);
    const samples = agg.drain((c) => `R${c}`);
    expect(samples).toHaveLength(5000);
    expect(samples[10]).toEqual({ location: 0xffffffff810000a0n, reasonCode: 3, reason: 'R3', count: 3 * 2 });
    let expected = 0;
    for (let i = 0; i < 5000; i++) expected += 3 * (1 + (i % 3));
    expect(samples.reduce((n, s) => n + s.count, 0)).toBe(expected);
    expect(agg.events).toBe(0);
    expect(agg.size).toBe(0);
    agg.add(1, 2, 3);
    expect(agg.drain(String)).toEqual([{ location: (2n << 32n) | 1n, reasonCode: 3, reason: '3', count: 1 }]);
  });

  it('separates keys that differ only in the high half or the reason', () => {
    const agg = new DropAggregator();
    agg.add(5, 1, 0);
    agg.add(5, 2, 0);
    agg.add(5, 1, 1);
    agg.add(5, 1, 0);
    expect(agg.drain(String).map((s) => s.count)).toEqual([2, 1, 1]);
  });
});
