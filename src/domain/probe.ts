// Picks the live kernel-drop source from what the capability probe found, with a sentence for
// the report saying why. Pure: agent/sources/probe.ts gathers the facts, the monitor decides here.
import type { Capabilities, DropSourceKind } from './types.js';

/** The chosen source and a human explanation for the node report. */
export interface DropSourceChoice {
  readonly kind: DropSourceKind;
  readonly reason: string;
}

const COUNTERS_ONLY = 'Only NIC, softnet and snmp counters are read: drop totals per layer, but no drop locations or reasons.';

/**
 * Best source first: hist triggers (the kernel aggregates skb:kfree_skb by location and reason),
 * then the raw tracefs ring (every event copied to us and aggregated here), then counters only.
 * Missing drop reasons or hidden symbols do not change the choice; they are added to the reason.
 */
export function chooseDropSource(caps: Capabilities): DropSourceChoice {
  const tf = caps.tracefs;
  if (!tf.available) {
    return { kind: 'counters-only', reason: `tracefs is not available: ${tf.detail ?? 'not mounted'}. ${COUNTERS_ONLY}` };
  }
  if (!tf.writable) {
    return { kind: 'counters-only', reason: `tracefs is not writable: ${tf.detail ?? 'not root?'}. ${COUNTERS_ONLY}` };
  }
  if (!caps.kfreeSkb.available) {
    return { kind: 'counters-only', reason: `the skb:kfree_skb tracepoint is missing: ${caps.kfreeSkb.detail ?? 'kernel without it'}. ${COUNTERS_ONLY}` };
  }
  const notes: string[] = [];
  if (!caps.kfreeSkb.reasonField) {
    notes.push('This kernel records no drop reasons (added in 5.17): drops are classified by their location only.');
  }
  if (!caps.kallsyms.visible) {
    notes.push(`Drop locations stay hex addresses: ${caps.kallsyms.detail ?? 'kernel symbols are hidden'}.`);
  }
  const tail = notes.length > 0 ? ` ${notes.join(' ')}` : '';
  if (caps.histTriggers) {
    return { kind: 'hist-trigger', reason: `hist triggers count skb:kfree_skb by location and reason inside the kernel; no event is copied to user space.${tail}` };
  }
  return {
    kind: 'tracefs-ring',
    reason: `skb:kfree_skb events are read from the raw per-CPU ring of a dedicated tracefs instance (this kernel has no hist triggers).${tail}`,
  };
}
