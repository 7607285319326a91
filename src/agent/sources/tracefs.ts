// The live kernel-drop source: a private tracefs instance with skb:kfree_skb enabled, drained by
// non-blocking reads of every CPU's trace_pipe_raw. Created by the agent's main loop (and the CLI
// snapshot/top commands), which call poll() on a timer and close() on shutdown.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KernelDropSample } from '../../domain/types.js';
import { onShutdown } from '../../runtime/shutdown.js';
import { SourceError } from './errors.js';
import { FormatParseError, buildReasonFilter, findField, parseEventFormat, parseHeaderPage } from './event-format.js';
import type { EventFormat, PageHeaderLayout } from './event-format.js';
import { KfreeSkbDecoder } from './ring-buffer.js';

/** Options for {@link TracefsDropSource.open}. */
export interface TracefsSourceOptions {
  /** tracefs mount point. Default: /sys/kernel/tracing, else /sys/kernel/debug/tracing, else mount it at /sys/kernel/tracing. */
  readonly tracefsRoot?: string;
  /** Ring-buffer size per CPU in KiB (the kernel rounds it up to whole sub-buffers). */
  readonly bufferSizeKb: number;
  /** Reason names to drop in the kernel (e.g. "OTHERHOST"); mapped to numbers through the event's print fmt. */
  readonly ignoreReasons: readonly string[];
  /** When non-empty, only these reasons are recorded (filtered in the kernel). */
  readonly onlyReasons?: readonly string[];
  /** Instance name prefix; instances are named `<prefix><pid>-<hex>`. Default "dropwatch-". */
  readonly instancePrefix?: string;
  /** Upper bound on pages read from one CPU per poll (default: the buffer's sub-buffer count + 2). */
  readonly maxPagesPerCpu?: number;
}

/** What one {@link TracefsDropSource.poll} read. */
export interface PollResult {
  /** One sample per distinct (location, reason) in this poll, summed over CPUs. */
  readonly samples: KernelDropSample[];
  /** kfree_skb events decoded. */
  readonly events: number;
  /** Sub-buffers read. */
  readonly pages: number;
  /** Inconsistent pages or records (each stops or skips decoding; see lastParseError). */
  readonly parseErrors: number;
}

/** Cumulative counters since open. */
export interface SourceTotals {
  readonly events: number;
  readonly pages: number;
  readonly parseErrors: number;
  /** The most recent parse error text, if any. */
  readonly lastParseError: string | undefined;
  /** Events the pages themselves flagged as lost (overwrite mode only; 0 with overwrite=0). */
  readonly pageMissedEvents: number;
}

const DEFAULT_ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
const DEFAULT_PREFIX = 'dropwatch-';
const KFREE_SKB = path.join('events', 'skb', 'kfree_skb');
/** per_cpu/cpuN/stats keys whose growth means this monitor lost events. */
const LOSS_KEYS = ['overrun', 'dropped events', 'commit overrun'] as const;

