// Ties the generated API types (from crds/) to the domain's own lists, so the CRD enums and the
// code that fills them cannot drift apart. The CRD-to-types drift itself is checked by
// scripts/check-generated.sh.
import { describe, expect, it } from 'vitest';
import { DROP_LAYER_VALUES, DropWatchNodeReportResource, DropWatchPolicyResource } from '../../src/api/generated/types.js';
import { LAYERS } from '../../src/domain/types.js';

describe('generated API types', () => {
  it('list the same drop layers, in the same order, as the domain', () => {
    expect([...DROP_LAYER_VALUES]).toEqual([...LAYERS]);
  });

  it('name both kinds in one group and version', () => {
    expect(DropWatchPolicyResource.apiVersion).toBe('dropwatch.dev/v1alpha1');
    expect(DropWatchNodeReportResource.apiVersion).toBe(DropWatchPolicyResource.apiVersion);
    expect(DropWatchPolicyResource.scope).toBe('Cluster');
    expect(DropWatchNodeReportResource.scope).toBe('Cluster');
  });
});
