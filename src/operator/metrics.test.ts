import { describe, expect, it } from 'vitest';
import type { TransitionKind } from '../domain/evaluate.js';
import { OperatorMetrics, TRANSITION_SERIES } from './metrics.js';
import { transitionEvent } from './outputs.js';

describe('operator metrics', () => {
  it('every Event the controller can emit has its transition series, present at 0 from the start', async () => {
    const kinds: TransitionKind[] = ['EnteredWarning', 'EnteredCritical', 'Recovered', 'BecameUnknown', 'LeftUnknown'];
    const emitted = new Set(
      kinds.map((kind) => {
        const e = transitionEvent('p', { node: 'n', threshold: 't', kind, from: 'Warning', to: 'OK', atMs: 0 }, undefined, undefined);
        return `${e.reason}/${e.type}`;
      }),
    );
    expect(new Set(TRANSITION_SERIES.map(([r, t]) => `${r}/${t}`))).toEqual(emitted);

    const text = await new OperatorMetrics().registry.metrics();
    for (const [reason, type] of TRANSITION_SERIES) {
      expect(text).toContain(`dropwatch_operator_transitions_total{reason="${reason}",type="${type}"} 0`);
    }
  });
});