function errno(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isPermission(err: unknown): boolean {
  const code = errno(err);
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function whoAmI(): string {
  const uid = process.getuid?.();
  return uid === undefined ? 'this user' : `uid ${uid}`;
}

function permissionError(what: string, cause: unknown): SourceError {
  return new SourceError('DWO_E_TRACEFS_PERMISSION', `${what}: ${errno(cause) ?? String(cause)} (running as ${whoAmI()})`, { cause });
}

/** Whether `dir` is a usable tracefs mount: 'ok', 'absent' (not mounted there) or 'denied'. */
function tracefsState(dir: string): 'ok' | 'absent' | 'denied' {
  try {
    statSync(path.join(dir, 'instances'));
    statSync(path.join(dir, 'events'));
    return 'ok';
  } catch (err) {
    return isPermission(err) ? 'denied' : 'absent';
  }
}

function deniedError(dir: string): SourceError {
  return new SourceError('DWO_E_TRACEFS_PERMISSION', `tracefs at ${dir} is not accessible to ${whoAmI()}`);
}

/**
 * Finds the tracefs mount point: `explicit` if given, else /sys/kernel/tracing, else
 * /sys/kernel/debug/tracing; if neither is mounted, mounts tracefs at /sys/kernel/tracing.
 * @throws SourceError DWO_E_TRACEFS_NOT_MOUNTED or DWO_E_TRACEFS_PERMISSION
 */
export function findTracefs(explicit?: string): string {
  if (explicit !== undefined) {
    const state = tracefsState(explicit);
    if (state === 'ok') return explicit;
    if (state === 'denied') throw deniedError(explicit);
    throw new SourceError('DWO_E_TRACEFS_NOT_MOUNTED', `${explicit} is not a tracefs mount (no instances/ or events/ in it)`, {
      fix: `Mount it: \`mount -t tracefs nodev ${explicit}\`, or leave tracefsRoot unset to use /sys/kernel/tracing.`,
    });
  }
  for (const dir of DEFAULT_ROOTS) {
    const state = tracefsState(dir);
    if (state === 'ok') return dir;
    if (state === 'denied') throw deniedError(dir);
  }
  const target = DEFAULT_ROOTS[0] ?? '/sys/kernel/tracing';
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', target], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    const detail = stderr !== undefined && stderr !== '' ? stderr : err instanceof Error ? err.message : String(err);
    if (process.getuid?.() !== 0) {
      throw new SourceError('DWO_E_TRACEFS_PERMISSION', `tracefs is not mounted and ${whoAmI()} cannot mount it: ${detail}`, { cause: err });
    }
    throw new SourceError('DWO_E_TRACEFS_NOT_MOUNTED', `tracefs is not mounted at ${DEFAULT_ROOTS.join(' or ')} and mounting it failed: ${detail}`, { cause: err });
  }
  if (tracefsState(target) === 'ok') return target;
  throw new SourceError('DWO_E_TRACEFS_NOT_MOUNTED', `mounted tracefs at ${target} but it has no instances/ or events/ (kernel without CONFIG_FTRACE?)`);
}

/** Parses per_cpu/cpuN/stats ("key: value" lines) into numbers; non-numeric values are skipped. */
export function parseStats(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const value = Number(line.slice(colon + 1).trim());
    if (Number.isFinite(value)) out.set(line.slice(0, colon).trim(), value);
  }
  return out;
}

/** Events lost by the ring buffer according to one CPU's stats. */
export function statsLoss(stats: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const key of LOSS_KEYS) sum += stats.get(key) ?? 0;
  return sum;
}

/** Whether a directory was created more than `ms` ago (unknown age counts as old). */
function olderThan(dir: string, ms: number): boolean {
  try {
    return Date.now() - statSync(dir).ctimeMs > ms;
  } catch {
    return false;
  }
}

/** Whether a process id is alive (a process we cannot signal counts as alive). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) !== 'ESRCH';
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes instances `<prefix><pid>-<hex>` left by dead agents: those whose pid is not alive here,
 * and those older than `graceMs` whatever their pid says (an agent in a container is often pid 1
 * in its own namespace, so a pid that is alive here proves nothing). The kernel refuses to remove
 * an instance whose files are open (EBUSY), so a live agent's instance always survives; the grace
 * period covers the moment between another agent's mkdir and its first open.
 * @returns the names removed
 */
