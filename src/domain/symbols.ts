// Printing symbolized kernel addresses the way the kernel's %pS does. Pure: used by the agent's
// kallsyms resolver, by reports and by the CLI when they show a drop site.
import type { Symbolized } from './types.js';

/** Formats a kernel address as the kernel's %pS would: `0xffffffff8204674c`. */
export function hexAddress(addr: bigint): string {
  return `0x${addr.toString(16)}`;
}

/**
 * Formats a symbolized address like the kernel's %pS: `__udp4_lib_rcv+0x4bc/0xd00`, with
 * ` [module]` appended for module code. An unresolved address prints as its bare symbol (the hex
 * address).
 */
export function formatSymbol(s: Symbolized): string {
  if (s.unresolvedReason !== undefined) return s.symbol;
  const base = `${s.symbol}+0x${s.offset.toString(16)}/0x${s.size.toString(16)}`;
  return s.module === undefined ? base : `${base} [${s.module}]`;
}
