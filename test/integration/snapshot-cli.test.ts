// The CLI on the real kernel: each test makes its own drops (closed UDP port, a socket with a tiny
// receive buffer that never reads, an nftables drop rule in a namespace, frames for another MAC
// over a veth pair) and checks what `dropwatch-operator snapshot --json` reports against the
// kernel's own counters. Needs root. Everything created is removed.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { DropSnapshot } from '../../src/domain/snapshot.js';
import { closedUdpPort, makeNetns, ourInstances, sendUdp, snapshotDuring, type Netns } from './helpers/kernel.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
  expect(ourInstances()).toEqual([]);
});

function parse(run: { code: number; stdout: string; stderr: string }): DropSnapshot {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as DropSnapshot;
}

const sites = (s: DropSnapshot, reason: string) => s.drops.filter((d) => d.reason === reason);
const sum = (xs: readonly { count: number }[]) => xs.reduce((a, d) => a + d.count, 0);

describe('dropwatch-operator snapshot on the real kernel', () => {
  it('a: datagrams to a closed UDP port are NO_SOCKET drops at __udp4_lib_rcv, matching Udp NoPorts', async () => {
    const K = 400;
    const port = await closedUdpPort();
    const run = await snapshotDuring(['--seconds', '3', '--json'], async () => {
      expect(await sendUdp('127.0.0.1', port, K)).toBe(K);
    });
    const s = parse(run);
    const noSocket = sites(s, 'NO_SOCKET').filter((d) => d.symbol === '__udp4_lib_rcv');
    expect(noSocket.length).toBeGreaterThan(0);
    expect(sum(noSocket)).toBeGreaterThanOrEqual(K);
    for (const d of noSocket) {
      expect(d.layer).toBe('transport');
      expect(d.location).toMatch(/^__udp4_lib_rcv\+0x[0-9a-f]+\/0x[0-9a-f]+$/);
      expect(d.address).toMatch(/^0x[0-9a-f]+$/);
      expect(d.hint).toMatch(/no socket/i);
      expect(d.rate).toBeGreaterThan(0);
    }
    // The kernel's own counter saw the same drops in the same window.
    expect(sum(noSocket)).toBe(s.snmp['Udp.NoPorts']);
    expect(s.window.seconds).toBeGreaterThanOrEqual(2.9);
    expect(s.totals.drops).toBeGreaterThanOrEqual(K);
    expect(s.monitor.lostEvents).toBe(0);
    expect(s.sources.drops).toMatch(/tracefs-ring|hist-trigger/);
    expect(s.kernel.release.length).toBeGreaterThan(0);
  });

  it('b: a socket with a tiny receive buffer that never reads gives SOCKET_RCVBUFF, matching Udp RcvbufErrors', async () => {
    // A child binds a UDP socket with a tiny SO_RCVBUF and is then stopped, so nothing reads it.
    const child = spawn(process.execPath, ['-e', `
      const s = require('node:dgram').createSocket({ type: 'udp4', recvBufferSize: 1024 });
      s.bind(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port) + '\\n'); });
      setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => child.kill('SIGKILL'));
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    child.kill('SIGSTOP');
    const K = 300;
    const run = await snapshotDuring(['--seconds', '3', '--json'], async () => {
      await sendUdp('127.0.0.1', port, K);
    });
    const s = parse(run);
    const rcvbuf = sites(s, 'SOCKET_RCVBUFF');
    expect(sum(rcvbuf)).toBeGreaterThan(K / 2);
    expect(rcvbuf.every((d) => d.layer === 'socket')).toBe(true);
    expect(rcvbuf[0]?.hint).toMatch(/rmem_max/);
    expect(sum(rcvbuf)).toBe(s.snmp['Udp.RcvbufErrors']);
    expect(s.ladder.find((l) => l.layer === 'socket')?.drops).toBeGreaterThanOrEqual(sum(rcvbuf));
  });

  it('c: an nftables drop rule in a network namespace gives NETFILTER_DROP', async () => {
    const ns: Netns = makeNetns('nft');
    cleanups.push(() => ns.remove());
    ns.exec('nft', ['add', 'table', 'inet', 'dwot']);
    ns.exec('nft', ['add', 'chain', 'inet', 'dwot', 'input', '{ type filter hook input priority 0; policy accept; }']);
    ns.exec('nft', ['add', 'rule', 'inet', 'dwot', 'input', 'udp', 'dport', '9999', 'drop']);
    const K = 200;
    const run = await snapshotDuring(['--seconds', '3', '--json'], async () => {
      await sendUdp('127.0.0.1', 9999, K, { netns: ns.name });
    });
    const s = parse(run);
    const nf = sites(s, 'NETFILTER_DROP');
    expect(sum(nf)).toBe(K);
    expect(nf.every((d) => d.layer === 'netfilter')).toBe(true);
    // The freeing function depends on the kernel: nf_hook_slow, or nft_do_chain on newer ones.
    expect(nf[0]?.symbol).toMatch(/^(nf_hook_slow|nft_do_chain)/);
  });

  describe('d: frames for another MAC over a veth pair', () => {
    function otherhostPair(): { a: Netns; send: (n: number) => Promise<number> } {
      const a = makeNetns('vetha');
      const b = makeNetns('vethb');
      cleanups.push(() => a.remove(), () => b.remove());
      const va = `${a.name.slice(-6)}a`;
      const vb = `${b.name.slice(-6)}b`;
      a.exec('ip', ['link', 'add', va, 'type', 'veth', 'peer', 'name', vb]);
      a.exec('ip', ['link', 'set', vb, 'netns', b.name]);
      a.exec('ip', ['addr', 'add', '192.0.2.1/24', 'dev', va]);
      b.exec('ip', ['addr', 'add', '192.0.2.2/24', 'dev', vb]);
      a.exec('ip', ['link', 'set', va, 'up']);
      b.exec('ip', ['link', 'set', vb, 'up']);
      // A permanent neighbour entry with a MAC that is not b's: b receives every frame as OTHERHOST.
      a.exec('ip', ['neigh', 'replace', '192.0.2.2', 'lladdr', '02:00:00:00:be:ef', 'dev', va, 'nud', 'permanent']);
      return { a, send: (n) => sendUdp('192.0.2.2', 9, n, { netns: a.name }) };
    }

    it('are OTHERHOST drops in the ip layer', async () => {
      const { send } = otherhostPair();
      const K = 200;
      const run = await snapshotDuring(['--seconds', '3', '--json'], async () => {
        expect(await send(K)).toBe(K);
      });
      const s = parse(run);
      const other = sites(s, 'OTHERHOST');
      expect(sum(other)).toBe(K);
      expect(other.every((d) => d.layer === 'ip' && !d.actionable)).toBe(true);
    });

    it('are filtered in the kernel with --ignore-reason OTHERHOST and counted 0', async () => {
      const { send } = otherhostPair();
      const K = 200;
      const run = await snapshotDuring(['--seconds', '3', '--json', '--ignore-reason', 'OTHERHOST'], async () => {
        expect(await send(K)).toBe(K);
      });
      const s = parse(run);
      expect(sites(s, 'OTHERHOST')).toEqual([]);
      expect(s.sources.ignoredReasons).toEqual(['OTHERHOST']);
      // Filtered in the kernel, so they never reached the ring: nothing read, nothing lost.
      expect(s.monitor.lostEvents).toBe(0);
    });
  });

  it('e: a tiny ring under a flood loses events, and counted + lost equals what was generated, exactly', async () => {
    const port = await closedUdpPort();
    const K = 30_000;
    // 4 KiB per CPU and a slow drain: the ring must overflow. Only NO_SOCKET is recorded (filtered
    // in the kernel), so unrelated drops on the host cannot blur the accounting.
    const run = await snapshotDuring(['--seconds', '4', '--json', '--reason', 'NO_SOCKET', '--buffer-size-kb', '4', '--poll-interval-ms', '2000'], async () => {
      expect(await sendUdp('127.0.0.1', port, K, { burst: 200 })).toBe(K);
    });
    const s = parse(run);
    expect(s.monitor.lostEvents).toBeGreaterThan(0);
    // Every kfree_skb event in the window was either counted or reported lost; the generated
    // datagrams are the kernel's own NoPorts count (none were dropped earlier: softnet says so).
    expect(s.softnet.dropped).toBe(0);
    expect(s.snmp['Udp.NoPorts']).toBe(K);
    expect(s.drops.every((d) => d.reason === 'NO_SOCKET')).toBe(true);
    expect(s.monitor.events + s.monitor.lostEvents).toBe(K);
  });

  it('refuses unknown reasons with a code and the valid names', async () => {
    const run = await snapshotDuring(['--seconds', '1', '--ignore-reason', 'NOT_A_REASON'], async () => {}).catch((e: Error) => ({ code: -2, stdout: '', stderr: e.message }));
    expect(run.stderr).toMatch(/DWO_E_UNKNOWN_REASON/);
    expect(run.stderr).toMatch(/OTHERHOST/);
  });
});
