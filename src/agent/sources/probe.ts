// Finds out what this node offers for drop monitoring (tracefs, skb:kfree_skb and its reason
// field, kallsyms, hist triggers, drop_monitor, ethtool). Called once at agent/CLI start; the
// choice of source is made from the result by domain/probe.ts.
import { access, mkdir, readFile, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Capabilities } from '../../domain/types.js';
import { ETHTOOL_DIRS, findEthtool } from './counters.js';
import { findField, parseEventFormat } from './event-format.js';
import { kallsymsVisibility } from './kallsyms.js';
import { codeOf, exists } from './fs-util.js';

/** Where the probe looks. Everything is injectable so tests run on fake trees. */
export interface ProbeOptions {
  /** tracefs mount point; default: the first of /sys/kernel/tracing, /sys/kernel/debug/tracing that is mounted. */
  readonly tracefsRoot?: string;
  /** Default `/proc`. */
  readonly procRoot?: string;
  /** Default `/sys`. */
  readonly sysRoot?: string;
  /** Default `/lib/modules`. */
  readonly modulesRoot?: string;
  /** Kernel release for modules.builtin; default os.release(). */
  readonly release?: string;
  /** Names the probe instance `dropwatch-probe-<pid>`; default process.pid. */
  readonly pid?: number;
  /** Effective uid, for the not-root explanation; default process.geteuid(). */
  readonly uid?: number;
  /** Where to look for ethtool; default {@link ETHTOOL_DIRS}. */
  readonly ethtoolDirs?: readonly string[];
  /** Directory operations for the writability test (tests inject refusals); default node:fs. */
  readonly dirOps?: { mkdir(p: string): Promise<unknown>; rmdir(p: string): Promise<unknown> };
}

const TRACEFS_CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];


/** Mount points of tracefs listed in <procRoot>/mounts (readable without privileges). */
async function tracefsMounts(procRoot: string): Promise<string[]> {
  try {
    const text = await readFile(path.join(procRoot, 'mounts'), 'utf8');
    return text
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[2] === 'tracefs' && f[1] !== undefined)
      .map((f) => (f[1] ?? '').replace(/\\040/g, ' '));
  } catch {
    return [];
  }
}

type TracefsResult = Capabilities['tracefs'];

function notRootHint(uid: number): string {
  return uid === 0
    ? 'running as root but the write was refused: the container lacks CAP_SYS_ADMIN, or an LSM (SELinux/AppArmor) denies it'
    : `not root (euid ${uid}): run the agent as root, or in a privileged container with the host /sys/kernel/tracing mounted read-write`;
}

async function probeTracefs(opts: ProbeOptions, procRoot: string, pid: number, uid: number): Promise<TracefsResult> {
  const mounts = await tracefsMounts(procRoot);
  const candidates = opts.tracefsRoot !== undefined ? [opts.tracefsRoot] : TRACEFS_CANDIDATES;
  let root: string | undefined;
  let denied: string | undefined;
  for (const c of candidates) {
    try {
      await access(path.join(c, 'events'));
      root = c;
      break;
    } catch (err) {
      // A mounted tracefs we may not enter (mode 0700 for non-root) is still "available".
      if (codeOf(err) === 'EACCES' && (mounts.includes(c) || mounts.length === 0)) {
        denied ??= c;
      }
    }
  }
  if (root === undefined && denied !== undefined) {
    return { available: true, writable: false, path: denied, detail: `${denied} is not accessible: ${notRootHint(uid)}` };
  }
  if (root === undefined) {
    return {
      available: false,
      writable: false,
      detail: `tracefs is not mounted at ${candidates.join(' or ')}: mount it with \`mount -t tracefs nodev /sys/kernel/tracing\` (in a container, mount the host's /sys/kernel/tracing)`,
    };
  }
  const probeDir = path.join(root, 'instances', `dropwatch-probe-${pid}`);
  const ops = opts.dirOps ?? { mkdir: (p: string) => mkdir(p), rmdir: (p: string) => rmdir(p) };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await ops.mkdir(probeDir);
    } catch (err) {
      const code = codeOf(err);
      if (code === 'EEXIST' && attempt === 0) {
        // Left over by an earlier probe with the same pid (a previous boot or container).
        await ops.rmdir(probeDir).catch(() => undefined);
        continue;
      }
      const why =
        code === 'EACCES' || code === 'EPERM'
          ? notRootHint(uid)
          : code === 'EROFS'
            ? `${root} is mounted read-only: mount it read-write (hostPath without readOnly)`
            : code === 'ENOENT'
              ? `${root} has no instances directory (kernel too old for tracefs instances)`
              : `mkdir ${probeDir} failed: ${code}`;
      return { available: true, writable: false, path: root, detail: why };
    }
    try {
      await ops.rmdir(probeDir);
    } catch (err) {
      return { available: true, writable: true, path: root, detail: `probe instance ${probeDir} could not be removed: ${codeOf(err)}` };
    }
    return { available: true, writable: true, path: root };
  }
  return { available: true, writable: false, path: root, detail: `${probeDir} exists and cannot be replaced` };
}

