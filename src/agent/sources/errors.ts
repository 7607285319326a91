// Errors raised by the kernel sources (tracefs ring, counters, probe). Thrown by the adapters in
// src/agent/sources; callers print `code`, `message` and `fix` (runtime/errors.ts catalogue).
import { DwoError } from '../../runtime/errors.js';
import type { ErrorCode } from '../../runtime/errors.js';

/** Codes the sources use; each is in the runtime catalogue (docs/errors.md). */
export type SourceErrorCode = Extract<
  ErrorCode,
  'DWO_E_TRACEFS_NOT_MOUNTED' | 'DWO_E_TRACEFS_PERMISSION' | 'DWO_E_NOT_ROOT' | 'DWO_E_NO_KFREE_SKB' | 'DWO_E_UNKNOWN_REASON' | 'DWO_E_CONFIG' | 'DWO_E_INTERNAL'
>;

/**
 * A kernel-source failure with a stable code: `message` says what was wrong (with the path or
 * value involved), `fix` says what to do. A DwoError, so the CLI and logs handle it uniformly.
 */
export class SourceError extends DwoError {
  declare readonly code: SourceErrorCode;

  constructor(code: SourceErrorCode, message: string, options?: { fix?: string; cause?: unknown }) {
    super(code, message, options);
    this.name = 'SourceError';
  }
}
