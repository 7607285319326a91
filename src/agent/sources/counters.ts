// Reads the cumulative drop counters the tracepoint cannot see (NIC/driver statistics, ethtool -S,
// softnet backlog, snmp/netstat) into a CounterSnapshot. Called by the agent's counter loop and
// the CLI; domain/counters.ts turns two snapshots into rates.
import { execFile } from 'node:child_process';
import { access, constants, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CounterSnapshot, InterfaceCounters, SoftnetRow } from '../../domain/types.js';

/** Something that could not be read. Reported next to the snapshot; never thrown. */
export interface CounterProblem {
  readonly code: string;
  readonly message: string;
  readonly fix: string;
}

/** A snapshot and what went wrong while reading it. */
export interface CounterRead {
  readonly snapshot: CounterSnapshot;
  readonly problems: readonly CounterProblem[];
}

/** Options for {@link CounterSource}. Roots are injectable so tests read fixture trees. */
export interface CounterSourceOptions {
  /** Default `/proc`. */
  readonly procRoot?: string;
  /** Default `/sys`. */
  readonly sysRoot?: string;
  /** Interfaces to read; empty or absent = every interface in `<sysRoot>/class/net`. */
  readonly interfaces?: readonly string[];
  /**
   * `ethtool -S`: false disables it; a string is the binary to run; absent = look for ethtool in
   * the usual sbin/bin directories.
   */
  readonly ethtool?: false | string;
  /** Timeout for one `ethtool -S` run, ms (default 2000). */
  readonly ethtoolTimeoutMs?: number;
  /** Monotonic clock in ms (default performance.now). */
  readonly now?: () => number;
}

/** Where ethtool is looked for (the agent does not read PATH: config comes in explicitly). */
export const ETHTOOL_DIRS: readonly string[] = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/local/bin'];

/**
 * Which `ethtool -S` counters are drop-like, matched case-insensitively on the name:
 * - drop, discard, miss: e.g. rx_dropped, rx_discards_phy, rx_prio0_discards, rx_missed_errors,
 *   rx_queue_0_drops, rx_xdp_drop;
 * - out_of_buffer, no_buffer, nobuf, no_dma, no_desc: the NIC had no descriptor or buffer
 *   (mlx5 rx_out_of_buffer, igb rx_no_buffer_count, ixgbe rx_no_dma_resources);
 * - fifo, overrun, overflow and the token "over": ring/FIFO overflow (rx_fifo_errors,
 *   rx_over_errors, fdir_overflow);
 * - busy, alloc..fail, alloc..err, oom, the token "full": queue full or buffer allocation failed
 *   (tx_busy, alloc_rx_buff_failed, rx_buff_alloc_err, rx_oom_discards);
 * - allowance_exceeded: cloud NIC rate limits (ENA pps_allowance_exceeded).
 * Byte and octet counters and busy_poll counters are excluded ({@link ETHTOOL_EXCLUDE}) so every
 * kept counter counts packets or events.
 */
export const ETHTOOL_DROP_PATTERN =
  /drop|discard|miss|out_of_buf|no_?buf|no_dma|no_desc|fifo|overrun|overflow|(?:^|[_.\-\s])over(?:[_.\-\s]|$)|busy|alloc\w*fail|alloc\w*err|oom|(?:^|[_.\-\s])full(?:[_.\-\s]|$)|allowance_exceeded/i;

/** Drop-like names that are not packet counts (see {@link ETHTOOL_DROP_PATTERN}). */
export const ETHTOOL_EXCLUDE = /(?:bytes|octets)$|busy_poll/i;

/** True when an `ethtool -S` counter name counts drops (see {@link ETHTOOL_DROP_PATTERN}). */
export function isDropLikeEthtoolCounter(name: string): boolean {
  return ETHTOOL_DROP_PATTERN.test(name) && !ETHTOOL_EXCLUDE.test(name);
}

