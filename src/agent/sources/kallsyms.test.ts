// Unit tests for the kallsyms resolver on hand-written kallsyms files in a temp procfs: %pS output,
// module and BPF symbols, aliases, reload on a miss, and the kptr_restrict explanations.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Kallsyms, formatSymbol, kallsymsVisibility, parseKallsyms } from './kallsyms.js';

// Core symbols in address order, then a BPF program placed below the modules (out of order),
// then module symbols with the tab-separated [module] column, and data symbols to be skipped.
const KALLSYMS = [
  '0000000000000000 A fixed_percpu_data',
  'ffffffff81000000 T _stext',
  'ffffffff81000000 T _text',
  'ffffffff82048c00 T __pfx___udp4_lib_rcv',
  'ffffffff82048c10 T __udp4_lib_rcv',
  'ffffffff82049910 t udp_queue_rcv_one_skb.constprop.0',
  'ffffffff82049a00 W arch_weak_hook',
  'ffffffff82049a40 T ip_rcv',
  'ffffffff8220bb08 T _etext',
  'ffffffff83000000 D some_data',
  'ffffffff83000100 R some_rodata',
  'ffffffffc0a01000 t mlx5e_handle_rx_cqe\t[mlx5_core]',
  'ffffffffc0a01400 T mlx5e_poll_rx_cq\t[mlx5_core]',
  'ffffffffc0a02000 t mlx5e_end\t[mlx5_core]',
  'ffffffffc0001000 t bpf_prog_6deef7357e7b4530_sd_fw_ingress\t[bpf]',
  'ffffffffc0001100 t bpf_prog_ee0e253c78993a24\t[bpf]',
  '',
].join('\n');

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dwo-kallsyms-'));
  await mkdir(path.join(dir, 'sys/kernel'), { recursive: true });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeProc(kallsyms: string, kptr = '0', paranoid = '2'): Promise<void> {
  await writeFile(path.join(dir, 'kallsyms'), kallsyms);
  await writeFile(path.join(dir, 'sys/kernel/kptr_restrict'), `${kptr}\n`);
  await writeFile(path.join(dir, 'sys/kernel/perf_event_paranoid'), `${paranoid}\n`);
}

describe('parseKallsyms', () => {
  it('keeps only text symbols, sorted, with modules', () => {
    const t = parseKallsyms(KALLSYMS);
    expect(t.names).not.toContain('some_data');
    expect(t.names).not.toContain('fixed_percpu_data');
    expect(t.names).toContain('arch_weak_hook');
    expect(t.names.length).toBe(13);
    // BPF symbols sorted in before the mlx5 ones.
    expect(t.names.indexOf('bpf_prog_ee0e253c78993a24')).toBeLessThan(t.names.indexOf('mlx5e_handle_rx_cqe'));
    expect(t.modules[t.names.indexOf('mlx5e_poll_rx_cq')]).toBe('mlx5_core');
    expect(t.modules[t.names.indexOf('ip_rcv')]).toBeUndefined();
  });
});

describe('Kallsyms', () => {
  it('resolves like %pS: function+offset/size, with the module', async () => {
    await writeProc(KALLSYMS);
    const k = await Kallsyms.load({ procRoot: dir });
    expect(k.visible).toBe(true);
    const s = k.symbolize(0xffffffff82048c10n + 0x4bcn);
    expect(s).toEqual({ symbol: '__udp4_lib_rcv', offset: 0x4bc, size: 0xd00 });
    expect(formatSymbol(s)).toBe('__udp4_lib_rcv+0x4bc/0xd00');
    expect(formatSymbol(k.symbolize(0xffffffff82049910n))).toBe('udp_queue_rcv_one_skb.constprop.0+0x0/0xf0');
    const m = k.symbolize(0xffffffffc0a01404n);
    expect(formatSymbol(m)).toBe('mlx5e_poll_rx_cq+0x4/0xc00 [mlx5_core]');
  });

  it('reports the first alias at a shared address', async () => {
    await writeProc(KALLSYMS);
    const k = new Kallsyms({ procRoot: dir });
    expect(k.symbolize(0xffffffff81000010n).symbol).toBe('_stext');
  });

  it('returns the hex address for addresses outside the table', async () => {
    await writeProc(KALLSYMS);
    const k = await Kallsyms.load({ procRoot: dir });
    const low = k.symbolize(0x1000n);
    expect(low.symbol).toBe('0x1000');
    expect(low.unresolvedReason).toMatch(/not in the kernel text symbols/);
    expect(formatSymbol(low)).toBe('0x1000');
  });

  it('re-reads the file on a miss, at most once per interval', async () => {
    let now = 0;
    await writeProc(KALLSYMS);
    const k = await Kallsyms.load({ procRoot: dir, reloadIntervalMs: 10_000, now: () => now });
    // A module loaded after the first read.
    await writeProc(`${KALLSYMS}ffffffffc0b00000 t nft_do_chain\t[nf_tables]\nffffffffc0b00800 t nft_end\t[nf_tables]\n`);
    const addr = 0xffffffffc0b00010n;
    now = 5_000;
    expect(k.symbolize(addr).unresolvedReason).toBeDefined();
    await k.settled();
    expect(k.symbolize(addr).unresolvedReason).toBeDefined(); // too soon: no reload yet
    now = 10_001;
    expect(k.symbolize(addr).unresolvedReason).toBeDefined(); // this miss starts the reload
    await k.settled();
    expect(formatSymbol(k.symbolize(addr))).toBe('nft_do_chain+0x10/0x800 [nf_tables]');
  });

  it('explains zeroed addresses with the kptr_restrict rules', async () => {
    const zeroed = KALLSYMS.replace(/^[0-9a-f]{16}/gm, '0000000000000000');
    await writeProc(zeroed, '1');
    const k1 = await Kallsyms.load({ procRoot: dir });
    expect(k1.visible).toBe(false);
    const s = k1.symbolize(0xffffffff82048c20n);
    expect(s.symbol).toBe('0xffffffff82048c20');
    expect(s.unresolvedReason).toMatch(/kptr_restrict=1.*CAP_SYSLOG/);

    await writeProc(zeroed, '2');
    expect((await Kallsyms.load({ procRoot: dir })).unavailableReason).toMatch(/kptr_restrict=2 hides them from everyone/);

    await writeProc(zeroed, '0', '2');
    expect((await Kallsyms.load({ procRoot: dir })).unavailableReason).toMatch(/perf_event_paranoid=2/);

    expect(kallsymsVisibility(dir)).toEqual({ visible: false, detail: expect.stringMatching(/perf_event_paranoid=2/) as unknown });
  });

  it('reports a missing file instead of throwing', async () => {
    const k = new Kallsyms({ procRoot: path.join(dir, 'nope') });
    expect(k.symbolize(0xffffffff82048c20n).unresolvedReason).toMatch(/cannot read .*ENOENT/);
    expect(kallsymsVisibility(path.join(dir, 'nope')).visible).toBe(false);
  });

  it('sees visible addresses from the head of the file', async () => {
    await writeProc(KALLSYMS);
    expect(kallsymsVisibility(dir)).toEqual({ visible: true });
  });
});
