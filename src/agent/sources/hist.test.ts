// Unit tests for the hist-trigger source: the hist file parser on text written from
// Documentation/trace/histogram.rst, the diffing, and the source driven through a fake tracefs.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HistDropSource, buildHistTrigger, diffHistCounts, kfreeSkbCounts, parseHist } from './hist.js';
import { SourceError } from './errors.js';

// Written from Documentation/trace/histogram.rst: header, trigger info, one line per entry,
// Totals footer. The key is printed with .hex (bare hex), the reason as a padded decimal.
const HIST_V1 = `# event histogram
#
# trigger info: hist:keys=location.hex,reason:vals=hitcount:sort=hitcount:size=8192 if reason != 13 [active]
#

{ location: ffffffff81f2a3b1, reason:          2 } hitcount:          5
{ location: ffffffff8204674c, reason:          3 } hitcount:          7
{ location: ffffffff81e8c1d2, reason:         71 } hitcount:        300

Totals:
    Hits: 312
    Entries: 3
    Dropped: 0
`;

const HIST_V2 = `# event histogram
#
# trigger info: hist:keys=location.hex,reason:vals=hitcount:sort=hitcount:size=8192 if reason != 13 [active]
#

{ location: ffffffff81f2a3b1, reason:          2 } hitcount:          5
{ location: ffffffff8204674c, reason:          3 } hitcount:         27
{ location: ffffffffc0a1b2c3, reason: 4294901761 } hitcount:          1
{ location: ffffffff81e8c1d2, reason:         71 } hitcount:       1300

Totals:
    Hits: 1340
    Entries: 4
    Dropped: 7
`;

describe('parseHist', () => {
  it('reads entries, trigger info and totals', () => {
    const [t, ...rest] = parseHist(HIST_V1);
    expect(rest).toEqual([]);
    expect(t?.triggerInfo).toBe('hist:keys=location.hex,reason:vals=hitcount:sort=hitcount:size=8192 if reason != 13 [active]');
    expect(t?.entries).toHaveLength(3);
    expect(t?.entries[1]?.keys).toEqual(new Map([['location', 'ffffffff8204674c'], ['reason', '3']]));
    expect(t?.entries[1]?.values).toEqual(new Map([['hitcount', 7n]]));
    expect(t?.totals).toEqual({ hits: 312n, entries: 3, dropped: 0n });
    expect(t?.parseErrors).toBe(0);
  });

  it('splits several triggers into several tables', () => {
    const other = `# event histogram
#
# trigger info: hist:keys=protocol:vals=hitcount:sort=hitcount:size=2048 [active]
#

{ protocol:       2048 } hitcount:         12

Totals:
    Hits: 12
    Entries: 1
    Dropped: 0
`;
    const tables = parseHist(`${other}\n${HIST_V1}`);
    expect(tables.map((t) => t.entries.length)).toEqual([1, 3]);
    expect(tables[0]?.triggerInfo).toMatch(/^hist:keys=protocol/);
  });

  it('reads the .sym-offset and plain decimal forms of the documentation', () => {
    const symOffset = `# trigger info: hist:keys=location.sym-offset,reason:vals=hitcount:sort=hitcount:size=2048 [active]

{ location: [ffffffff8204674c] __udp4_lib_rcv+0x4bc/0xd00                              , reason:          3 } hitcount:         12
{ location: [ffffffffc0a1b2c3] mlx5e_handle_rx_cqe+0x63/0x2a0 [mlx5_core]              , reason:          2 } hitcount:          1

Totals:
    Hits: 13
    Entries: 2
    Dropped: 0
`;
    const a = kfreeSkbCounts(parseHist(symOffset)[0] ?? { entries: [], parseErrors: 0 });
    expect([...a.counts.values()]).toEqual([
      { location: 0xffffffff8204674cn, reasonCode: 3, hitcount: 12n },
      { location: 0xffffffffc0a1b2c3n, reasonCode: 2, hitcount: 1n },
    ]);
    // No modifier: the address is printed in decimal (histogram.rst's first kmalloc example).
    const decimal = `{ location: 18446744071595910988, reason:          3 } hitcount:          4\n`;
    const b = kfreeSkbCounts(parseHist(decimal)[0] ?? { entries: [], parseErrors: 0 });
    expect([...b.counts.values()]).toEqual([{ location: 0xffffffff8204674cn, reasonCode: 3, hitcount: 4n }]);
  });

  it('counts lines it cannot read', () => {
    const text = `{ location: ffffffff8204674c, reason: 3 } hitcount: 1\n{ garbage\nsomething odd\n{ location: zz, reason: 3 } hitcount: 1\n`;
    const [t] = parseHist(text);
    expect(t?.entries).toHaveLength(2);
    expect(t?.parseErrors).toBe(2);
    expect(kfreeSkbCounts(t ?? { entries: [], parseErrors: 0 }).parseErrors).toBe(3);
  });

  it('reads a table without the reason key (kernels before 5.17)', () => {
    const [t] = parseHist(`# trigger info: hist:keys=location.hex:vals=hitcount:size=8192 [active]\n{ location: ffffffff8204674c } hitcount:          9\n`);
    expect([...kfreeSkbCounts(t ?? { entries: [], parseErrors: 0 }).counts.values()]).toEqual([{ location: 0xffffffff8204674cn, reasonCode: 0, hitcount: 9n }]);
  });
});

