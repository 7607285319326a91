// Operator configuration, validated once at the boundary with zod (STYLE.md 12) and passed down.
// Called by the `operator` CLI command; nothing below it reads flags or the environment.
import { z } from 'zod';
import { DwoError } from '../runtime/errors.js';

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a namespace is a DNS label (lowercase letters, digits, "-")');
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'an address is host:port, e.g. 127.0.0.1:8080 or :8080');

export const OperatorConfigSchema = z.object({
  /** Kubeconfig file; absent: the pod's service account. */
  kubeconfig: z.string().min(1).optional(),
  /** The operator's namespace: agent DaemonSets, the leader Lease. */
  namespace: dnsLabel,
  /** Agent image for policies that do not set spec.agent.image. */
  agentImage: z.string().min(1),
  /** ServiceAccount the agent pods run as. */
  agentServiceAccount: z.string().min(1).default('dropwatch-agent'),
  /** This process's identity in the leader election; default hostname plus a random suffix. */
  identity: z.string().min(1).max(128).optional(),
  /** Serve /metrics, /healthz and /readyz here; absent: no HTTP server. */
  metricsBindAddress: hostPort.optional(),
  /** Full resync of every policy, in ms. */
  resyncMs: z.number().int().min(1000).default(5 * 60_000),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
});
export type OperatorConfig = z.infer<typeof OperatorConfigSchema>;

/** Validates raw options; throws DWO_E_CONFIG naming the field and what is accepted. */
export function parseOperatorConfig(raw: unknown): OperatorConfig {
  const r = OperatorConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.join('.') || 'config';
  throw new DwoError('DWO_E_CONFIG', `${where}: ${issue?.message ?? 'invalid value'}`);
}