/**
 * Parses `/proc/net/softnet_stat`: one row of hex columns per online CPU, column count varies by
 * kernel (kernel.md section 6). processed = col 1, dropped = col 2, time_squeeze = col 3,
 * flow_limit = col 11 (0 when absent), CPU id = col 13 when present, else the row index.
 */
export function parseSoftnetStat(text: string): SoftnetRow[] {
  const rows: SoftnetRow[] = [];
  let index = 0;
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 3 || cols[0] === '') continue;
    const hex = (i: number): bigint => {
      const c = cols[i];
      return c === undefined ? 0n : BigInt(`0x${c}`);
    };
    const cpu = cols.length >= 13 ? Number(hex(12)) : index;
    rows.push({ cpu, processed: hex(0), dropped: hex(1), timeSqueeze: hex(2), flowLimit: hex(10) });
    index++;
  }
  return rows;
}

/**
 * Parses /proc/net/snmp or /proc/net/netstat: pairs of lines "Proto: Name1 Name2 ..." and
 * "Proto: v1 v2 ...", into "Proto.Name" -> value. Values may be negative (Tcp MaxConn is -1).
 * Adds to `into` when given. Lines that do not pair up are skipped and counted in `errors`.
 */
export function parseSnmpPairs(text: string, into: Map<string, bigint> = new Map()): { counters: Map<string, bigint>; errors: number } {
  let errors = 0;
  let header: string[] | undefined;
  for (const line of text.split('\n')) {
    const tokens = line.trim().split(/\s+/);
    const proto = tokens[0];
    if (proto === undefined || proto === '') continue;
    const isValues = tokens.length > 1 && /^-?\d+$/.test(tokens[1] ?? '');
    if (!isValues) {
      if (header !== undefined) errors++; // a header without its value line
      header = tokens;
      continue;
    }
    if (header === undefined || header[0] !== proto || header.length !== tokens.length || !proto.endsWith(':')) {
      errors++;
      header = undefined;
      continue;
    }
    const p = proto.slice(0, -1);
    for (let j = 1; j < tokens.length; j++) {
      const v = tokens[j] ?? '';
      if (/^-?\d+$/.test(v)) into.set(`${p}.${header[j] ?? ''}`, BigInt(v));
      else errors++;
    }
    header = undefined;
  }
  if (header !== undefined) errors++;
  return { counters: into, errors };
}

/**
 * Parses /proc/net/snmp6 ("Ip6InDiscards   12" per line) into "Ip6.InDiscards" keys: the protocol
 * name ends at its first '6' (Ip6, Icmp6, Udp6, UdpLite6).
 */
export function parseSnmp6(text: string, into: Map<string, bigint> = new Map()): Map<string, bigint> {
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === undefined || value === undefined || !/^-?\d+$/.test(value)) continue;
    const six = name.indexOf('6');
    if (six <= 0 || six + 1 >= name.length) continue;
    into.set(`${name.slice(0, six + 1)}.${name.slice(six + 1)}`, BigInt(value));
  }
  return into;
}

/** Parses `ethtool -S IF` output ("     name: value" lines) and keeps drop-like counters. */
export function parseEthtoolStats(text: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const line of text.split('\n')) {
    const colon = line.lastIndexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name === '' || !/^\d+$/.test(value) || !isDropLikeEthtoolCounter(name)) continue;
    out[name] = BigInt(value);
  }
  return out;
}

/** Finds an executable ethtool in {@link ETHTOOL_DIRS}; undefined when there is none. */
export async function findEthtool(dirs: readonly string[] = ETHTOOL_DIRS): Promise<string | undefined> {
  for (const dir of dirs) {
    const candidate = path.join(dir, 'ethtool');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why one `ethtool -S` run failed; a timeout is worth retrying, an error exit is not. */
class EthtoolFailure extends Error {
  readonly timedOut: boolean;

  constructor(message: string, timedOut: boolean) {
    super(message);
    this.timedOut = timedOut;
  }
}

function runEthtool(binary: string, iface: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['-S', iface], { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else if (err.killed) reject(new EthtoolFailure(`timed out after ${timeoutMs} ms`, true));
      else reject(new EthtoolFailure(stderr.trim() || err.message, false));
    });
  });
}