describe('diffHistCounts', () => {
  const count = (loc: bigint, reason: number, n: bigint) => [`${loc.toString(16)}:${reason}`, { location: loc, reasonCode: reason, hitcount: n }] as const;

  it('returns only what grew, and a cleared table counts from zero', () => {
    const prev = new Map([count(1n, 2, 10n), count(2n, 2, 5n)]);
    const cur = new Map([count(1n, 2, 15n), count(2n, 2, 5n), count(3n, 3, 4n)]);
    expect(diffHistCounts(prev, cur)).toEqual([
      { location: 1n, reasonCode: 2, hitcount: 5n },
      { location: 3n, reasonCode: 3, hitcount: 4n },
    ]);
    expect(diffHistCounts(cur, new Map([count(1n, 2, 2n)]))).toEqual([{ location: 1n, reasonCode: 2, hitcount: 2n }]);
  });
});

describe('buildHistTrigger', () => {
  it('keys on the raw location and the reason', () => {
    expect(buildHistTrigger(true, 8192, 'reason != 13')).toBe('hist:keys=location.hex,reason:vals=hitcount:size=8192 if reason != 13');
    expect(buildHistTrigger(false, 2048, undefined)).toBe('hist:keys=location.hex:vals=hitcount:size=2048');
  });
});

const FORMAT = (withReason: boolean): string =>
  [
    'name: kfree_skb',
    'ID: 2310',
    'format:',
    '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
    '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
    '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
    '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
    '',
    '\tfield:void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;',
    '\tfield:void * location;\toffset:16;\tsize:8;\tsigned:0;',
    '\tfield:void * rx_sk;\toffset:24;\tsize:8;\tsigned:0;',
    '\tfield:unsigned short protocol;\toffset:32;\tsize:2;\tsigned:0;',
    ...(withReason ? ['\tfield:enum skb_drop_reason reason;\toffset:36;\tsize:4;\tsigned:0;'] : []),
    '',
    withReason
      ? 'print fmt: "skbaddr=%p rx_sk=%p protocol=%u location=%pS reason: %s", REC->skbaddr, REC->rx_sk, REC->protocol, REC->location, __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" }, { 6, "SOCKET_RCVBUFF" }, { 13, "OTHERHOST" }, { 71, "CPU_BACKLOG" }, { 128, "MAX" })'
      : 'print fmt: "skbaddr=%p protocol=%u location=%p", REC->skbaddr, REC->protocol, REC->location',
    '',
  ].join('\n');

