import { describe, expect, it } from 'vitest';
import { compileThresholds, type Transition } from '../domain/evaluate.js';
import { seedStates, transitionEvent } from './outputs.js';

const thresholds = compileThresholds({
  thresholds: [
    { name: 'kernel-drops', metric: 'dropsPerSecond', warning: 100, critical: 1000, clear: 50, for: '0s' },
    { name: 'loss', metric: 'lossPercent', warning: 0.1, for: '1m', match: { interfaces: ['ens1f0'] } },
  ],
  interfaces: ['ens1f0'],
});
const site = { symbol: '__udp4_lib_rcv', offset: 0x4bc, reason: 'NO_SOCKET', layer: 'transport' as const, rate: 5000, hint: 'add NO_SOCKET to spec.ignoreReasons' };
const tr = (x: Partial<Transition>): Transition => ({ node: 'n1', threshold: 'kernel-drops', kind: 'EnteredCritical', from: 'OK', to: 'Critical', atMs: 0, ...x });

describe('transitionEvent', () => {
  it('a breach is a Warning DropThresholdExceeded naming value, level, site and hint', () => {
    const e = transitionEvent('p', tr({ value: 5000, level: 1000 }), thresholds[0], site);
    expect(e.type).toBe('Warning');
    expect(e.reason).toBe('DropThresholdExceeded');
    expect(e.note).toBe(
      'critical: node n1, policy p, threshold kernel-drops: dropsPerSecond 5000/s (above critical level 1000/s); top drop site __udp4_lib_rcv+0x4bc (NO_SOCKET): add NO_SOCKET to spec.ignoreReasons',
    );
  });
  it('a recovery is a Normal DropThresholdRecovered with the clear level', () => {
    const e = transitionEvent('p', tr({ kind: 'Recovered', from: 'Critical', to: 'OK', value: 10, level: 50 }), thresholds[0], site);
    expect(e).toEqual({ type: 'Normal', reason: 'DropThresholdRecovered', note: 'recovered from critical: node n1, policy p, threshold kernel-drops: dropsPerSecond 10/s (at or below clear level 50/s)' });
  });
  it('percent thresholds print %, and stale reports are Warnings', () => {
    expect(transitionEvent('p', tr({ threshold: 'loss', kind: 'EnteredWarning', value: 0.5, level: 0.1, detail: 'ens1f0' }), thresholds[1], undefined).note).toBe(
      'warning: node n1, policy p, threshold loss: lossPercent 0.5% on ens1f0 (above warning level 0.1%)',
    );
    const stale = transitionEvent('p', tr({ kind: 'BecameUnknown', to: 'Unknown', cause: 'Stale' }), thresholds[0], undefined);
    expect(stale.type).toBe('Warning');
    expect(stale.reason).toBe('DropReportStale');
    expect(transitionEvent('p', tr({ kind: 'LeftUnknown', from: 'Unknown', to: 'OK', value: 1 }), thresholds[0], undefined).reason).toBe('DropReportResumed');
  });
});

describe('seedStates', () => {
  const cond = { type: 'PacketLoss', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z', message: 'critical: threshold kernel-drops of policy p: dropsPerSecond 5000/s' };
  const t0 = Date.parse('2026-01-01T00:00:00Z');

  it('seeds nothing unless the Node condition is True', () => {
    expect(seedStates('p', 'n1', thresholds, undefined, undefined, 0)).toBeUndefined();
    expect(seedStates('p', 'n1', thresholds, { ...cond, status: 'False' }, undefined, 0)).toBeUndefined();
  });
  it('takes state and threshold from status.worstNodes', () => {
    const status = { worstNodes: [{ node: 'n1', state: 'Warning' as const, threshold: 'loss' }] };
    expect(seedStates('p', 'n1', thresholds, cond, status, 5)).toEqual({ loss: { phase: 'Warning', sinceMs: t0 } });
  });
  it('falls back to the condition message when it names this policy', () => {
    expect(seedStates('p', 'n1', thresholds, cond, undefined, 5)).toEqual({ 'kernel-drops': { phase: 'Critical', sinceMs: t0 } });
    expect(seedStates('other', 'n1', thresholds, cond, undefined, 5)).toBeUndefined();
  });
  it('ignores thresholds the policy no longer has', () => {
    const status = { worstNodes: [{ node: 'n1', state: 'Critical' as const, threshold: 'gone' }] };
    expect(seedStates('p', 'n1', thresholds, { ...cond, message: 'critical: threshold gone of policy p:' }, status, 5)).toBeUndefined();
  });
});