export function removeStaleInstances(tracefsRoot: string, prefix: string = DEFAULT_PREFIX, graceMs = 60_000): string[] {
  const dir = path.join(tracefsRoot, 'instances');
  const pattern = new RegExp(`^${escapeRegExp(prefix)}(\\d+)-[0-9a-f]+$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    if (pidAlive(pid) && !olderThan(path.join(dir, name), graceMs)) continue;
    try {
      rmdirSync(path.join(dir, name));
      removed.push(name);
    } catch (err) {
      if (isPermission(err)) throw permissionError(`cannot remove stale tracefs instance ${path.join(dir, name)}`, err);
      // EBUSY (still open), ENOENT (someone else removed it): leave it.
    }
  }
  return removed;
}

interface CpuReader {
  readonly cpu: number;
  fd: number;
  readonly statsPath: string;
  baseLoss: number;
}

/**
 * Reads kfree_skb events from a dedicated tracefs instance. Not thread-safe; all methods are
 * synchronous except open(). Always call close() (see {@link installCleanupOnSignals}).
 */
export class TracefsDropSource {
  /** tracefs mount point in use. */
  readonly tracefsRoot: string;
  /** Instance directory name, e.g. "dropwatch-1234-9f3a2b1c". */
  readonly instanceName: string;
  /** Absolute path of the instance directory. */
  readonly instancePath: string;
  /** The kfree_skb format read at open. */
  readonly format: EventFormat;
  /** Page header layout from events/header_page. */
  readonly pageLayout: PageHeaderLayout;
  /** Bytes per read() of trace_pipe_raw (one sub-buffer). */
  readonly subBufferSize: number;
  /** The in-kernel filter written ("" for none). */
  readonly filter: string;
  /** Whether the kernel's kfree_skb has a reason field; when false, ignoreReasons are not applied and reasons are "". */
  readonly reasonField: boolean;
  /** Stale instances removed by open(). */
  readonly removedStale: readonly string[];
  /** CPUs being read. */
  readonly cpus: readonly number[];

  private readonly readers: CpuReader[];
  private readonly decoder: KfreeSkbDecoder;
  private readonly page: Buffer;
  private readonly maxPagesPerCpu: number;
  private totalEvents = 0;
  private totalPages = 0;
  private totalErrors = 0;
  private lastError: string | undefined;
  private pageMissed = 0;
  private lastLoss = 0;
  private fdsClosed = false;
  private removed = false;

  private constructor(init: {
    tracefsRoot: string;
    instanceName: string;
    format: EventFormat;
    pageLayout: PageHeaderLayout;
    subBufferSize: number;
    filter: string;
    removedStale: readonly string[];
    readers: CpuReader[];
    maxPagesPerCpu: number;
  }) {
    this.tracefsRoot = init.tracefsRoot;
    this.instanceName = init.instanceName;
    this.instancePath = path.join(init.tracefsRoot, 'instances', init.instanceName);
    this.format = init.format;
    this.pageLayout = init.pageLayout;
    this.subBufferSize = init.subBufferSize;
    this.filter = init.filter;
    this.reasonField = findField(init.format, 'reason') !== undefined;
    this.removedStale = init.removedStale;
    this.readers = init.readers;
    this.cpus = init.readers.map((r) => r.cpu);
    this.maxPagesPerCpu = init.maxPagesPerCpu;
    this.decoder = new KfreeSkbDecoder(init.format, init.pageLayout);
    this.page = Buffer.allocUnsafeSlow(init.subBufferSize);
  }

  /**
   * Creates the instance and starts tracing. Removes instances left by dead agents first.
   * @throws SourceError DWO_E_TRACEFS_NOT_MOUNTED, DWO_E_TRACEFS_PERMISSION, DWO_E_NO_KFREE_SKB,
   *   DWO_E_UNKNOWN_REASON, DWO_E_CONFIG (bad options) or DWO_E_INTERNAL (unexpected kernel answer)
   */
  static async open(opts: TracefsSourceOptions): Promise<TracefsDropSource> {
    const prefix = opts.instancePrefix ?? DEFAULT_PREFIX;
    if (prefix === '' || prefix.includes('/') || prefix.includes('\0')) {
      throw new SourceError('DWO_E_CONFIG', `instancePrefix ${JSON.stringify(prefix)} is not a valid directory name prefix`, { fix: 'Use letters, digits and dashes, e.g. "dropwatch-".' });
    }
    if (!Number.isInteger(opts.bufferSizeKb) || opts.bufferSizeKb <= 0) {
      throw new SourceError('DWO_E_CONFIG', `bufferSizeKb must be a positive integer, got ${opts.bufferSizeKb}`, { fix: 'Set bufferSizeKb to rate × poll interval × ~52 bytes with headroom, e.g. 4096.' });
    }
    const root = findTracefs(opts.tracefsRoot);
    const format = readKfreeSkbFormat(root);
    const filter = buildReasonFilter(format, { ignore: opts.ignoreReasons, only: opts.onlyReasons ?? [] });
    const pageLayout = readPageLayout(root);
    const removedStale = removeStaleInstances(root, prefix);

    const instanceName = `${prefix}${process.pid}-${randomBytes(4).toString('hex')}`;
    const dir = path.join(root, 'instances', instanceName);
    try {
      mkdirSync(dir);
    } catch (err) {
      if (isPermission(err)) throw permissionError(`cannot create tracefs instance ${dir}`, err);
      throw new SourceError('DWO_E_INTERNAL', `cannot create tracefs instance ${dir}: ${errno(err) ?? String(err)}`, { cause: err });
    }
    const readers: CpuReader[] = [];
    try {
      const write = (rel: string, value: string): void => {
        try {
          writeFileSync(path.join(dir, rel), value);
        } catch (err) {
          if (isPermission(err)) throw permissionError(`cannot write ${path.join(dir, rel)}`, err);
          throw new SourceError('DWO_E_INTERNAL', `writing ${JSON.stringify(value)} to ${path.join(dir, rel)} failed: ${errno(err) ?? String(err)}${errorLogTail(root)}`, { cause: err });
        }
      };
      write('options/overwrite', '0');
      write('buffer_size_kb', String(opts.bufferSizeKb));
      if (filter !== '') write(path.join(KFREE_SKB, 'filter'), filter);
      const subBufferSize = readSubBufferSize(dir, pageLayout);

      for (const entry of readdirSync(path.join(dir, 'per_cpu'))) {
        const m = /^cpu(\d+)$/.exec(entry);
        if (!m) continue;
        const cpuDir = path.join(dir, 'per_cpu', entry);
        let fd: number;
        try {
          fd = openSync(path.join(cpuDir, 'trace_pipe_raw'), constants.O_RDONLY | constants.O_NONBLOCK);
        } catch (err) {
          const code = errno(err);
          if (code === 'ENODEV' || code === 'ENOENT' || code === 'ENXIO') continue; // offline CPU
          if (isPermission(err)) throw permissionError(`cannot open ${path.join(cpuDir, 'trace_pipe_raw')}`, err);
          throw err;
        }
        const reader: CpuReader = { cpu: Number(m[1]), fd, statsPath: path.join(cpuDir, 'stats'), baseLoss: 0 };
        readers.push(reader);
        reader.baseLoss = readLoss(reader.statsPath);
      }
      if (readers.length === 0) throw new SourceError('DWO_E_INTERNAL', `no per-CPU trace_pipe_raw could be opened under ${path.join(dir, 'per_cpu')}`);
      readers.sort((a, b) => a.cpu - b.cpu);

      write(path.join(KFREE_SKB, 'enable'), '1');
      write('tracing_on', '1');
      const pagesInBuffer = Math.ceil((opts.bufferSizeKb * 1024) / subBufferSize);
      return new TracefsDropSource({
        tracefsRoot: root,
        instanceName,
        format,
        pageLayout,
        subBufferSize,
        filter,
        removedStale,
        readers,
        maxPagesPerCpu: opts.maxPagesPerCpu ?? pagesInBuffer + 2,
      });
    } catch (err) {
      for (const r of readers) {
        try {
          closeSync(r.fd);
        } catch {
          // already closed
        }
      }
      removeInstanceDir(dir);
      if (err instanceof SourceError) throw err;
      throw new SourceError('DWO_E_INTERNAL', `setting up tracefs instance ${dir} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /**
   * Drains every CPU: reads one sub-buffer per read() until EAGAIN (or maxPagesPerCpu pages),
   * decodes them and returns the aggregated samples. Returns an empty result after close().
   */
  poll(): PollResult {
    if (this.fdsClosed) return { samples: [], events: 0, pages: 0, parseErrors: 0 };
    const t = this.decoder.totals;
    t.pages = 0;
    t.events = 0;
    t.errors = 0;
    t.firstError = undefined;
    t.missedEvents = 0;
    const size = this.subBufferSize;
    for (const r of this.readers) {
      for (let i = 0; i < this.maxPagesPerCpu; i++) {
        let n: number;
        try {
          n = readSync(r.fd, this.page, 0, size, null);
        } catch (err) {
          const code = errno(err);
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') break;
          if (code === 'EINTR') continue;
          throw new SourceError('DWO_E_INTERNAL', `reading cpu${r.cpu}/trace_pipe_raw of ${this.instanceName} failed: ${code ?? String(err)}`, { cause: err });
        }
        if (n <= 0) break;
        this.decoder.decodePage(this.page, n);
      }
    }
    const samples = this.decoder.drain();
    this.totalEvents += t.events;
    this.totalPages += t.pages;
    this.totalErrors += t.errors;
    this.pageMissed += t.missedEvents;
    if (t.firstError !== undefined) this.lastError = t.firstError;
    return { samples, events: t.events, pages: t.pages, parseErrors: t.errors };
  }

  /**
   * Events the ring buffer lost since open (the monitor's own loss), summed over CPUs:
   * Δ(overrun + dropped events + commit overrun) from per_cpu/cpuN/stats. Reads the stats files.
   * Returns the last known value after close().
   */
  lostEvents(): bigint {
    if (this.fdsClosed) return BigInt(this.lastLoss);
    let sum = 0;
    for (const r of this.readers) sum += Math.max(0, readLoss(r.statsPath) - r.baseLoss);
    this.lastLoss = sum;
    return BigInt(sum);
  }

  /** Cumulative decode counters since open. */
  totals(): SourceTotals {
    return { events: this.totalEvents, pages: this.totalPages, parseErrors: this.totalErrors, lastParseError: this.lastError, pageMissedEvents: this.pageMissed };
  }

  /**
   * Stops tracing and removes the instance: disables the event, closes the readers and removes
   * the directory (retrying briefly while the kernel reports it busy). Safe to call many times;
   * a later call retries a removal that failed.
   * @throws SourceError DWO_E_INTERNAL when the instance directory could not be removed
   */
  close(): void {
    if (!this.fdsClosed) {
      try {
        this.lostEvents();
      } catch {
        // stats unreadable: keep the last value
      }
      this.fdsClosed = true;
      try {
        writeFileSync(path.join(this.instancePath, KFREE_SKB, 'enable'), '0');
      } catch {
        // instance already gone or not writable: rmdir below reports what matters
      }
      for (const r of this.readers) {
        try {
          closeSync(r.fd);
        } catch {
          // already closed
        }
      }
    }
    if (this.removed) return;
    const failure = removeInstanceDir(this.instancePath);
    if (failure === undefined) {
      this.removed = true;
      return;
    }
    throw new SourceError('DWO_E_INTERNAL', `could not remove tracefs instance ${this.instancePath}: ${failure}`, {
      fix: `Remove it by hand: \`rmdir ${this.instancePath}\`; the next agent start also removes instances of dead agents.`,
    });
  }
}

/** rmdir with a short retry on EBUSY; returns undefined on success (or if already gone), else the error code. */
function removeInstanceDir(dir: string): string | undefined {
  let last = 'EBUSY';
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      rmdirSync(dir);
      return undefined;
    } catch (err) {
      const code = errno(err) ?? String(err);
      if (code === 'ENOENT') return undefined;
      last = code;
      if (code !== 'EBUSY') return code;
      sleepSync(25);
    }
  }
  return last;
}

