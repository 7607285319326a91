// Agent and CLI configuration, validated once at the boundary with zod (STYLE.md 12) and passed
// down. Called by the CLI entrypoint; nothing below it reads flags or the environment.
import { z } from 'zod';
import { parseDuration } from '../domain/evaluate.js';
import { AGENT_METRICS_PORT } from '../domain/daemonset-plan.js';
import { DwoError } from '../runtime/errors.js';

const reasonName = z
  .string()
  .transform((s) => s.trim().toUpperCase().replace(/^SKB_DROP_REASON_/, ''))
  .pipe(z.string().regex(/^[A-Z0-9_]{1,64}$/, 'a reason is an UPPER_SNAKE name such as OTHERHOST'));

const ifName = z.string().regex(/^[^\s/:]{1,15}$/, 'an interface name is 1-15 characters without spaces, "/" or ":"');

export const MonitorConfigSchema = z.object({
  /** Which kernel drop source to use: auto picks the best the probe finds. */
  source: z.enum(['auto', 'hist', 'tracefs', 'counters']).default('auto'),
  /** How often the ring buffer is drained, in milliseconds. */
  pollIntervalMs: z.number().int().min(10).max(5000).default(25),
  /** Per-CPU ring size of our tracefs instance, in KiB. */
  bufferSizeKb: z.number().int().min(4).max(1_048_576).default(2048),
  /** Drop reasons filtered out in the kernel. */
  ignoreReasons: z.array(reasonName).max(64).default([]),
  /** When non-empty, only these drop reasons are recorded (filtered in the kernel). */
  onlyReasons: z.array(reasonName).max(64).default([]),
  /** Interfaces whose counters are read; empty = every interface. */
  interfaces: z.array(ifName).max(64).default([]),
  /** Keep at most this many drop sites per window. */
  maxSites: z.number().int().min(1).max(10_000).default(50),
  /** tracefs mount point; found automatically when absent. */
  tracefsRoot: z.string().optional(),
});
export type MonitorConfig = z.infer<typeof MonitorConfigSchema>;

/** Validates raw options; throws DWO_E_CONFIG naming the field and what is accepted. */
export function parseMonitorConfig(raw: unknown): MonitorConfig {
  const r = MonitorConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.join('.') || 'config';
  throw new DwoError('DWO_E_CONFIG', `${where}: ${issue?.message ?? 'invalid value'}`);
}

// ---------------------------------------------------------------------------------------------
// The agent's publish mode (`dropwatch-operator agent`): the flags the operator's DaemonSet passes
// (AGENT_FLAGS in src/domain/daemonset-plan.ts) plus --kubeconfig and --metrics-bind-address.

/** The policy's source names, as in spec.sources and the --sources flag. */
export const AGENT_SOURCES = ['tracepoint', 'histTriggers', 'counters'] as const;
export type AgentSource = (typeof AGENT_SOURCES)[number];

/**
 * Default metrics address. All interfaces: the agent runs with hostNetwork, so Prometheus scrapes
 * it at the node's address; loopback would make it unscrapable. 9847 is outside the ports the
 * kubelet, kube-proxy and node-exporter use (10250, 10249/10256, 9100).
 */
export const DEFAULT_METRICS_BIND_ADDRESS = `0.0.0.0:${AGENT_METRICS_PORT}`;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Go-style duration string checked against [minMs, maxMs], parsed to milliseconds. */
function durationMs(minMs: number, maxMs: number, defaultText: string) {
  return z
    .string()
    .default(defaultText)
    .transform((text, ctx) => {
      let ms: number;
      try {
        ms = parseDuration(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
      if (ms < minMs || ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is out of range: from ${formatMs(minMs)} to ${formatMs(maxMs)}` });
        return z.NEVER;
      }
      return ms;
    });
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** "host:port" or "[v6]:port"; an empty host means every interface. */
const bindAddress = z
  .string()
  .default(DEFAULT_METRICS_BIND_ADDRESS)
  .transform((text, ctx) => {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(text);
    const port = Number(m?.[3]);
    if (!m || !Number.isInteger(port) || port > 65_535) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not host:port (e.g. 0.0.0.0:9847, 127.0.0.1:0 or [::]:9847)` });
      return z.NEVER;
    }
    const host = m[1] ?? m[2] ?? '';
    return { host: host === '' ? '0.0.0.0' : host, port };
  });

/** A comma-separated list or an array of source names; at least one, no duplicates kept. */
const sourceList = z
  .union([z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x !== '')), z.array(z.string())])
  .default([...AGENT_SOURCES])
  .pipe(z.array(z.enum(AGENT_SOURCES)).min(1, 'enable at least one of tracepoint, histTriggers, counters'))
  .transform((list) => AGENT_SOURCES.filter((s) => list.includes(s)));

