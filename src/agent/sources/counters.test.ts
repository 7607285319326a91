// Unit tests for the counter readers: softnet/snmp/ethtool parsers, and CounterSource on the
// fixture tree in test/fixtures/procfs (missing interface, reset, unreadable files, fake ethtool).
import { chmod, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffSnapshots } from '../../domain/counters.js';
import { CounterSource, isDropLikeEthtoolCounter, parseEthtoolStats, parseSnmp6, parseSnmpPairs, parseSoftnetStat } from './counters.js';

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/procfs');

const hexRow = (values: number[]): string => values.map((v) => v.toString(16).padStart(8, '0')).join(' ');

describe('parseSoftnetStat', () => {
  it('reads 11 columns: row index as CPU, flow_limit from col 11', () => {
    const text = `${hexRow([100, 1, 2, 0, 0, 0, 0, 0, 0, 3, 4])}\n${hexRow([200, 5, 6, 0, 0, 0, 0, 0, 0, 0, 7])}\n`;
    expect(parseSoftnetStat(text)).toEqual([
      { cpu: 0, processed: 100n, dropped: 1n, timeSqueeze: 2n, flowLimit: 4n },
      { cpu: 1, processed: 200n, dropped: 5n, timeSqueeze: 6n, flowLimit: 7n },
    ]);
  });

  it('reads 13 columns: CPU id from col 13 (offline CPUs leave gaps)', () => {
    const text = `${hexRow([1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0])}\n${hexRow([4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 12, 3])}\n`;
    expect(parseSoftnetStat(text).map((r) => [r.cpu, r.flowLimit])).toEqual([
      [0, 9n],
      [3, 0n],
    ]);
  });

  it('reads 15 columns and big hex values', () => {
    const text = `${hexRow([0xfffffff0, 0xa1, 0x102, 0, 0, 0, 0, 0, 0, 3, 7, 0, 2, 0, 0])}\n`;
    expect(parseSoftnetStat(text)).toEqual([{ cpu: 2, processed: 0xfffffff0n, dropped: 0xa1n, timeSqueeze: 0x102n, flowLimit: 7n }]);
  });

  it('leaves flow_limit at 0 on kernels with 10 columns', () => {
    expect(parseSoftnetStat(hexRow([1, 2, 3, 0, 0, 0, 0, 0, 0, 0]))[0]?.flowLimit).toBe(0n);
  });
});

describe('parseSnmpPairs', () => {
  it('pairs header and value lines by name, negatives included', () => {
    const { counters, errors } = parseSnmpPairs('Tcp: RtoMin MaxConn\nTcp: 200 -1\nUdp: NoPorts RcvbufErrors\nUdp: 5 6\n');
    expect(errors).toBe(0);
    expect(counters.get('Tcp.MaxConn')).toBe(-1n);
    expect(counters.get('Udp.NoPorts')).toBe(5n);
    expect(counters.get('Udp.RcvbufErrors')).toBe(6n);
  });

  it('skips and counts lines that do not pair up', () => {
    const { counters, errors } = parseSnmpPairs('Ip: A B\nIp: 1\nUdp: NoPorts\nUdp: 3\nOrphan: X\n');
    expect(counters.get('Udp.NoPorts')).toBe(3n);
    expect(counters.has('Ip.A')).toBe(false);
    expect(errors).toBe(2);
  });
});

describe('parseSnmp6', () => {
  it('splits the protocol at its 6', () => {
    const m = parseSnmp6('Ip6InDiscards    3\nUdp6NoPorts 5\nUdpLite6InErrors 0\n');
    expect([...m.keys()]).toEqual(['Ip6.InDiscards', 'Udp6.NoPorts', 'UdpLite6.InErrors']);
  });
});

describe('ethtool counters', () => {
  it.each([
    ['rx_out_of_buffer', true],
    ['rx_discards_phy', true],
    ['rx_prio0_discards', true],
    ['rx_missed_errors', true],
    ['rx_no_buffer_count', true],
    ['rx_fifo_errors', true],
    ['rx_over_errors', true],
    ['rx_queue_3_drops', true],
    ['tx_busy', true],
    ['alloc_rx_buff_failed', true],
    ['rx_no_dma_resources', true],
    ['pps_allowance_exceeded', true],
    ['rx_packets', false],
    ['rx_bytes', false],
    ['rx_discards_bytes', false],
    ['rx_busy_poll_packets', false],
    ['rx_oversize_pkts_phy', false],
    ['tx_recovered', false],
  ])('%s -> %s', (name, want) => {
    expect(isDropLikeEthtoolCounter(name)).toBe(want);
  });

  it('parses ethtool -S output', () => {
    const out = 'NIC statistics:\n     rx_packets: 1234\n     rx_out_of_buffer: 17\n     rx_prio0_discards: 0\n     tx_bytes: 99\n';
    expect(parseEthtoolStats(out)).toEqual({ rx_out_of_buffer: 17n, rx_prio0_discards: 0n });
  });
});

