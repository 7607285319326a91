// Unit tests for the pure helpers of the tracefs source (stats parsing, reason filter, stale
// instance removal on a fake tracefs tree). The live source is tested in test/integration.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseEventFormat } from './event-format.js';
import { buildReasonFilter } from './event-format.js';
import { parseStats, removeStaleInstances, statsLoss } from './tracefs.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/ring');
const FORMAT = parseEventFormat(readFileSync(path.join(FIXTURES, 'kfree_skb.format'), 'utf8'));

const STATS = `entries: 240
overrun: 2760
commit overrun: 3
bytes: 10560
oldest event ts:  1875.240381
now ts:  1880.155324
dropped events: 7
read events: 12
`;

describe('per-CPU stats', () => {
  it('parses key: value lines and sums the loss keys', () => {
    const s = parseStats(STATS);
    expect(s.get('overrun')).toBe(2760);
    expect(s.get('oldest event ts')).toBeCloseTo(1875.240381);
    expect(s.get('read events')).toBe(12);
    expect(statsLoss(s)).toBe(2760 + 3 + 7);
    expect(statsLoss(parseStats('entries: 5\n'))).toBe(0);
  });
});

describe('buildReasonFilter', () => {
  it('maps names through the print fmt and joins them', () => {
    expect(buildReasonFilter(FORMAT, { ignore: [] })).toBe('');
    expect(buildReasonFilter(FORMAT, { ignore: ['OTHERHOST'] })).toBe('reason != 13');
    expect(buildReasonFilter(FORMAT, { ignore: ['OTHERHOST', 'skb_drop_reason_no_socket', 'OTHERHOST'] })).toBe('reason != 13 && reason != 3');
  });

  it('rejects unknown names with a code and the valid names', () => {
    expect(() => buildReasonFilter(FORMAT, { ignore: ['OTHERHOST', 'BOGUS', 'NOPE'] })).toThrow(expect.objectContaining({
      code: 'DWO_E_UNKNOWN_REASON',
      message: expect.stringMatching(/"BOGUS", "NOPE".*NOT_SPECIFIED, NO_SOCKET/),
    }));
  });

  it('applies no filter when the kernel has no reason field', () => {
    const old = parseEventFormat('name: kfree_skb\nID: 9\nformat:\n\tfield:void * location;\toffset:16;\tsize:8;\tsigned:0;\n');
    expect(buildReasonFilter(old, { ignore: ['OTHERHOST'] })).toBe('');
  });
});

describe('removeStaleInstances', () => {
  let root: string | undefined;
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('removes only <prefix><dead pid>-<hex> instances', () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'dwo-tracefs-'));
    const names = ['dropwatch-2147483646-ab12', `dropwatch-${process.pid}-cd34`, 'dropwatch-2147483646-xyz', 'other-2147483646-ab', 'dropwatch-1-ef'];
    for (const n of names) mkdirSync(path.join(root, 'instances', n), { recursive: true });
    // pid 2147483646 cannot exist (above any pid_max); pid 1 is alive (or not ours to signal).
    expect(removeStaleInstances(root)).toEqual(['dropwatch-2147483646-ab12']);
    expect(readdirSync(path.join(root, 'instances')).sort()).toEqual(names.filter((n) => n !== 'dropwatch-2147483646-ab12').sort());
    expect(removeStaleInstances(path.join(root, 'missing'))).toEqual([]);
  });
});
