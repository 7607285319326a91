// The drop monitor: probes the node, opens the best kernel drop source, drains it on a timer,
// reads the counters at window edges and turns each window into a DropSnapshot. Used by the CLI
// (`snapshot`, `top`) and by the agent's publish mode. The only place that wires sources together.
import os from 'node:os';
import type { MonitorConfig } from '../config/agent.js';
import { diffSnapshots } from '../domain/counters.js';
import { buildSnapshot, type DropSnapshot } from '../domain/snapshot.js';
import { SiteAccumulator } from '../domain/sites.js';
import { chooseDropSource } from '../domain/probe.js';
import type { Capabilities, CounterSnapshot, DropSourceKind, KernelDropSample, Symbolized } from '../domain/types.js';
import { DwoError } from '../runtime/errors.js';
import { CounterSource } from './sources/counters.js';
import { HistDropSource } from './sources/hist.js';
import { Kallsyms } from './sources/kallsyms.js';
import { probeCapabilities } from './sources/probe.js';
import { TracefsDropSource } from './sources/tracefs.js';

/** What every kernel drop source offers the monitor. */
export interface DropSource {
  poll(): { samples: KernelDropSample[]; events: number; pages?: number; parseErrors: number };
  /** Cumulative events the kernel could not hand to us since open. */
  lostEvents(): bigint;
  close(): void | Promise<void>;
}

/** Injected so tests can drive time; production uses the wall clock. */
export interface Clock {
  now(): number;
}
const systemClock: Clock = { now: () => Date.now() };

export class DropMonitor {
  private readonly acc = new SiteAccumulator();
  private timer: NodeJS.Timeout | undefined;
  private windowStart: number;
  private lastCounters: CounterSnapshot | undefined;
  private lostAtWindowStart = 0n;
  private cpuAtWindowStart = process.cpuUsage();
  private parseErrors = 0;
  private closed = false;

  private constructor(
    private readonly config: MonitorConfig,
    private readonly caps: Capabilities,
    private readonly sourceKind: DropSourceKind,
    private readonly sourceReason: string,
    private readonly source: DropSource | undefined,
    private readonly symbols: { symbolize(a: bigint): Symbolized },
    private readonly counters: CounterSource,
    private readonly clock: Clock,
  ) {
    this.windowStart = clock.now();
  }

  /** Probes, opens the chosen source and starts draining it every pollIntervalMs. */
  static async start(config: MonitorConfig, clock: Clock = systemClock): Promise<DropMonitor> {
    const probeOpts = config.tracefsRoot === undefined ? {} : { tracefsRoot: config.tracefsRoot };
    const caps = await probeCapabilities(probeOpts);
    const choice = pickSource(config, caps);
    let source: DropSource | undefined;
    const sourceOpts = {
      bufferSizeKb: config.bufferSizeKb,
      ignoreReasons: config.ignoreReasons,
      onlyReasons: config.onlyReasons,
      ...(config.tracefsRoot === undefined ? {} : { tracefsRoot: config.tracefsRoot }),
    };
    if (choice.kind === 'tracefs-ring') source = await TracefsDropSource.open(sourceOpts);
    else if (choice.kind === 'hist-trigger') source = await HistDropSource.open(sourceOpts);
    const symbols = await Kallsyms.load();
    const counters = new CounterSource({ interfaces: config.interfaces });
    const m = new DropMonitor(config, caps, choice.kind, choice.reason, source, symbols, counters, clock);
    m.lastCounters = (await counters.read()).snapshot;
    m.windowStart = clock.now();
    m.cpuAtWindowStart = process.cpuUsage();
    if (source) m.schedule(config.pollIntervalMs);
    return m;
  }

  /** The source in use and why it was chosen. */
  get sourceInfo(): { kind: DropSourceKind; reason: string } {
    return { kind: this.sourceKind, reason: this.sourceReason };
  }

