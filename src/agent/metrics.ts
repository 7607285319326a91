// Prometheus metrics of the agent (prom-client), fed one DropSnapshot per window. Cardinality is
// bounded: at most `maxSites` drop sites get their own labels (first come, first kept), every
// later site is summed into symbol="other". Called by the agent's publish loop; served by http.ts.
import { Counter, Gauge, Registry } from 'prom-client';
import type { DropSnapshot } from '../domain/snapshot.js';

export interface AgentMetricsOptions {
  /** Distinct (symbol, reason) label sets kept before the rest go to "other". */
  readonly maxSites?: number;
  /** Distinct interfaces kept before the rest go to "other". */
  readonly maxInterfaces?: number;
}

/** The agent's metric families and how a snapshot updates them. */
export class AgentMetrics {
  readonly registry = new Registry();
  private readonly sites = new Set<string>();
  private readonly interfaces = new Set<string>();
  private readonly maxSites: number;
  private readonly maxInterfaces: number;

  private readonly layerDrops: Counter<'layer'>;
  private readonly siteDrops: Counter<'symbol' | 'reason' | 'layer'>;
  private readonly ifPackets: Counter<'interface'>;
  private readonly ifDrops: Counter<'interface'>;
  private readonly ifLoss: Gauge<'interface'>;
  private readonly softnetDropped: Counter;
  private readonly softnetSqueeze: Counter;
  private readonly monitorEvents: Counter;
  private readonly monitorLost: Counter;
  private readonly monitorParseErrors: Counter;
  private readonly dropRate: Gauge;
  private readonly source: Gauge<'source'>;
  readonly reportWrites: Counter<'result'>;
  readonly lastReportWrite: Gauge;

  constructor(opts: AgentMetricsOptions = {}) {
    this.maxSites = opts.maxSites ?? 20;
    this.maxInterfaces = opts.maxInterfaces ?? 32;
    const registers = [this.registry];
    this.layerDrops = new Counter({ name: 'dropwatch_layer_drops_total', help: 'Packets dropped, by receive-path layer (the larger of the tracepoint and counter views).', labelNames: ['layer'], registers });
    this.siteDrops = new Counter({ name: 'dropwatch_site_drops_total', help: 'kfree_skb drops by freeing function and reason; sites beyond the cardinality limit are summed as symbol="other".', labelNames: ['symbol', 'reason', 'layer'], registers });
    this.ifPackets = new Counter({ name: 'dropwatch_interface_receive_packets_total', help: 'Packets received by the interface (rx_packets).', labelNames: ['interface'], registers });
    this.ifDrops = new Counter({ name: 'dropwatch_interface_drops_total', help: 'Packets the interface or its driver dropped (rx_dropped + rx_missed_errors).', labelNames: ['interface'], registers });
    this.ifLoss = new Gauge({ name: 'dropwatch_interface_loss_ratio', help: 'Share of packets lost on the interface in the last window (0..1).', labelNames: ['interface'], registers });
    this.softnetDropped = new Counter({ name: 'dropwatch_softnet_dropped_total', help: 'Packets dropped because a per-CPU backlog was full (softnet_stat column 2).', registers });
    this.softnetSqueeze = new Counter({ name: 'dropwatch_softnet_time_squeeze_total', help: 'NAPI polls that ran out of budget with work left (softnet_stat column 3): an early warning.', registers });
    this.monitorEvents = new Counter({ name: 'dropwatch_monitor_events_total', help: 'kfree_skb events the monitor read.', registers });
    this.monitorLost = new Counter({ name: 'dropwatch_monitor_lost_events_total', help: 'kfree_skb events the kernel could not hand to the monitor (its ring was full).', registers });
    this.monitorParseErrors = new Counter({ name: 'dropwatch_monitor_parse_errors_total', help: 'Ring-buffer pages or records the monitor could not decode.', registers });
    this.dropRate = new Gauge({ name: 'dropwatch_drop_rate_per_second', help: 'Drops per second over the last window, all layers.', registers });
    this.source = new Gauge({ name: 'dropwatch_source_info', help: 'The kernel drop source in use (value 1).', labelNames: ['source'], registers });
    this.reportWrites = new Counter({ name: 'dropwatch_report_writes_total', help: 'Node report writes to the API server, by result.', labelNames: ['result'], registers });
    this.lastReportWrite = new Gauge({ name: 'dropwatch_report_last_success_timestamp_seconds', help: 'Unix time of the last successful node report write.', registers });
  }

  /** Adds one window's figures. */
  observe(s: DropSnapshot): void {
    for (const l of s.ladder) if (l.drops > 0) this.layerDrops.inc({ layer: l.layer }, l.drops);
    for (const d of s.drops) {
      const key = `${d.symbol}\u0000${d.reason}`;
      if (!this.sites.has(key) && this.sites.size < this.maxSites) this.sites.add(key);
      const labels = this.sites.has(key) ? { symbol: d.symbol, reason: d.reason, layer: d.layer } : { symbol: 'other', reason: 'other', layer: 'other' };
      this.siteDrops.inc(labels, d.count);
    }
    for (const i of s.interfaces) {
      if (!this.interfaces.has(i.name) && this.interfaces.size < this.maxInterfaces) this.interfaces.add(i.name);
      const name = this.interfaces.has(i.name) ? i.name : 'other';
      this.ifPackets.inc({ interface: name }, i.rxPackets);
      this.ifDrops.inc({ interface: name }, i.drops);
      if (name !== 'other') this.ifLoss.set({ interface: name }, i.lossPercent / 100);
    }
    this.softnetDropped.inc(s.softnet.dropped);
    this.softnetSqueeze.inc(s.softnet.timeSqueeze);
    this.monitorEvents.inc(s.monitor.events);
    this.monitorLost.inc(s.monitor.lostEvents);
    this.monitorParseErrors.inc(s.monitor.parseErrors);
    this.dropRate.set(s.totals.dropsPerSecond);
    this.source.reset();
    this.source.set({ source: s.sources.drops }, 1);
  }

  /** The exposition text for /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
