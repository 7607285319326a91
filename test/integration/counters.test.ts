// Integration tier, real kernel: counters move when we make drops, kallsyms resolves a real
// address, and the probe describes this machine (tracefs writable, reason field, no hist
// triggers on the CI kernel, so the hist source must refuse cleanly). Needs root.
import { access, readFile, readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { closedUdpPort, sendUdp } from './helpers/kernel.js';
import { diffSnapshots } from '../../src/domain/counters.js';
import { chooseDropSource } from '../../src/domain/probe.js';
import { CounterSource } from '../../src/agent/sources/counters.js';
import { HistDropSource } from '../../src/agent/sources/hist.js';
import { Kallsyms, formatSymbol } from '../../src/agent/sources/kallsyms.js';
import { probeCapabilities } from '../../src/agent/sources/probe.js';

const K = 300;

describe('counters on the real kernel', () => {
  it('counts UDP datagrams to a closed port in Udp.NoPorts and on lo', async () => {
    const src = new CounterSource();
    const before = await src.read();
    expect(before.problems.filter((p) => p.code !== 'DWO_E_ETHTOOL_FAILED')).toEqual([]);
    const lo0 = before.snapshot.interfaces.find((i) => i.name === 'lo');
    expect(lo0).toBeDefined();
    expect(before.snapshot.softnet.length).toBeGreaterThan(0);

    await sendUdp('127.0.0.1', await closedUdpPort(), K);

    // Loopback delivery runs in softirq right after each send; allow a moment anyway.
    let after = await src.read();
    for (let i = 0; i < 20 && (after.snapshot.snmp.get('Udp.NoPorts') ?? 0n) - (before.snapshot.snmp.get('Udp.NoPorts') ?? 0n) < BigInt(K); i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await src.read();
    }
    const d = diffSnapshots(before.snapshot, after.snapshot);
    expect(d.snmp['Udp.NoPorts']).toBeGreaterThanOrEqual(K);
    const lo = d.interfaces.find((i) => i.name === 'lo');
    expect(lo?.rxPackets).toBeGreaterThanOrEqual(K);
    expect(d.seconds).toBeGreaterThan(0);
  });

  it('reads ethtool drop counters for a device-backed interface when ethtool exists', async () => {
    const src = new CounterSource();
    const binary = await src.ethtoolPath();
    const { snapshot } = await src.read();
    const names = await readdir('/sys/class/net');
    const withDevice: string[] = [];
    for (const n of names) {
      if (await access(`/sys/class/net/${n}/device`).then(() => true, () => false)) withDevice.push(n);
    }
    if (binary === undefined || withDevice.length === 0) return; // nothing to check on this node
    const nic = snapshot.interfaces.find((i) => withDevice.includes(i.name));
    // NIC drivers expose some drop-like counter (virtio_net: rx_drops, rx_xdp_drops, ...), and
    // every key kept must be drop-like.
    const keys = Object.keys(nic?.ethtool ?? {});
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k).toMatch(/drop|discard|miss|buf|fifo|over|busy|alloc|oom|full|allowance|dma|desc/i);
    console.log(`ethtool ${binary} -S ${nic?.name ?? '?'}: kept ${keys.join(', ')}`);
  });
});

describe('kallsyms on the real kernel', () => {
  it('resolves an address inside __udp4_lib_rcv back to it', async () => {
    const line = (await readFile('/proc/kallsyms', 'latin1')).split('\n').find((l) => / [Tt] __udp4_lib_rcv$/.test(l));
    expect(line).toBeDefined();
    const addr = BigInt(`0x${line?.split(' ')[0] ?? '0'}`);
    expect(addr).not.toBe(0n); // root sees real addresses
    const k = await Kallsyms.load();
    const s = k.symbolize(addr + 0x4bcn);
    expect(s.symbol).toBe('__udp4_lib_rcv');
    expect(s.offset).toBe(0x4bc);
    expect(s.size).toBeGreaterThan(0x4bc);
    expect(formatSymbol(s)).toMatch(/^__udp4_lib_rcv\+0x4bc\/0x[0-9a-f]+$/);
    console.log(`kallsyms: ${k.symbolCount} text symbols loaded in ${k.lastLoadDurationMs.toFixed(1)} ms; ${formatSymbol(s)}`);
  });
});

describe('probe on this machine', () => {
  it('reports tracefs writable, the reason field, and no hist triggers', async () => {
    const caps = await probeCapabilities();
    expect(caps.tracefs).toMatchObject({ available: true, writable: true });
    expect(caps.kfreeSkb).toMatchObject({ available: true, reasonField: true });
    expect(caps.kallsyms.visible).toBe(true);
    expect(caps.histTriggers).toBe(false);
    expect(chooseDropSource(caps).kind).toBe('tracefs-ring');
    const left = (await readdir(`${caps.tracefs.path ?? '/sys/kernel/tracing'}/instances`)).filter((n) => n.startsWith('dropwatch-probe-'));
    expect(left).toEqual([]);
  });

  it('refuses the hist source on this kernel and removes the instance it made', async () => {
    const instance = `dropwatch-hist-it-${process.pid}`;
    await expect(HistDropSource.open({ instance, ignoreReasons: ['OTHERHOST'] })).rejects.toMatchObject({ code: 'DWO_E_CONFIG' });
    expect(await readdir('/sys/kernel/tracing/instances')).not.toContain(instance);
  });
});
