// Server-side apply (STYLE.md 4, 10): every write of ours is an apply with a named field manager,
// so GitOps tools, kubelet/kwok and our two components each own their own fields. Used by the
// operator's outputs (DaemonSet, policy status, Events' objects) and the agent's publisher
// (report status, the Node's PacketLoss condition).
import {
  PatchStrategy,
  type KubernetesObject,
  type V1Node,
} from '@kubernetes/client-node';
import { callOptions, kubeCall, type KubeClients } from './client.js';

/** Our field managers: one per component, never shared with people or other tools. */
export const FIELD_MANAGER = {
  operator: 'dropwatch-operator',
  agent: 'dropwatch-agent',
} as const;

/** Options of every apply. */
export interface ApplyOptions {
  /** Who owns the applied fields; one of FIELD_MANAGER in production, anything in tests. */
  readonly fieldManager: string;
  /** Take over fields another manager owns instead of failing with DWO_E_API_FIELD_CONFLICT. */
  readonly force?: boolean;
  /** Validate and compute the result without persisting it. */
  readonly dryRun?: boolean;
  readonly timeoutMs?: number;
}

/** An object to apply: apiVersion, kind and metadata.name are required by the API server. */
export type ApplyObject = KubernetesObject & {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
};

/** Identifies a custom resource type (the generated *Resource constants fit this shape). */
export interface CustomResourceType {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

function describe(obj: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
}

/**
 * Applies any object (built-in or custom) with server-side apply. The applied fields become owned
 * by `fieldManager`; fields it owned before and omits now are removed, so always send the whole
 * intent of that manager for the object. (`timeoutMs` does not apply here: KubernetesObjectApi
 * takes no per-call options.)
 */
export async function applyObject<T extends KubernetesObject>(clients: KubeClients, obj: ApplyObject & T, opts: ApplyOptions): Promise<T> {
  return kubeCall(`apply ${describe(obj)} as ${opts.fieldManager}`, () =>
    clients.objects.patch<T>(
      obj,
      undefined,
      opts.dryRun ? 'All' : undefined,
      opts.fieldManager,
      opts.force ?? false,
      // KubernetesObjectApi sets the Content-Type from this argument itself.
      PatchStrategy.ServerSideApply,
    ),
  );
}

/**
 * Applies the status subresource of a custom resource (cluster-scoped when `namespace` is
 * undefined). Only `status` is sent; spec and metadata stay with their owners.
 */
export async function applyCustomStatus<S>(
  clients: KubeClients,
  type: CustomResourceType,
  target: { readonly name: string; readonly namespace?: string },
  status: S,
  opts: ApplyOptions,
): Promise<KubernetesObject> {
  const body = {
    apiVersion: `${type.group}/${type.version}`,
    kind: type.kind,
    metadata: target.namespace === undefined ? { name: target.name } : { name: target.name, namespace: target.namespace },
    status,
  };
  const options = callOptions({ contentType: PatchStrategy.ServerSideApply, timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS });
  const common = {
    group: type.group,
    version: type.version,
    plural: type.plural,
    name: target.name,
    body,
    fieldManager: opts.fieldManager,
    force: opts.force ?? false,
    ...(opts.dryRun ? { dryRun: 'All' } : {}),
  };
  const action = `apply status of ${describe(body)} as ${opts.fieldManager}`;
  const result: unknown = await kubeCall(action, () =>
    target.namespace === undefined
      ? clients.custom.patchClusterCustomObjectStatus(common, options)
      : clients.custom.patchNamespacedCustomObjectStatus({ ...common, namespace: target.namespace }, options),
  );
  return result as KubernetesObject;
}

/** A Node condition as we apply it (times as Date or RFC 3339 strings). */
export interface NodeConditionApply {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastHeartbeatTime: Date | string;
  readonly lastTransitionTime: Date | string;
}

/** RFC 3339 with whole seconds, as metav1.Time stores it (avoids a diff on every apply). */
function rfc3339(t: Date | string): string {
  const d = typeof t === 'string' ? new Date(t) : t;
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Applies Node conditions through nodes/status. status.conditions is a map list keyed by type,
 * so this merges with the kubelet's (or kwok's) conditions instead of replacing them: measured
 * on v1.34, an apply of PacketLoss leaves Ready/MemoryPressure/... and their owner untouched.
 * Send every condition this manager owns on each call; one it omits is removed.
 */
export async function applyNodeConditions(
  clients: KubeClients,
  nodeName: string,
  conditions: readonly NodeConditionApply[],
  opts: ApplyOptions,
): Promise<V1Node> {
  const body = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: nodeName },
    status: {
      conditions: conditions.map((c) => ({
        type: c.type,
        status: c.status,
        reason: c.reason,
        message: c.message,
        lastHeartbeatTime: rfc3339(c.lastHeartbeatTime),
        lastTransitionTime: rfc3339(c.lastTransitionTime),
      })),
    },
  };
  const options = callOptions({ contentType: PatchStrategy.ServerSideApply, timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS });
  return kubeCall(`apply conditions of Node ${nodeName} as ${opts.fieldManager}`, () =>
    clients.core.patchNodeStatus(
      { name: nodeName, body, fieldManager: opts.fieldManager, force: opts.force ?? false, ...(opts.dryRun ? { dryRun: 'All' } : {}) },
      options,
    ),
  );
}