async function probeKfreeSkb(root: string | undefined, uid: number): Promise<Capabilities['kfreeSkb']> {
  if (root === undefined) return { available: false, reasonField: false, detail: 'tracefs is not available' };
  const file = path.join(root, 'events/skb/kfree_skb/format');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = codeOf(err);
    if (code === 'EACCES' || code === 'EPERM') return { available: false, reasonField: false, detail: `${file} is not readable: ${notRootHint(uid)}` };
    return { available: false, reasonField: false, detail: `${file} not found (${code}): the kernel lacks the skb:kfree_skb tracepoint (CONFIG_TRACEPOINTS)` };
  }
  try {
    const format = parseEventFormat(text);
    if (findField(format, 'location') === undefined) {
      return { available: false, reasonField: false, detail: `${file} has no location field` };
    }
    const reasonField = findField(format, 'reason') !== undefined;
    return reasonField
      ? { available: true, reasonField }
      : { available: true, reasonField, detail: 'kfree_skb has no reason field (kernel before 5.17 without a backport)' };
  } catch (err) {
    return { available: false, reasonField: false, detail: `${file} could not be parsed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * drop_monitor (NET_DM) is usable when the module is loaded (/sys/module/drop_monitor, or a line
 * in /proc/modules) or built in (listed in /lib/modules/<release>/modules.builtin). A module that
 * is only installed counts as absent: the agent never loads kernel modules. (Asking genetlink for
 * the NET_DM family would be exact, but needs a netlink socket Node does not offer.)
 */
async function probeDropMonitor(procRoot: string, sysRoot: string, modulesRoot: string, release: string): Promise<boolean> {
  if (await exists(path.join(sysRoot, 'module/drop_monitor'))) return true;
  try {
    const modules = await readFile(path.join(procRoot, 'modules'), 'utf8');
    if (modules.split('\n').some((l) => l.startsWith('drop_monitor '))) return true;
  } catch {
    // no loadable-module support, or hidden
  }
  try {
    const builtin = await readFile(path.join(modulesRoot, release, 'modules.builtin'), 'utf8');
    if (builtin.split('\n').some((l) => l.endsWith('/drop_monitor.ko'))) return true;
  } catch {
    // /lib/modules is often not mounted into containers
  }
  return false;
}

/**
 * Probes the node. Never throws; every "no" carries a detail saying why and what to do.
 * Creates and removes a tracefs instance `dropwatch-probe-<pid>` to test writability.
 */
export async function probeCapabilities(opts: ProbeOptions = {}): Promise<Capabilities> {
  const procRoot = opts.procRoot ?? '/proc';
  const sysRoot = opts.sysRoot ?? '/sys';
  const pid = opts.pid ?? process.pid;
  const uid = opts.uid ?? process.geteuid?.() ?? -1;
  const tracefs = await probeTracefs(opts, procRoot, pid, uid);
  const readable = tracefs.path !== undefined && (await exists(path.join(tracefs.path, 'events')));
  const root = readable ? tracefs.path : undefined;
  const [kfreeSkb, histTriggers, dropMonitor, ethtool] = await Promise.all([
    root === undefined && tracefs.available
      ? Promise.resolve<Capabilities['kfreeSkb']>({ available: false, reasonField: false, detail: tracefs.detail ?? 'tracefs is not accessible' })
      : probeKfreeSkb(root, uid),
    root === undefined ? Promise.resolve(false) : exists(path.join(root, 'events/skb/kfree_skb/hist')),
    probeDropMonitor(procRoot, sysRoot, opts.modulesRoot ?? '/lib/modules', opts.release ?? os.release()),
    findEthtool(opts.ethtoolDirs ?? ETHTOOL_DIRS).then((p) => p !== undefined),
  ]);
  const kallsyms = kallsymsVisibility(procRoot);
  return { tracefs, kfreeSkb, kallsyms, histTriggers, dropMonitor, ethtool };
}