/** The agent's raw options (names as the CLI flags, camel-cased), validated and normalised. */
export const AgentConfigSchema = z
  .object({
    /**
     * Metrics only: no DropWatchPolicy, no node report, no API server; the agent serves /metrics
     * and /healthz (the daemonset/ kustomize base runs it this way, without the operator).
     */
    metricsOnly: z.boolean().default(false),
    /** The DropWatchPolicy this agent reports for (a DNS label of at most 40 characters); required unless metricsOnly. */
    policy: z.string().max(40).regex(DNS_LABEL, 'a policy name is a DNS label: lower-case letters, digits and "-"').optional(),
    /** This node's name (the DaemonSet passes spec.nodeName); required unless metricsOnly. */
    nodeName: z.string().max(253).regex(DNS_SUBDOMAIN, 'a node name is a DNS subdomain: lower-case letters, digits, "-" and "."').optional(),
    /** How often the ring is drained (spec.samplingInterval). */
    samplingInterval: durationMs(100, 60_000, '1s'),
    /** Window length and how often a write is considered (spec.reportInterval). */
    reportInterval: durationMs(1000, 600_000, '15s'),
    /**
     * Longest gap between two writes (spec.heartbeatInterval). The CRD asks for at least 10s; the
     * agent accepts 1s so tests and the CLI can run short heartbeats.
     */
    heartbeatInterval: durationMs(1000, 3_600_000, '60s'),
    /** Enabled sources (spec.sources), e.g. "tracepoint,histTriggers,counters". */
    sources: sourceList,
    /** Kubeconfig file; absent = the pod's service account (in-cluster). */
    kubeconfig: z.string().min(1).optional(),
    /** Where /metrics and /healthz are served. */
    metricsBindAddress: bindAddress,
    /** Drop sites that get their own metric labels; the rest are summed as symbol="other". */
    metricsTopSites: z.number().int().min(1).max(200).default(20),
    tracefsRoot: MonitorConfigSchema.shape.tracefsRoot,
    bufferSizeKb: MonitorConfigSchema.shape.bufferSizeKb,
    ignoreReasons: MonitorConfigSchema.shape.ignoreReasons,
    interfaces: MonitorConfigSchema.shape.interfaces,
    maxSites: MonitorConfigSchema.shape.maxSites,
  })
  .superRefine((v, ctx) => {
    if (v.reportInterval < v.samplingInterval) {
      ctx.addIssue({ code: 'custom', path: ['reportInterval'], message: 'must be at least samplingInterval' });
    }
    if (v.heartbeatInterval < v.reportInterval) {
      ctx.addIssue({ code: 'custom', path: ['heartbeatInterval'], message: 'must be at least reportInterval' });
    }
    if (v.metricsOnly) {
      if (v.policy !== undefined) ctx.addIssue({ code: 'custom', path: ['policy'], message: 'metrics-only mode writes no report, so it takes no policy; drop one of the two flags' });
      if (v.kubeconfig !== undefined) ctx.addIssue({ code: 'custom', path: ['kubeconfig'], message: 'metrics-only mode does not talk to the API server; drop one of the two flags' });
    } else {
      if (v.policy === undefined) ctx.addIssue({ code: 'custom', path: ['policy'], message: 'required: the DropWatchPolicy this agent reports for (or run with metrics only)' });
      if (v.nodeName === undefined) ctx.addIssue({ code: 'custom', path: ['nodeName'], message: 'required: the node this agent runs on' });
    }
    if (v.policy !== undefined && v.nodeName !== undefined && v.policy.length + 1 + v.nodeName.length > 253) {
      ctx.addIssue({ code: 'custom', path: ['nodeName'], message: 'too long: the report name <policy>.<node> must fit in 253 characters' });
    }
  })
  .transform((v) => {
    const monitor: MonitorConfig = {
      source: monitorSource(v.sources),
      // The monitor drains at most every 5 s (its ring would overflow beyond that on a busy node);
      // longer sampling intervals are clamped. It drains faster by itself under load.
      pollIntervalMs: Math.min(v.samplingInterval, 5000),
      bufferSizeKb: v.bufferSizeKb,
      ignoreReasons: v.ignoreReasons,
      onlyReasons: [],
      interfaces: v.interfaces,
      maxSites: v.maxSites,
      ...(v.tracefsRoot === undefined ? {} : { tracefsRoot: v.tracefsRoot }),
    };
    return {
      metricsOnly: v.metricsOnly,
      ...(v.policy === undefined ? {} : { policy: v.policy }),
      ...(v.nodeName === undefined ? {} : { nodeName: v.nodeName }),
      samplingIntervalMs: v.samplingInterval,
      reportIntervalMs: v.reportInterval,
      heartbeatIntervalMs: v.heartbeatInterval,
      sources: v.sources,
      ...(v.kubeconfig === undefined ? {} : { kubeconfig: v.kubeconfig }),
      metrics: v.metricsBindAddress,
      metricsTopSites: v.metricsTopSites,
      monitor,
    };
  });
export type AgentConfig = z.output<typeof AgentConfigSchema>;

/**
 * The monitor's source for the policy's enabled sources: hist triggers enabled -> auto (hist
 * triggers where the kernel has them, else the ring); only the tracepoint -> the ring; no kernel
 * source -> counters only. Counters are read in every mode (they are cheap and always present).
 */
export function monitorSource(sources: readonly AgentSource[]): MonitorConfig['source'] {
  if (sources.includes('histTriggers')) return 'auto';
  if (sources.includes('tracepoint')) return 'tracefs';
  return 'counters';
}

/** Validates the agent's options; throws DWO_E_CONFIG naming the flag and what is accepted. */
export function parseAgentConfig(raw: unknown): AgentConfig {
  const r = AgentConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.join('.') || 'config';
  throw new DwoError('DWO_E_CONFIG', `${where}: ${issue?.message ?? 'invalid value'}`);
}
