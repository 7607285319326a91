// The operator's typed access to its collections: informers for DropWatchPolicies, node reports,
// Nodes and the agent DaemonSets, and the few non-apply writes a reconciler needs (finalizer
// merge patches, deletes). Plain shapes in and out, so src/operator never sees client-node types.
import { PatchStrategy, type KubernetesListObject, type KubernetesObject, type V1DaemonSet, type V1Node } from '@kubernetes/client-node';
import {
  DropWatchNodeReportResource,
  DropWatchPolicyResource,
  type DropWatchNodeReport,
  type DropWatchPolicy,
} from '../api/generated/types.js';
import { callOptions, ignoreNotFound, kubeCall, type KubeClients } from './client.js';
import { Informer, type InformerStatus } from './informer.js';

/** A Node as the operator reads it (labels and conditions only). */
export interface NodeView {
  readonly metadata: { readonly name: string; readonly uid?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly status?: {
    readonly conditions?: readonly {
      readonly type: string;
      readonly status: string;
      readonly reason?: string;
      readonly message?: string;
      readonly lastTransitionTime?: string;
    }[];
  };
}

/** An agent DaemonSet as the operator reads it. */
export interface DaemonSetView {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly generation?: number;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly { readonly kind: string; readonly name: string; readonly uid: string }[];
  };
  readonly spec?: { readonly template?: { readonly metadata?: { readonly annotations?: Readonly<Record<string, string>> } } };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly desiredNumberScheduled?: number;
    readonly currentNumberScheduled?: number;
    readonly numberReady?: number;
    readonly updatedNumberScheduled?: number;
    readonly numberAvailable?: number;
  };
}

/** Common informer settings for the operator. */
export interface OperatorInformerOptions {
  readonly resyncMs?: number;
  readonly onStatus?: (kind: string, s: InformerStatus) => void;
}

const LIST_TIMEOUT_MS = 60_000;

/** The raw JSON shape: Date fields of typed models become RFC 3339 strings again. */
function plain<T>(obj: unknown): T {
  return JSON.parse(JSON.stringify(obj)) as T;
}

/** Informer over every DropWatchPolicy (cluster-scoped). */
export function policyInformer(clients: KubeClients, opts: OperatorInformerOptions = {}): Informer<DropWatchPolicy & KubernetesObject> {
  const r = DropWatchPolicyResource;
  return new Informer<DropWatchPolicy & KubernetesObject>({
    kubeConfig: clients.kubeConfig,
    path: `/apis/${r.group}/${r.version}/${r.plural}`,
    list: async () =>
      (await kubeCall('list DropWatchPolicies', () =>
        clients.custom.listClusterCustomObject({ group: r.group, version: r.version, plural: r.plural }, callOptions({ timeoutMs: LIST_TIMEOUT_MS })),
      )) as KubernetesListObject<DropWatchPolicy & KubernetesObject>,
    ...(opts.resyncMs === undefined ? {} : { resyncMs: opts.resyncMs }),
    ...(opts.onStatus === undefined ? {} : { onStatus: (s: InformerStatus) => opts.onStatus?.('DropWatchPolicy', s) }),
  });
}

/** Informer over every DropWatchNodeReport (cluster-scoped). */
export function reportInformer(clients: KubeClients, opts: OperatorInformerOptions = {}): Informer<DropWatchNodeReport & KubernetesObject> {
  const r = DropWatchNodeReportResource;
  return new Informer<DropWatchNodeReport & KubernetesObject>({
    kubeConfig: clients.kubeConfig,
    path: `/apis/${r.group}/${r.version}/${r.plural}`,
    list: async () =>
      (await kubeCall('list DropWatchNodeReports', () =>
        clients.custom.listClusterCustomObject({ group: r.group, version: r.version, plural: r.plural }, callOptions({ timeoutMs: LIST_TIMEOUT_MS })),
      )) as KubernetesListObject<DropWatchNodeReport & KubernetesObject>,
    ...(opts.resyncMs === undefined ? {} : { resyncMs: opts.resyncMs }),
    ...(opts.onStatus === undefined ? {} : { onStatus: (s: InformerStatus) => opts.onStatus?.('DropWatchNodeReport', s) }),
  });
}

