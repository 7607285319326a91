// Unit tests for the tracefs format parsers, against files recorded from the 6.18 CI kernel
// (test/fixtures/ring/) and hand-written formats of older kernels.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PAGE_HEADER,
  FormatParseError,
  findField,
  parseEventFormat,
  parseHeaderPage,
  parseSymbolicList,
  reasonNumber,
  renderReason,
} from './event-format.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/ring');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

// skb:kfree_skb as printed by 5.10-era kernels: no reason, no rx_sk.
const OLD_FORMAT = `name: kfree_skb
ID: 1234
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:void * location;\toffset:16;\tsize:8;\tsigned:0;
\tfield:unsigned short protocol;\toffset:24;\tsize:2;\tsigned:0;

print fmt: "skbaddr=%p protocol=%u location=%p", REC->skbaddr, REC->protocol, REC->location
`;

describe('parseEventFormat on the recorded 6.18 kfree_skb format', () => {
  const format = parseEventFormat(fixture('kfree_skb.format'));

  it('reads the name, the ID and every field with offset, size and signedness', () => {
    expect(format.name).toBe('kfree_skb');
    expect(format.id).toBe(2310);
    expect(format.fields.map((f) => f.name)).toEqual([
      'common_type', 'common_flags', 'common_preempt_count', 'common_pid', 'skbaddr', 'location', 'rx_sk', 'protocol', 'reason',
    ]);
    expect(findField(format, 'common_pid')).toEqual({ name: 'common_pid', type: 'int', offset: 4, size: 4, signed: true });
    expect(findField(format, 'location')).toEqual({ name: 'location', type: 'void *', offset: 16, size: 8, signed: false });
    expect(findField(format, 'reason')).toEqual({ name: 'reason', type: 'enum skb_drop_reason', offset: 36, size: 4, signed: false });
    expect(format.printFmt.startsWith('"skbaddr=%p')).toBe(true);
  });

  it('maps reason values to names from __print_symbolic', () => {
    expect(format.reasons.get(2)).toBe('NOT_SPECIFIED');
    expect(format.reasons.get(3)).toBe('NO_SOCKET');
    expect(format.reasons.get(13)).toBe('OTHERHOST');
    expect(format.reasons.get(128)).toBe('MAX');
    expect(format.reasons.size).toBe(127);
  });

  it('renders known, subsystem and unknown reasons', () => {
    expect(renderReason(3, format.reasons)).toBe('NO_SOCKET');
    expect(renderReason(0x30002, format.reasons)).toBe('SUBSYS_3:2');
    expect(renderReason(0x10000, format.reasons)).toBe('SUBSYS_1:0');
    expect(renderReason(0xffff0001, format.reasons)).toBe('SUBSYS_65535:1');
    expect(renderReason(500, format.reasons)).toBe('UNKNOWN_500');
    expect(renderReason(0, format.reasons)).toBe('UNKNOWN_0');
  });

  it('looks reason names up for filters', () => {
    expect(reasonNumber('OTHERHOST', format.reasons)).toBe(13);
    expect(reasonNumber('skb_drop_reason_otherhost', format.reasons)).toBe(13);
    expect(reasonNumber(' No_Socket ', format.reasons)).toBe(3);
    expect(reasonNumber('NOT_A_REASON', format.reasons)).toBeUndefined();
    expect(reasonNumber('', format.reasons)).toBeUndefined();
    expect(reasonNumber('UNKNOWN_500', format.reasons)).toBe(500);
    expect(reasonNumber('SUBSYS_3:2', format.reasons)).toBe(0x30002);
    expect(reasonNumber('42', format.reasons)).toBe(42);
  });
});

describe('parseEventFormat on other shapes', () => {
  it('parses a kernel without a reason field', () => {
    const f = parseEventFormat(OLD_FORMAT);
    expect(f.id).toBe(1234);
    expect(findField(f, 'reason')).toBeUndefined();
    expect(findField(f, 'protocol')?.offset).toBe(24);
    expect(f.reasons.size).toBe(0);
  });

  it('moves array suffixes onto the type and handles missing signed:', () => {
    const f = parseEventFormat(`name: x\nID: 7\nformat:\n\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:1;\n\tfield:__data_loc char[] name;\toffset:24;\tsize:4;\n`);
    expect(f.fields[0]).toEqual({ name: 'comm', type: 'char[16]', offset: 8, size: 16, signed: true });
    expect(f.fields[1]).toEqual({ name: 'name', type: '__data_loc char[]', offset: 24, size: 4, signed: false });
  });

  it('rejects files without a name, an ID or fields', () => {
    expect(() => parseEventFormat('ID: 5\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:1;\n')).toThrow(FormatParseError);
    expect(() => parseEventFormat('name: a\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:1;\n')).toThrow(/ID/);
    expect(() => parseEventFormat('name: a\nID: 3\n')).toThrow(/field/);
  });
});

describe('parseSymbolicList', () => {
  it('reads hex, suffixed and spaced values and skips unresolved enum names', () => {
    const fmt = '"r=%s", __print_symbolic(REC->reason, {0x2, "A"},{ 3UL , "B" }, { SKB_DROP_REASON_C, "C" }, { 010, "D" })';
    expect([...parseSymbolicList(fmt, 'reason')]).toEqual([[2, 'A'], [3, 'B'], [8, 'D']]);
  });

  it('only reads the list of the requested field', () => {
    const fmt = '"%s %s", __print_symbolic(REC->proto, { 1, "P" }), __print_symbolic(REC->reason, { 5, "R" })';
    expect([...parseSymbolicList(fmt, 'reason')]).toEqual([[5, 'R']]);
    expect(parseSymbolicList('"x"', 'reason').size).toBe(0);
  });
});

describe('parseHeaderPage', () => {
  it('reads the recorded 6.18 header_page and ignores the overwrite alias', () => {
    expect(parseHeaderPage(fixture('header_page'))).toEqual(DEFAULT_PAGE_HEADER);
  });

  it('reads a 32-bit layout', () => {
    const text = `\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:4;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:12;\tsize:4084;\tsigned:0;
`;
    expect(parseHeaderPage(text)).toEqual({ timestampOffset: 0, timestampSize: 8, commitOffset: 8, commitSize: 4, dataOffset: 12, dataSize: 4084 });
  });

  it('rejects a header without commit or data', () => {
    expect(() => parseHeaderPage('\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n')).toThrow(FormatParseError);
    expect(() => parseHeaderPage('\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n\tfield: char data;\toffset:4;\tsize:10;\tsigned:0;\n')).toThrow(/implausible/);
  });
});
