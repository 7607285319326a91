// Merges consecutive DropSnapshot windows into one covering both, summing every count and
// recomputing rates over the combined time. The agent uses it so windows it could not (or did not
// need to) publish are carried into the next report: no count is ever dropped. Pure.
import type { DropSnapshot, DropSiteOut, InterfaceOut, LadderStep } from './snapshot.js';

const round = (x: number): number => Math.round(x * 1000) / 1000;
const per = (n: number, s: number): number => (s > 0 ? round(n / s) : 0);

function sumRecords(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * One snapshot spanning `a` then `b` (b is the later window; its kernel, sources and
 * capabilities win). Sites are matched by address and reason, interfaces by name.
 * @param maxSites keep at most this many sites (largest counts) in the result
 */
export function mergeSnapshots(a: DropSnapshot, b: DropSnapshot, maxSites = 50): DropSnapshot {
  const seconds = round(a.window.seconds + b.window.seconds);

  const sites = new Map<string, DropSiteOut>();
  for (const d of [...a.drops, ...b.drops]) {
    const key = `${d.address}|${d.reason}`;
    const prev = sites.get(key);
    sites.set(key, prev ? { ...prev, count: prev.count + d.count } : d);
  }
  const drops = [...sites.values()]
    .map((d) => ({ ...d, rate: per(d.count, seconds) }))
    .sort((x, y) => y.count - x.count || x.location.localeCompare(y.location))
    .slice(0, maxSites);

  const ladder = b.ladder.map((step): LadderStep => {
    const old = a.ladder.find((l) => l.layer === step.layer);
    const n = step.drops + (old?.drops ?? 0);
    const from = step.from !== 'none' ? step.from : (old?.from ?? 'none');
    return { layer: step.layer, drops: n, rate: per(n, seconds), from };
  });

  const ifs = new Map<string, InterfaceOut>();
  for (const i of [...a.interfaces, ...b.interfaces]) {
    const prev = ifs.get(i.name);
    if (!prev) {
      ifs.set(i.name, i);
      continue;
    }
    const rxPackets = prev.rxPackets + i.rxPackets;
    const dropsN = prev.drops + i.drops;
    ifs.set(i.name, { ...i, rxPackets, drops: dropsN, counters: sumRecords(prev.counters, i.counters), counterReset: prev.counterReset || i.counterReset });
  }
  const interfaces = [...ifs.values()].map((i) => ({
    ...i,
    rxPacketsPerSecond: per(i.rxPackets, seconds),
    dropsPerSecond: per(i.drops, seconds),
    lossPercent: i.rxPackets + i.drops > 0 ? round((i.drops / (i.rxPackets + i.drops)) * 100) : 0,
  }));

  const total = ladder.reduce((s, l) => s + l.drops, 0);
  const kernelEvents = a.totals.kernelEvents + b.totals.kernelEvents;
  const actionable = a.totals.actionableDropsPerSecond * a.window.seconds + b.totals.actionableDropsPerSecond * b.window.seconds;
  const problems = [...a.problems, ...b.problems].filter((p, i, all) => all.findIndex((q) => q.code === p.code && q.message === p.message) === i).slice(0, 20);

  return {
    kernel: b.kernel,
    sources: b.sources,
    window: { start: a.window.start, end: b.window.end, seconds },
    totals: { drops: total, dropsPerSecond: per(total, seconds), kernelEvents, actionableDropsPerSecond: per(actionable, seconds) },
    ladder,
    drops,
    interfaces,
    softnet: {
      dropped: a.softnet.dropped + b.softnet.dropped,
      timeSqueeze: a.softnet.timeSqueeze + b.softnet.timeSqueeze,
      flowLimit: a.softnet.flowLimit + b.softnet.flowLimit,
      cpus: b.softnet.cpus,
    },
    snmp: sumRecords(a.snmp, b.snmp),
    monitor: {
      lostEvents: a.monitor.lostEvents + b.monitor.lostEvents,
      parseErrors: a.monitor.parseErrors + b.monitor.parseErrors,
      events: a.monitor.events + b.monitor.events,
      cpuSeconds: round(a.monitor.cpuSeconds + b.monitor.cpuSeconds),
      rssBytes: b.monitor.rssBytes,
    },
    problems,
  };
}