const STAT_FILES = [
  ['rxPackets', 'rx_packets'],
  ['rxDropped', 'rx_dropped'],
  ['rxMissedErrors', 'rx_missed_errors'],
  ['rxFifoErrors', 'rx_fifo_errors'],
  ['rxOverErrors', 'rx_over_errors'],
] as const;

type StatKey = (typeof STAT_FILES)[number][0];

async function readBigint(file: string): Promise<bigint> {
  const text = (await readFile(file, 'utf8')).trim();
  return BigInt(text);
}

const errCode = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));

/**
 * Reads all counter files on each `read()`. Interfaces that vanish, unreadable files and failing
 * ethtool runs become {@link CounterProblem}s; the rest of the snapshot is still returned.
 * An interface whose `ethtool -S` exits with an error is not asked again (most virtual devices
 * have no statistics); a timed-out run is retried on the next read.
 */
export class CounterSource {
  private readonly procRoot: string;
  private readonly sysRoot: string;
  private readonly configured: readonly string[];
  private readonly now: () => number;
  private readonly ethtoolTimeoutMs: number;
  private ethtool: Promise<string | undefined>;
  private readonly ethtoolFailed = new Set<string>();

  constructor(opts: CounterSourceOptions = {}) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.sysRoot = opts.sysRoot ?? '/sys';
    this.configured = opts.interfaces ?? [];
    this.now = opts.now ?? (() => performance.now());
    this.ethtoolTimeoutMs = opts.ethtoolTimeoutMs ?? 2000;
    this.ethtool = opts.ethtool === false ? Promise.resolve(undefined) : opts.ethtool !== undefined ? Promise.resolve(opts.ethtool) : findEthtool();
  }

  /** The ethtool binary in use, or undefined when there is none. */
  ethtoolPath(): Promise<string | undefined> {
    return this.ethtool;
  }

  /** Reads every counter once. Never throws. */
  async read(): Promise<CounterRead> {
    const problems: CounterProblem[] = [];
    const atMs = this.now();
    const [interfaces, softnet, snmp] = await Promise.all([this.readInterfaces(problems), this.readSoftnet(problems), this.readSnmp(problems)]);
    return { snapshot: { atMs, interfaces, softnet, snmp }, problems };
  }

  private netDir(): string {
    return path.join(this.sysRoot, 'class/net');
  }

  private async listInterfaces(problems: CounterProblem[]): Promise<{ names: string[]; explicit: boolean }> {
    if (this.configured.length > 0) return { names: [...this.configured], explicit: true };
    try {
      return { names: (await readdir(this.netDir())).sort(), explicit: false };
    } catch (err) {
      problems.push({
        code: 'DWO_E_COUNTERS_UNREADABLE',
        message: `cannot list ${this.netDir()}: ${errCode(err)}`,
        fix: 'Mount sysfs at /sys (in a container: the host network namespace and /sys).',
      });
      return { names: [], explicit: false };
    }
  }

  private async readInterfaces(problems: CounterProblem[]): Promise<InterfaceCounters[]> {
    const { names, explicit } = await this.listInterfaces(problems);
    const binary = await this.ethtool;
    const read = await Promise.all(names.map((n) => this.readInterface(n, explicit, binary, problems)));
    return read.filter((i): i is InterfaceCounters => i !== undefined);
  }

  private async readInterface(name: string, explicit: boolean, binary: string | undefined, problems: CounterProblem[]): Promise<InterfaceCounters | undefined> {
    const dir = path.join(this.netDir(), name);
    const stats: Record<StatKey, bigint> = { rxPackets: 0n, rxDropped: 0n, rxMissedErrors: 0n, rxFifoErrors: 0n, rxOverErrors: 0n };
    try {
      await access(path.join(dir, 'statistics'));
    } catch {
      // When listing all, entries without statistics are not interfaces (bonding_masters) or
      // vanished since the listing (veth churn); only a configured name is worth reporting.
      if (!explicit) return undefined;
      problems.push({
        code: 'DWO_E_INTERFACE_NOT_FOUND',
        message: `interface ${name} not found (no ${path.join(dir, 'statistics')})`,
        fix: 'Check the name with `ip link`; the agent must run in the host network namespace to see host interfaces.',
      });
      return undefined;
    }
    for (const [key, file] of STAT_FILES) {
      try {
        stats[key] = await readBigint(path.join(dir, 'statistics', file));
      } catch (err) {
        problems.push({
          code: 'DWO_E_COUNTERS_UNREADABLE',
          message: `cannot read ${name} statistics/${file}: ${errCode(err)}`,
          fix: 'Check that sysfs is mounted; the counter is reported as 0.',
        });
      }
    }
    const ethtool = await this.readEthtool(name, dir, explicit, binary, problems);
    return { name, ...stats, ethtool };
  }

  /**
   * Runs `ethtool -S` for configured interfaces, or, when reading all interfaces, only for those
   * backed by a device (`<dir>/device` exists): virtual interfaces (veth, bridges, lo) are many on
   * a Kubernetes node and have no NIC counters worth a process per poll.
   */
  private async readEthtool(name: string, dir: string, explicit: boolean, binary: string | undefined, problems: CounterProblem[]): Promise<Record<string, bigint>> {
    if (binary === undefined || this.ethtoolFailed.has(name)) return {};
    if (!explicit) {
      try {
        await access(path.join(dir, 'device'));
      } catch {
        return {};
      }
    }
    try {
      return parseEthtoolStats(await runEthtool(binary, name, this.ethtoolTimeoutMs));
    } catch (err) {
      const timedOut = err instanceof EthtoolFailure && err.timedOut;
      if (!timedOut) this.ethtoolFailed.add(name);
      problems.push({
        code: 'DWO_E_ETHTOOL_FAILED',
        message: `\`${binary} -S ${name}\` failed${timedOut ? '' : ' (not retried)'}: ${err instanceof Error ? err.message : String(err)}`,
        fix: 'Virtual interfaces often have no driver statistics; for a NIC check the driver and that the agent has CAP_NET_ADMIN.',
      });
      return {};
    }
  }

  private async readSoftnet(problems: CounterProblem[]): Promise<SoftnetRow[]> {
    const file = path.join(this.procRoot, 'net/softnet_stat');
    try {
      return parseSoftnetStat(await readFile(file, 'utf8'));
    } catch (err) {
      problems.push({ code: 'DWO_E_COUNTERS_UNREADABLE', message: `cannot read ${file}: ${errCode(err)}`, fix: 'Mount procfs at /proc (host PID/network namespace for host figures).' });
      return [];
    }
  }

  private async readSnmp(problems: CounterProblem[]): Promise<Map<string, bigint>> {
    const counters = new Map<string, bigint>();
    for (const name of ['snmp', 'netstat', 'snmp6']) {
      const file = path.join(this.procRoot, 'net', name);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        // snmp6 is absent when IPv6 is disabled; that is not a problem.
        if (name !== 'snmp6') {
          problems.push({ code: 'DWO_E_COUNTERS_UNREADABLE', message: `cannot read ${file}: ${errCode(err)}`, fix: 'Mount procfs at /proc.' });
        }
        continue;
      }
      if (name === 'snmp6') {
        parseSnmp6(text, counters);
      } else if (parseSnmpPairs(text, counters).errors > 0) {
        problems.push({ code: 'DWO_E_COUNTERS_UNREADABLE', message: `${file} has malformed header/value lines; the rest was read`, fix: 'Report the file content; the kernel format may have changed.' });
      }
    }
    return counters;
  }
}