describe('HistDropSource on a fake tracefs', () => {
  let root: string;
  let eventDir: string;

  async function fakeTracefs(opts: { instance?: boolean; hist?: boolean; reason?: boolean } = {}): Promise<void> {
    await mkdir(path.join(root, 'instances'), { recursive: true });
    if (opts.instance === false) return;
    eventDir = path.join(root, 'instances/dw-test/events/skb/kfree_skb');
    await mkdir(eventDir, { recursive: true });
    await writeFile(path.join(eventDir, 'format'), FORMAT(opts.reason ?? true));
    await writeFile(path.join(eventDir, 'trigger'), '');
    if (opts.hist !== false) await writeFile(path.join(eventDir, 'hist'), '');
  }

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'dwo-hist-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('installs the trigger, diffs the table on each poll and removes the trigger on close', async () => {
    await fakeTracefs();
    const src = await HistDropSource.open({ tracefsRoot: root, instance: 'dw-test', ignoreReasons: ['OTHERHOST'] });
    const trigger = 'hist:keys=location.hex,reason:vals=hitcount:size=8192 if reason != 13';
    expect(src.trigger).toBe(trigger);
    // A leftover copy is removed first, then ours is appended (never truncated).
    expect(await readFile(path.join(eventDir, 'trigger'), 'utf8')).toBe(`!${trigger}\n${trigger}\n`);

    expect(src.poll()).toEqual({ samples: [], events: 0, pages: 0, parseErrors: 0 });

    await writeFile(path.join(eventDir, 'hist'), HIST_V1);
    const p1 = src.poll();
    expect(p1.events).toBe(312);
    expect(p1.samples).toEqual([
      { location: 0xffffffff81f2a3b1n, reasonCode: 2, reason: 'NOT_SPECIFIED', count: 5 },
      { location: 0xffffffff8204674cn, reasonCode: 3, reason: 'NO_SOCKET', count: 7 },
      { location: 0xffffffff81e8c1d2n, reasonCode: 71, reason: 'CPU_BACKLOG', count: 300 },
    ]);

    await writeFile(path.join(eventDir, 'hist'), HIST_V2);
    const p2 = src.poll();
    expect(p2.events).toBe(1028);
    expect(p2.samples).toEqual([
      { location: 0xffffffff8204674cn, reasonCode: 3, reason: 'NO_SOCKET', count: 20 },
      { location: 0xffffffffc0a1b2c3n, reasonCode: 4294901761, reason: 'SUBSYS_65535:1', count: 1 },
      { location: 0xffffffff81e8c1d2n, reasonCode: 71, reason: 'CPU_BACKLOG', count: 1000 },
    ]);
    expect(src.lostEvents()).toBe(7n);

    // Unchanged table: nothing new.
    expect(src.poll()).toEqual({ samples: [], events: 0, pages: 0, parseErrors: 0 });

    await src.close();
    await src.close();
    expect(await readFile(path.join(eventDir, 'trigger'), 'utf8')).toBe(`!${trigger}\n${trigger}\n!${trigger}\n`);
    // The instance existed before open, so it stays.
    expect(await readdir(path.join(root, 'instances'))).toEqual(['dw-test']);
    expect(src.poll().samples).toEqual([]);
  });

  it('keys on location only when the kernel has no reason field', async () => {
    await fakeTracefs({ reason: false });
    const src = await HistDropSource.open({ tracefsRoot: root, instance: 'dw-test', ignoreReasons: ['OTHERHOST'] });
    expect(src.trigger).toBe('hist:keys=location.hex:vals=hitcount:size=8192');
    await writeFile(path.join(eventDir, 'hist'), '# trigger info: hist:keys=location.hex:vals=hitcount:size=8192 [active]\n{ location: ffffffff8204674c } hitcount: 4\n');
    expect(src.poll().samples).toEqual([{ location: 0xffffffff8204674cn, reasonCode: 0, reason: 'NOT_SPECIFIED', count: 4 }]);
    await src.close();
  });

  it('refuses a kernel without hist triggers', async () => {
    await fakeTracefs({ hist: false });
    await expect(HistDropSource.open({ tracefsRoot: root, instance: 'dw-test' })).rejects.toMatchObject({ code: 'DWO_E_CONFIG', message: expect.stringMatching(/no hist triggers/) as unknown });
  });

  it('refuses an unknown reason name', async () => {
    await fakeTracefs();
    const err: unknown = await HistDropSource.open({ tracefsRoot: root, instance: 'dw-test', ignoreReasons: ['NOT_A_REASON'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err).toMatchObject({ code: 'DWO_E_UNKNOWN_REASON' });
  });

  it('removes an instance it created when opening fails', async () => {
    await fakeTracefs({ instance: false });
    // mkdir in a plain directory creates an empty instance: no kfree_skb format inside.
    await expect(HistDropSource.open({ tracefsRoot: root, instance: 'dw-new' })).rejects.toMatchObject({ code: 'DWO_E_NO_KFREE_SKB' });
    expect(await readdir(path.join(root, 'instances'))).toEqual([]);
  });
});
