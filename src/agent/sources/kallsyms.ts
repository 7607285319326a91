// Resolves kernel text addresses (kfree_skb `location`) to function+offset/size [module] from
// /proc/kallsyms. Used by the drop sources' consumers (aggregation, CLI) and by the probe.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { hexAddress } from '../../domain/symbols.js';
import type { Symbolized } from '../../domain/types.js';

export { formatSymbol } from '../../domain/symbols.js';

/** Options for {@link Kallsyms.load}. Paths are injectable so tests can use fixture files. */
export interface KallsymsOptions {
  /** Root of procfs; kallsyms is `<procRoot>/kallsyms`, the sysctls `<procRoot>/sys/kernel/...`. */
  readonly procRoot?: string;
  /** Minimum time between reloads triggered by a lookup miss, in ms (default 10 000). */
  readonly reloadIntervalMs?: number;
  /** Monotonic clock in ms (default performance.now). */
  readonly now?: () => number;
}

/** The parsed, sorted table of text symbols. Addresses are split into 32-bit halves for speed. */
export interface SymbolTable {
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly names: readonly string[];
  /** Module per symbol; undefined for the core kernel. */
  readonly modules: readonly (string | undefined)[];
  /** Number of text symbols whose address read as zero. */
  readonly zeroed: number;
}

const EMPTY: SymbolTable = { hi: new Uint32Array(0), lo: new Uint32Array(0), names: [], modules: [], zeroed: 0 };
const TWO32 = 4294967296;

/**
 * A symbol table loaded from /proc/kallsyms, keeping text symbols (types T, t, W, w) sorted by
 * address. `symbolize` is synchronous: the first call reads the file synchronously unless
 * {@link Kallsyms.load} or {@link Kallsyms.reload} already did. A miss (an address outside the
 * known symbols, e.g. a module loaded since the last read) starts a background reload, at most
 * once per reload interval; the old table answers until the new one is in.
 */
export class Kallsyms {
  private table: SymbolTable = EMPTY;
  private loaded = false;
  private loadedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private hiddenReason: string | undefined;
  private loadError: string | undefined;
  private lastLoadMs = 0;
  private readonly file: string;
  private readonly procRoot: string;
  private readonly reloadIntervalMs: number;
  private readonly now: () => number;

  /** Creates a resolver; nothing is read until the first lookup or {@link reload}. */
  constructor(opts: KallsymsOptions = {}) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.file = path.join(this.procRoot, 'kallsyms');
    this.reloadIntervalMs = opts.reloadIntervalMs ?? 10_000;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Creates a resolver and reads kallsyms without blocking. Never throws: see `unavailableReason`. */
  static async load(opts: KallsymsOptions = {}): Promise<Kallsyms> {
    const k = new Kallsyms(opts);
    await k.reload();
    return k;
  }

  /** Number of text symbols held. */
  get symbolCount(): number {
    this.ensureLoaded();
    return this.table.names.length;
  }

  /** Wall time the last load took (read + parse + sort), in ms. */
  get lastLoadDurationMs(): number {
    return this.lastLoadMs;
  }

  /** True when real (non-zero) addresses were read. */
  get visible(): boolean {
    return this.unavailableReason === undefined;
  }

  /** Why addresses cannot be resolved, or undefined when they can. */
  get unavailableReason(): string | undefined {
    this.ensureLoaded();
    return this.loadError ?? this.hiddenReason;
  }