  /**
   * Drains on a timer that speeds up under load: when a poll found more than an eighth of one
   * CPU's ring full, the next poll comes ten times sooner, so a burst cannot fill the ring between
   * two polls. Idle nodes keep the slow, cheap interval.
   */
  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      const pressure = this.drain();
      const normal = this.config.pollIntervalMs;
      this.schedule(pressure > 0.125 ? Math.max(5, Math.floor(normal / 10)) : normal);
    }, delayMs);
    this.timer.unref?.();
  }

  /**
   * Reads everything the kernel has queued right now. Never throws: errors are counted.
   * @returns how full one CPU's ring was, as a fraction (pages read / pages per CPU)
   */
  drain(): number {
    if (!this.source || this.closed) return 0;
    try {
      const r = this.source.poll();
      this.acc.add(r.samples);
      this.parseErrors += r.parseErrors;
      const pagesPerCpu = (this.config.bufferSizeKb * 1024) / 4096;
      return (r.pages ?? 0) / pagesPerCpu;
    } catch {
      this.parseErrors += 1;
      return 0;
    }
  }

  /** Closes the current window and returns its summary; the next window starts now. */
  async snapshot(): Promise<DropSnapshot> {
    this.drain();
    const endMs = this.clock.now();
    const read = await this.counters.read();
    const cur = read.snapshot;
    const counters = this.lastCounters ? diffSnapshots(this.lastCounters, cur) : undefined;
    const lostNow = this.source ? this.source.lostEvents() : 0n;
    const snap = buildSnapshot({
      kernel: { release: os.release(), machine: os.machine() },
      source: { kind: this.sourceKind, reason: this.sourceReason },
      capabilities: this.caps,
      ignoredReasons: this.config.ignoreReasons,
      onlyReasons: this.config.onlyReasons,
      startMs: this.windowStart,
      endMs,
      sites: this.acc.drain(),
      symbolize: (a) => this.symbols.symbolize(a),
      ...(counters ? { counters } : {}),
      counterProblems: read.problems,
      monitor: {
        lostEvents: Number(lostNow - this.lostAtWindowStart),
        parseErrors: this.parseErrors,
        cpuSeconds: cpuSecondsSince(this.cpuAtWindowStart),
        rssBytes: process.memoryUsage.rss(),
      },
      maxSites: this.config.maxSites,
    });
    this.lostAtWindowStart = lostNow;
    this.cpuAtWindowStart = process.cpuUsage();
    this.parseErrors = 0;
    this.lastCounters = cur;
    this.windowStart = endMs;
    return snap;
  }

  /** Stops the timer and releases kernel resources (removes our tracefs instance). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.source?.close();
  }
}

function pickSource(config: MonitorConfig, caps: Capabilities): { kind: DropSourceKind; reason: string } {
  const best = chooseDropSource(caps);
  if (config.source === 'auto') return best;
  const wanted: DropSourceKind = config.source === 'hist' ? 'hist-trigger' : config.source === 'tracefs' ? 'tracefs-ring' : 'counters-only';
  if (wanted === 'counters-only') return { kind: wanted, reason: 'counters only, as requested (--source counters)' };
  if (wanted === 'hist-trigger' && !caps.histTriggers) {
    throw new DwoError('DWO_E_CONFIG', 'source "hist" was requested but this kernel has no hist triggers (CONFIG_HIST_TRIGGERS)', {
      fix: 'Use --source auto or --source tracefs.',
    });
  }
  if (!caps.tracefs.writable) {
    throw new DwoError(caps.tracefs.available ? 'DWO_E_TRACEFS_PERMISSION' : 'DWO_E_TRACEFS_NOT_MOUNTED', caps.tracefs.detail ?? 'tracefs is not usable');
  }
  if (!caps.kfreeSkb.available) throw new DwoError('DWO_E_NO_KFREE_SKB', caps.kfreeSkb.detail ?? 'no skb:kfree_skb event');
  return { kind: wanted, reason: `${wanted}, as requested` };
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}
