// Accumulates kernel drop samples into drop sites (one per location and reason) over a window.
// Pure: the agent's read loop feeds it, the snapshot builder drains it.
import type { KernelDropSample } from './types.js';

/** Cumulative count for one (location, reason) pair within a window. */
export interface SiteCount {
  readonly location: bigint;
  readonly reasonCode: number;
  readonly reason: string;
  count: number;
}

/** Sums samples by (location, reasonCode). Sized by distinct sites, not by events. */
export class SiteAccumulator {
  private readonly sites = new Map<string, SiteCount>();
  private events = 0;

  /** Adds a batch of samples (from one poll of a kernel source). */
  add(samples: readonly KernelDropSample[]): void {
    for (const s of samples) {
      const key = `${s.location.toString(16)}:${s.reasonCode}`;
      const site = this.sites.get(key);
      if (site) site.count += s.count;
      else this.sites.set(key, { location: s.location, reasonCode: s.reasonCode, reason: s.reason, count: s.count });
      this.events += s.count;
    }
  }

  /** Total events added since the last drain. */
  get total(): number {
    return this.events;
  }

  /** Returns the sites and resets the accumulator for the next window. */
  drain(): SiteCount[] {
    const out = [...this.sites.values()];
    this.sites.clear();
    this.events = 0;
    return out;
  }
}