describe('CounterSource on a fixture tree', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'dwo-counters-'));
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  const source = (root: string, extra: Partial<ConstructorParameters<typeof CounterSource>[0]> = {}) => {
    let now = 1_000;
    return new CounterSource({
      procRoot: path.join(root, 'proc'),
      sysRoot: path.join(root, 'sys'),
      ethtool: false,
      // Generous: a loaded CI machine can take seconds to start even a shell script.
      ethtoolTimeoutMs: 20_000,
      now: () => (now += 1_000),
      ...extra,
    });
  };

  it('reads every interface, softnet and snmp/netstat/snmp6', async () => {
    const { snapshot, problems } = await source(FIXTURE).read();
    expect(problems).toEqual([]);
    expect(snapshot.interfaces.map((i) => i.name)).toEqual(['eth0', 'lo']);
    expect(snapshot.interfaces[0]).toEqual({
      name: 'eth0',
      rxPackets: 1_000_000n,
      rxDropped: 12n,
      rxMissedErrors: 30n,
      rxFifoErrors: 2n,
      rxOverErrors: 1n,
      ethtool: {},
    });
    expect(snapshot.softnet).toEqual([
      { cpu: 0, processed: 0x12d687n, dropped: 0n, timeSqueeze: 0x1cn, flowLimit: 0n },
      { cpu: 2, processed: 0x869fcn, dropped: 0xa1n, timeSqueeze: 0x102n, flowLimit: 7n },
    ]);
    expect(snapshot.snmp.get('Udp.NoPorts')).toBe(1200n);
    expect(snapshot.snmp.get('Ip.InDiscards')).toBe(5n);
    expect(snapshot.snmp.get('TcpExt.ListenDrops')).toBe(12n);
    expect(snapshot.snmp.get('IpExt.InNoRoutes')).toBe(9n);
    expect(snapshot.snmp.get('Udp6.NoPorts')).toBe(5n);
    expect(snapshot.snmp.get('Tcp.MaxConn')).toBe(-1n);
  });

  it('reports a configured interface that does not exist, and reads the others', async () => {
    const { snapshot, problems } = await source(FIXTURE, { interfaces: ['eth0', 'capture9'] }).read();
    expect(snapshot.interfaces.map((i) => i.name)).toEqual(['eth0']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'DWO_E_INTERFACE_NOT_FOUND', message: expect.stringContaining('capture9') as unknown });
  });

  it('skips non-interface entries when listing all', async () => {
    await cp(FIXTURE, tmp, { recursive: true });
    await writeFile(path.join(tmp, 'sys/class/net/bonding_masters'), '\n');
    const { snapshot, problems } = await source(tmp).read();
    expect(snapshot.interfaces.map((i) => i.name)).toEqual(['eth0', 'lo']);
    expect(problems).toEqual([]);
  });

  it('sees a counter reset between two reads', async () => {
    await cp(FIXTURE, tmp, { recursive: true });
    const src = source(tmp, { interfaces: ['eth0'] });
    const first = await src.read();
    await writeFile(path.join(tmp, 'sys/class/net/eth0/statistics/rx_packets'), '500\n');
    await writeFile(path.join(tmp, 'sys/class/net/eth0/statistics/rx_dropped'), '20\n');
    const second = await src.read();
    const d = diffSnapshots(first.snapshot, second.snapshot);
    expect(d.interfaces[0]).toMatchObject({ rxPackets: 500, rxDropped: 8, reset: true });
    expect(d.resets).toEqual(['eth0.rxPackets']);
  });

  it('reports unreadable procfs files without failing', async () => {
    await cp(path.join(FIXTURE, 'sys'), path.join(tmp, 'sys'), { recursive: true });
    const { snapshot, problems } = await source(tmp).read();
    expect(snapshot.interfaces).toHaveLength(2);
    expect(snapshot.softnet).toEqual([]);
    expect(problems.map((p) => p.code)).toEqual(['DWO_E_COUNTERS_UNREADABLE', 'DWO_E_COUNTERS_UNREADABLE', 'DWO_E_COUNTERS_UNREADABLE']);
  });

  it('runs ethtool -S for device-backed interfaces and stops asking ones that fail', async () => {
    const fake = path.join(tmp, 'ethtool');
    const log = path.join(tmp, 'calls');
    await writeFile(
      fake,
      [
        '#!/bin/sh',
        `echo "$2" >> ${log}`,
        'if [ "$2" = eth0 ]; then',
        '  printf "NIC statistics:\\n     rx_packets: 10\\n     rx_out_of_buffer: 3\\n     rx_discards_phy: 4\\n"',
        'else',
        '  echo "no stats available" >&2; exit 95',
        'fi',
        '',
      ].join('\n'),
    );
    await chmod(fake, 0o755);
    // All interfaces: only eth0 has a device link, so lo is not asked.
    const all = await source(FIXTURE, { ethtool: fake }).read();
    expect(all.snapshot.interfaces[0]?.ethtool).toEqual({ rx_out_of_buffer: 3n, rx_discards_phy: 4n });
    expect(all.problems).toEqual([]);
    // Configured interfaces are all asked; a failure is reported once.
    const src = source(FIXTURE, { ethtool: fake, interfaces: ['eth0', 'lo'] });
    const r1 = await src.read();
    expect(r1.problems.map((p) => p.code)).toEqual(['DWO_E_ETHTOOL_FAILED']);
    expect(r1.problems[0]?.message).toContain('no stats available');
    const r2 = await src.read();
    expect(r2.problems).toEqual([]);
    const { readFile } = await import('node:fs/promises');
    // Interfaces are read in parallel, so only the number of calls per interface is fixed:
    // eth0 on every read, lo once (its failure is remembered).
    const calls = (await readFile(log, 'utf8')).trim().split('\n');
    expect(calls.filter((c) => c === 'eth0')).toHaveLength(3);
    expect(calls.filter((c) => c === 'lo')).toHaveLength(1);
  });
});
