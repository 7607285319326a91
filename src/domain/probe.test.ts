// Unit tests for choosing the drop source from probe results, and the sentences it gives.
import { describe, expect, it } from 'vitest';
import { chooseDropSource } from './probe.js';
import type { Capabilities } from './types.js';

const full: Capabilities = {
  tracefs: { available: true, writable: true, path: '/sys/kernel/tracing' },
  kfreeSkb: { available: true, reasonField: true },
  kallsyms: { visible: true },
  histTriggers: true,
  dropMonitor: false,
  ethtool: true,
};

const with_ = (over: Partial<Capabilities>): Capabilities => ({ ...full, ...over });

describe('chooseDropSource', () => {
  it('prefers hist triggers', () => {
    const c = chooseDropSource(full);
    expect(c.kind).toBe('hist-trigger');
    expect(c.reason).toMatch(/inside the kernel/);
  });

  it('falls back to the tracefs ring without hist triggers', () => {
    const c = chooseDropSource(with_({ histTriggers: false }));
    expect(c.kind).toBe('tracefs-ring');
    expect(c.reason).toMatch(/no hist triggers/);
  });

  it('says so when tracefs is not writable (not root)', () => {
    const c = chooseDropSource(with_({ tracefs: { available: true, writable: false, detail: 'not root (euid 1000): run the agent as root' } }));
    expect(c.kind).toBe('counters-only');
    expect(c.reason).toMatch(/^tracefs is not writable: not root \(euid 1000\)/);
    expect(c.reason).toMatch(/counters are read/);
  });

  it('says so when tracefs is not mounted', () => {
    const c = chooseDropSource(with_({ tracefs: { available: false, writable: false, detail: 'tracefs is not mounted at /sys/kernel/tracing' } }));
    expect(c).toEqual({ kind: 'counters-only', reason: expect.stringMatching(/^tracefs is not available: tracefs is not mounted/) as unknown });
  });

  it('needs the kfree_skb tracepoint', () => {
    const c = chooseDropSource(with_({ kfreeSkb: { available: false, reasonField: false, detail: 'no such event' } }));
    expect(c.kind).toBe('counters-only');
    expect(c.reason).toMatch(/skb:kfree_skb tracepoint is missing: no such event/);
  });

  it('notes missing reasons and hidden symbols without changing the choice', () => {
    const c = chooseDropSource(
      with_({ histTriggers: false, kfreeSkb: { available: true, reasonField: false }, kallsyms: { visible: false, detail: 'kptr_restrict=2' } }),
    );
    expect(c.kind).toBe('tracefs-ring');
    expect(c.reason).toMatch(/no drop reasons/);
    expect(c.reason).toMatch(/hex addresses: kptr_restrict=2/);
  });
});