function readLoss(statsPath: string): number {
  return statsLoss(parseStats(readFileSync(statsPath, 'utf8')));
}

function readKfreeSkbFormat(root: string): EventFormat {
  const file = path.join(root, KFREE_SKB, 'format');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (isPermission(err)) throw permissionError(`cannot read ${file}`, err);
    throw new SourceError('DWO_E_NO_KFREE_SKB', `${file} does not exist: the kernel has no skb:kfree_skb tracepoint`, { cause: err });
  }
  try {
    return parseEventFormat(text);
  } catch (err) {
    if (err instanceof FormatParseError) throw new SourceError('DWO_E_NO_KFREE_SKB', `${file} is not a usable event format: ${err.message}`, { cause: err });
    throw err;
  }
}

function readPageLayout(root: string): PageHeaderLayout {
  const file = path.join(root, 'events', 'header_page');
  try {
    return parseHeaderPage(readFileSync(file, 'utf8'));
  } catch (err) {
    if (isPermission(err)) throw permissionError(`cannot read ${file}`, err);
    throw new SourceError('DWO_E_INTERNAL', `cannot use ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** One read() returns at most one sub-buffer: buffer_subbuf_size_kb when the kernel has it, else header_page's size. */
function readSubBufferSize(instanceDir: string, layout: PageHeaderLayout): number {
  try {
    const kb = Number(readFileSync(path.join(instanceDir, 'buffer_subbuf_size_kb'), 'utf8').trim());
    if (Number.isInteger(kb) && kb > 0) return kb * 1024;
  } catch {
    // older kernels: fixed sub-buffer = one page
  }
  return layout.dataOffset + layout.dataSize;
}

function errorLogTail(root: string): string {
  try {
    const lines = readFileSync(path.join(root, 'error_log'), 'utf8').trim().split('\n');
    const tail = lines.slice(-3).join(' | ').trim();
    return tail === '' ? '' : ` (tracefs error_log: ${tail})`;
  } catch {
    return '';
  }
}

/**
 * Makes sure `closeFn` runs when the process ends: on SIGINT/SIGTERM/SIGHUP and uncaught errors
 * through runtime/shutdown.ts (which then exits), and on a plain process exit as a last resort.
 * `closeFn` should be idempotent, like {@link TracefsDropSource.close}.
 */
export function installCleanupOnSignals(closeFn: () => void): void {
  const safe = (): void => {
    try {
      closeFn();
    } catch (err) {
      process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  };
  onShutdown(safe);
  process.once('exit', safe);
}