/** Informer over every Node, as plain JSON (times are strings). */
export function nodeInformer(clients: KubeClients, opts: OperatorInformerOptions = {}): Informer<NodeView & KubernetesObject> {
  return new Informer<NodeView & KubernetesObject>({
    kubeConfig: clients.kubeConfig,
    path: '/api/v1/nodes',
    list: async () => {
      const list: KubernetesListObject<V1Node> = await kubeCall('list Nodes', () => clients.core.listNode({}, callOptions({ timeoutMs: LIST_TIMEOUT_MS })));
      return plain<KubernetesListObject<NodeView & KubernetesObject>>(list);
    },
    decode: (raw) => raw as NodeView & KubernetesObject,
    ...(opts.resyncMs === undefined ? {} : { resyncMs: opts.resyncMs }),
    ...(opts.onStatus === undefined ? {} : { onStatus: (s: InformerStatus) => opts.onStatus?.('Node', s) }),
  });
}

/** Informer over the agent DaemonSets (label app.kubernetes.io/name=dropwatch-agent) of one namespace. */
export function daemonSetInformer(clients: KubeClients, namespace: string, opts: OperatorInformerOptions = {}): Informer<DaemonSetView & KubernetesObject> {
  const labelSelector = 'app.kubernetes.io/name=dropwatch-agent';
  return new Informer<DaemonSetView & KubernetesObject>({
    kubeConfig: clients.kubeConfig,
    path: `/apis/apps/v1/namespaces/${namespace}/daemonsets`,
    labelSelector,
    list: async () => {
      const list: KubernetesListObject<V1DaemonSet> = await kubeCall(`list DaemonSets in ${namespace}`, () =>
        clients.apps.listNamespacedDaemonSet({ namespace, labelSelector }, callOptions({ timeoutMs: LIST_TIMEOUT_MS })),
      );
      return plain<KubernetesListObject<DaemonSetView & KubernetesObject>>(list);
    },
    decode: (raw) => raw as DaemonSetView & KubernetesObject,
    ...(opts.resyncMs === undefined ? {} : { resyncMs: opts.resyncMs }),
    ...(opts.onStatus === undefined ? {} : { onStatus: (s: InformerStatus) => opts.onStatus?.('DaemonSet', s) }),
  });
}

/** An object as held by the operator's informers. */
export type Cached<T> = T & KubernetesObject;

const WRITE_TIMEOUT_MS = 30_000;

/**
 * Sets a DropWatchPolicy's finalizers with a merge patch that carries the resourceVersion it was
 * computed from, so a concurrent change fails with a (transient) conflict instead of being lost.
 */
export async function setPolicyFinalizers(clients: KubeClients, name: string, resourceVersion: string, finalizers: readonly string[]): Promise<void> {
  const r = DropWatchPolicyResource;
  await kubeCall(`update finalizers of DropWatchPolicy ${name}`, () =>
    clients.custom.patchClusterCustomObject(
      { group: r.group, version: r.version, plural: r.plural, name, body: { metadata: { resourceVersion, finalizers: [...finalizers] } } },
      callOptions({ contentType: PatchStrategy.MergePatch, timeoutMs: WRITE_TIMEOUT_MS }),
    ),
  );
}

/** Deletes a namespaced DaemonSet (its pods go in the background); absent is fine. */
export async function deleteDaemonSet(clients: KubeClients, namespace: string, name: string): Promise<boolean> {
  const r = await ignoreNotFound(
    kubeCall(`delete DaemonSet ${namespace}/${name}`, () =>
      clients.apps.deleteNamespacedDaemonSet({ namespace, name, propagationPolicy: 'Background' }, callOptions({ timeoutMs: WRITE_TIMEOUT_MS })),
    ),
  );
  return r !== undefined;
}

/** Deletes a DropWatchNodeReport; absent is fine. */
export async function deleteNodeReport(clients: KubeClients, name: string): Promise<boolean> {
  const r = DropWatchNodeReportResource;
  const res: unknown = await ignoreNotFound(
    kubeCall(`delete DropWatchNodeReport ${name}`, () =>
      clients.custom.deleteClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, name }, callOptions({ timeoutMs: WRITE_TIMEOUT_MS })),
    ),
  );
  return res !== undefined;
}
