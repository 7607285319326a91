// A pure Kubernetes LabelSelector matcher (matchLabels AND matchExpressions, metav1 semantics).
// The operator's policy controller uses it to find the Nodes a DropWatchPolicy's nodeSelector
// selects, the same set the DaemonSet's required node affinity schedules on.
import type { NodeSelector } from '../api/generated/types.js';

/**
 * True when `labels` satisfy `selector`, as metav1.LabelSelectorAsSelector decides:
 * every matchLabels pair must be present with that value, and every requirement must hold:
 * - In: the key is present and its value is one of `values`;
 * - NotIn: the key is absent, or its value is not one of `values`;
 * - Exists / DoesNotExist: the key is present / absent (values ignored).
 * An empty selector (no labels, no expressions) matches everything. An In requirement with no
 * values matches nothing (the API server rejects it; we stay on the safe side).
 */
export function matchesSelector(selector: NodeSelector | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) {
    if (!Object.hasOwn(l, k) || l[k] !== v) return false;
  }
  for (const e of selector?.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(l[e.key] ?? '')) return false;
        break;
      case 'NotIn':
        if (has && values.includes(l[e.key] ?? '')) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        // An operator this code does not know: match nothing rather than everything.
        return false;
    }
  }
  return true;
}
