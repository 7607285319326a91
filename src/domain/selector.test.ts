import { describe, expect, it } from 'vitest';
import type { NodeSelector } from '../api/generated/types.js';
import { matchesSelector } from './selector.js';

const node = { 'dropwatch.dev/sensor': 'span', zone: 'a', gpu: '' };

describe('matchesSelector', () => {
  const cases: [string, NodeSelector | undefined, Record<string, string> | undefined, boolean][] = [
    ['undefined selector matches all', undefined, node, true],
    ['empty selector matches all', {}, node, true],
    ['empty selector matches a node without labels', {}, undefined, true],
    ['matchLabels equal', { matchLabels: { zone: 'a' } }, node, true],
    ['matchLabels different value', { matchLabels: { zone: 'b' } }, node, false],
    ['matchLabels missing key', { matchLabels: { rack: '1' } }, node, false],
    ['matchLabels empty value present', { matchLabels: { gpu: '' } }, node, true],
    ['matchLabels empty value absent', { matchLabels: { other: '' } }, node, false],
    ['In hit', { matchExpressions: [{ key: 'dropwatch.dev/sensor', operator: 'In', values: ['span', 'tap'] }] }, node, true],
    ['In miss', { matchExpressions: [{ key: 'dropwatch.dev/sensor', operator: 'In', values: ['tap'] }] }, node, false],
    ['In absent key', { matchExpressions: [{ key: 'rack', operator: 'In', values: ['1'] }] }, node, false],
    ['In without values', { matchExpressions: [{ key: 'zone', operator: 'In', values: [] }] }, node, false],
    ['NotIn hit', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, node, false],
    ['NotIn other value', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['b'] }] }, node, true],
    ['NotIn absent key', { matchExpressions: [{ key: 'rack', operator: 'NotIn', values: ['1'] }] }, node, true],
    ['Exists', { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, node, true],
    ['Exists absent', { matchExpressions: [{ key: 'rack', operator: 'Exists' }] }, node, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'rack', operator: 'DoesNotExist' }] }, node, true],
    ['DoesNotExist present', { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, node, false],
    [
      'labels AND expressions, all hold',
      { matchLabels: { zone: 'a' }, matchExpressions: [{ key: 'dropwatch.dev/sensor', operator: 'Exists' }, { key: 'rack', operator: 'DoesNotExist' }] },
      node,
      true,
    ],
    [
      'labels AND expressions, one fails',
      { matchLabels: { zone: 'a' }, matchExpressions: [{ key: 'dropwatch.dev/sensor', operator: 'In', values: ['tap'] }] },
      node,
      false,
    ],
    ['unknown operator matches nothing', { matchExpressions: [{ key: 'zone', operator: 'Gt' as 'In', values: ['1'] }] }, node, false],
    ['does not match inherited properties', { matchLabels: { constructor: 'x' } }, {}, false],
  ];
  it.each(cases)('%s', (_name, selector, labels, want) => {
    expect(matchesSelector(selector, labels)).toBe(want);
  });
});