  /** Re-reads kallsyms now (call after module load/unload). Concurrent calls share one read. */
  reload(): Promise<void> {
    this.inflight ??= this.loadAsync().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Resolves when no background reload is running (for tests and orderly shutdown). */
  async settled(): Promise<void> {
    await this.inflight;
  }

  /**
   * Resolves an address to the last text symbol at or below it. Size is the distance to the next
   * text symbol, so the output matches the kernel's %pS. Unresolvable addresses come back as the
   * hex address with `unresolvedReason` set.
   */
  symbolize(addr: bigint): Symbolized {
    // Hidden or unreadable symbols do not come back by re-reading; reload() is still available.
    const unavailable = this.unavailableReason;
    if (unavailable !== undefined) return unresolved(addr, unavailable);
    const t = this.table;
    const hi = Number((addr >> 32n) & 0xffffffffn);
    const lo = Number(addr & 0xffffffffn);
    const i = lastAtOrBelow(t, hi, lo);
    // Below the first symbol, or past the last one (whose size is unknown): likely a module
    // loaded since the last read.
    if (i < 0 || i + 1 >= t.names.length) {
      this.maybeReload();
      return unresolved(addr, `address not in the kernel text symbols of ${this.file} (re-read at most every ${this.reloadIntervalMs / 1000} s)`);
    }
    const shi = t.hi[i] ?? 0;
    const slo = t.lo[i] ?? 0;
    const offset = (hi - shi) * TWO32 + (lo - slo);
    const size = ((t.hi[i + 1] ?? 0) - shi) * TWO32 + ((t.lo[i + 1] ?? 0) - slo);
    const name = t.names[i] ?? hexAddress(addr);
    const module = t.modules[i];
    return module === undefined ? { symbol: name, offset, size } : { symbol: name, offset, size, module };
  }

  private maybeReload(): void {
    if (this.inflight !== undefined) return;
    if (this.now() - this.loadedAt < this.reloadIntervalMs) return;
    void this.reload();
  }

  private ensureLoaded(): void {
    if (this.loaded) return;
    const started = performance.now();
    this.loadedAt = this.now();
    let text: string;
    try {
      text = readFileSync(this.file, 'latin1');
    } catch (err) {
      this.fail(err);
      return;
    }
    this.apply(text, started);
  }

  private async loadAsync(): Promise<void> {
    const started = performance.now();
    this.loadedAt = this.now();
    let text: string;
    try {
      text = await readFile(this.file, 'latin1');
    } catch (err) {
      this.fail(err);
      return;
    }
    this.apply(text, started);
  }

  private fail(err: unknown): void {
    this.loaded = true;
    this.loadError = `cannot read ${this.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; symbolizing needs procfs and a kernel with CONFIG_KALLSYMS`;
  }

  private apply(text: string, started: number): void {
    const table = parseKallsyms(text);
    this.table = table;
    this.loaded = true;
    this.loadError = undefined;
    this.hiddenReason =
      table.names.length === 0 ? `${this.file} holds no text symbols` : table.zeroed === table.names.length ? explainHidden(this.procRoot) : undefined;
    this.lastLoadMs = performance.now() - started;
  }
}

/**
 * Whether kallsyms shows real addresses to this process, read cheaply from the first 64 KiB
 * (the probe's check; a full load is not needed to decide).
 */
export function kallsymsVisibility(procRoot = '/proc'): { visible: boolean; detail?: string } {
  const file = path.join(procRoot, 'kallsyms');
  let head: string;
  try {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const n = readSync(fd, buf, 0, buf.length, 0);
      head = buf.toString('latin1', 0, n);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return { visible: false, detail: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  const cut = head.lastIndexOf('\n');
  const table = parseKallsyms(cut >= 0 ? head.slice(0, cut + 1) : head);
  if (table.names.length === 0) return { visible: false, detail: `${file} shows no text symbols` };
  if (table.zeroed === table.names.length) return { visible: false, detail: explainHidden(procRoot) };
  return { visible: true };
}

function unresolved(addr: bigint, reason: string): Symbolized {
  return { symbol: hexAddress(addr), offset: 0, size: 0, unresolvedReason: reason };
}

/** Index of the last symbol with address <= (hi, lo), or -1. */
function lastAtOrBelow(t: SymbolTable, hi: number, lo: number): number {
  let low = 0;
  let high = t.names.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const mh = t.hi[mid] ?? 0;
    if (mh < hi || (mh === hi && (t.lo[mid] ?? 0) <= lo)) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  // Aliases share an address; the kernel reports the first one, so step back to it.
  while (found > 0 && t.hi[found - 1] === t.hi[found] && t.lo[found - 1] === t.lo[found]) found--;
  return found;
}

function isTextType(c: number): boolean {
  // 'T' 't' 'W' 'w'
  return c === 84 || c === 116 || c === 87 || c === 119;
}

/**
 * Parses /proc/kallsyms text ("address type name[\t[module]]" per line) into a sorted table of
 * text symbols. One pass with indexOf, no regular expressions: the file has ~120k lines.
 * Exported for tests.
 */
export function parseKallsyms(text: string): SymbolTable {
  const his: number[] = [];
  const los: number[] = [];
  const names: string[] = [];
  const modules: (string | undefined)[] = [];
  const interned = new Map<string, string>();
  let zeroed = 0;
  let sorted = true;
  let pos = 0;
  const end = text.length;
  while (pos < end) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = end;
    const sp1 = text.indexOf(' ', pos);
    if (sp1 > pos && sp1 + 3 < eol && text.charCodeAt(sp1 + 2) === 32 && isTextType(text.charCodeAt(sp1 + 1))) {
      // Search for the module column inside this line only (indexOf on the whole text would
      // scan to the end of the file for every line without one).
      const rest = text.slice(sp1 + 3, eol);
      const tab = rest.indexOf('\t');
      const name = tab < 0 ? rest : rest.slice(0, tab);
      let module: string | undefined;
      if (tab >= 0) {
        const open = rest.indexOf('[', tab);
        const close = rest.indexOf(']', open + 1);
        if (open >= 0 && close > open) {
          const raw = rest.slice(open + 1, close);
          module = interned.get(raw);
          if (module === undefined) {
            interned.set(raw, raw);
            module = raw;
          }
        }
      }
      const digits = sp1 - pos;
      const loStart = digits > 8 ? sp1 - 8 : pos;
      const hi = digits > 8 ? parseInt(text.slice(pos, loStart), 16) : 0;
      const lo = parseInt(text.slice(loStart, sp1), 16);
      if (Number.isFinite(hi) && Number.isFinite(lo)) {
        const n = names.length;
        if (n > 0) {
          const ph = his[n - 1] ?? 0;
          if (ph > hi || (ph === hi && (los[n - 1] ?? 0) > lo)) sorted = false;
        }
        if (hi === 0 && lo === 0) zeroed++;
        his.push(hi);
        los.push(lo);
        names.push(name);
        modules.push(module);
      }
    }
    pos = eol + 1;
  }
  const n = names.length;
  if (sorted) {
    return { hi: Uint32Array.from(his), lo: Uint32Array.from(los), names, modules, zeroed };
  }
  // Module and BPF symbols may interleave; a stable index sort keeps file order among aliases.
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => (his[a] ?? 0) - (his[b] ?? 0) || (los[a] ?? 0) - (los[b] ?? 0));
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const sNames: string[] = new Array<string>(n);
  const sModules: (string | undefined)[] = new Array<string | undefined>(n);
  for (let i = 0; i < n; i++) {
    const j = order[i] ?? 0;
    hi[i] = his[j] ?? 0;
    lo[i] = los[j] ?? 0;
    sNames[i] = names[j] ?? '';
    sModules[i] = modules[j];
  }
  return { hi, lo, names: sNames, modules: sModules, zeroed };
}

function readSysctl(procRoot: string, name: string): number | undefined {
  try {
    const v = Number.parseInt(readFileSync(path.join(procRoot, 'sys/kernel', name), 'utf8').trim(), 10);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Explains why every kallsyms address reads as zero (kernel.md section 8): the kernel checks the
 * opener's credentials against kernel.kptr_restrict and kernel.perf_event_paranoid.
 */
function explainHidden(procRoot: string): string {
  const kptr = readSysctl(procRoot, 'kptr_restrict');
  const paranoid = readSysctl(procRoot, 'perf_event_paranoid');
  const prefix = 'kernel addresses in /proc/kallsyms read as zero';
  if (kptr === 2) {
    return `${prefix}: kernel.kptr_restrict=2 hides them from everyone; set kernel.kptr_restrict=1 and give the agent CAP_SYSLOG`;
  }
  if (kptr === 1) {
    return `${prefix}: kernel.kptr_restrict=1 shows them only to readers with CAP_SYSLOG; add CAP_SYSLOG to the agent`;
  }
  if (kptr === 0 && paranoid !== undefined && paranoid > 1) {
    return `${prefix}: kernel.perf_event_paranoid=${paranoid} (>1) with kptr_restrict=0 still requires CAP_SYSLOG; add CAP_SYSLOG to the agent or set kernel.perf_event_paranoid=1`;
  }
  return `${prefix} (kptr_restrict=${kptr ?? 'unknown'}, perf_event_paranoid=${paranoid ?? 'unknown'}); kernel lockdown in confidentiality mode also hides them; run the agent with CAP_SYSLOG`;
}
