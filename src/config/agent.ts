// Agent and CLI configuration, validated once at the boundary with zod (STYLE.md 12) and passed
// down. Called by the CLI entrypoint; nothing below it reads flags or the environment.
import { z } from 'zod';
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
