// Read-only API access for the kubectl plugin (`kubectl dropwatch`): loads the kubeconfig the
// way kubectl does (--kubeconfig, else the KUBECONFIG list, else ~/.kube/config), and lists node
// reports, policies, Nodes and a Node's Events as plain JSON. Called by src/plugin only.
import { existsSync } from 'node:fs';
import { KubeConfig, type CoreV1Event, type KubernetesListObject, type V1Node } from '@kubernetes/client-node';
import {
  DropWatchNodeReportResource,
  DropWatchPolicyResource,
  type DropWatchNodeReport,
  type DropWatchPolicy,
} from '../api/generated/types.js';
import { DwoError } from '../runtime/errors.js';
import { callOptions, createKubeClients, isNotFound, kubeCall, loadKubeConfig, type KubeClients } from './client.js';

/** Where the plugin's credentials come from, resolved by the entry point from flags and the environment. */
export interface PluginKubeConfigSource {
  /** --kubeconfig: one file, used alone. */
  readonly kubeconfig?: string;
  /** The KUBECONFIG environment variable as kubectl passes it: files joined by the path delimiter. */
  readonly kubeconfigEnv?: string;
  /** $HOME/.kube/config, used when neither of the above is set. */
  readonly homeConfig?: string;
  /** --context: a context of the loaded kubeconfig. */
  readonly context?: string;
  /** Path delimiter of KUBECONFIG (":" on Linux). */
  readonly delimiter: string;
}

/**
 * Loads credentials like kubectl: an explicit file; else every existing file of KUBECONFIG merged
 * (the first file's current context wins); else ~/.kube/config; else the pod's service account.
 * --context switches context in any of them. Failures are DWO_E_KUBECONFIG.
 */
export function loadPluginKubeConfig(src: PluginKubeConfigSource): KubeConfig {
  const ctx = src.context === undefined ? {} : { context: src.context };
  if (src.kubeconfig !== undefined) return loadKubeConfig({ kubeconfigPath: src.kubeconfig, ...ctx });
  const listed = (src.kubeconfigEnv ?? '').split(src.delimiter).filter((f) => f !== '');
  const files = listed.length > 0 ? listed.filter((f) => existsSync(f)) : src.homeConfig !== undefined && existsSync(src.homeConfig) ? [src.homeConfig] : [];
  if (listed.length > 0 && files.length === 0) {
    throw new DwoError('DWO_E_KUBECONFIG', `none of the files in KUBECONFIG exists: ${listed.join(src.delimiter)}`);
  }
  const [first, ...rest] = files;
  if (first === undefined) {
    // Checked before loading: without a file, --context is the mistake worth naming.
    if (src.context !== undefined) throw new DwoError('DWO_E_KUBECONFIG', `--context ${src.context} needs a kubeconfig file; none was found (KUBECONFIG unset, no ~/.kube/config)`);
    return loadKubeConfig({ inCluster: true });
  }
  const kc = loadKubeConfig({ kubeconfigPath: first });
  for (const f of rest) {
    const more = new KubeConfig();
    try {
      more.loadFromFile(f);
    } catch (err) {
      throw new DwoError('DWO_E_KUBECONFIG', `cannot load kubeconfig ${f}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    kc.mergeConfig(more, true);
  }
  if (src.context !== undefined) {
    if (kc.getContextObject(src.context) === null) throw new DwoError('DWO_E_KUBECONFIG', `no context "${src.context}" in ${files.join(src.delimiter)}`);
    kc.setCurrentContext(src.context);
  }
  if (!kc.getCurrentCluster()?.server) throw new DwoError('DWO_E_KUBECONFIG', `no current cluster with a server address in ${files.join(src.delimiter)}`);
  return kc;
}

/** A Node as the plugin reads it: labels and conditions. */
export interface PluginNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly conditions: readonly {
    readonly type: string;
    readonly status: string;
    readonly reason?: string;
    readonly message?: string;
    readonly lastTransitionTime?: string;
  }[];
}

/** An Event about a Node, as the plugin prints it. */
export interface PluginEvent {
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  /** The latest occurrence (RFC 3339), from series, lastTimestamp or eventTime. */
  readonly lastSeen?: string;
  readonly source: string;
}

/** Which reports to list: one policy's, one node's, or both. */
export interface ReportFilter {
  readonly policy?: string;
  readonly nodeName?: string;
}

/** A DropWatchNodeReport as listed (metadata included). */
export type ListedReport = DropWatchNodeReport & { readonly metadata: { readonly name: string } };
/** A DropWatchPolicy as listed. */
export type ListedPolicy = DropWatchPolicy & { readonly metadata: { readonly name: string } };

const TIMEOUT_MS = 15_000;

/** The raw JSON shape: Date fields of typed models become RFC 3339 strings again. */
function plain<T>(obj: unknown): T {
  return JSON.parse(JSON.stringify(obj)) as T;
}

/** Read-only calls of `kubectl dropwatch`. Every failure is a DwoError. */
export class PluginReader {
  private readonly clients: KubeClients;

  constructor(kubeConfig: KubeConfig) {
    this.clients = createKubeClients(kubeConfig);
  }

  /**
   * The DropWatchNodeReports, all or narrowed by the CRD's selectable fields spec.policy and
   * spec.nodeName (filtered by the API server). A 404 on the collection means the CRD is not
   * installed: DWO_E_CRDS_MISSING.
   */
  async listReports(filter: ReportFilter = {}): Promise<ListedReport[]> {
    const r = DropWatchNodeReportResource;
    const selectors = [
      ...(filter.policy === undefined ? [] : [`spec.policy=${filter.policy}`]),
      ...(filter.nodeName === undefined ? [] : [`spec.nodeName=${filter.nodeName}`]),
    ];
    try {
      const list = (await kubeCall('list DropWatchNodeReports', () =>
        this.clients.custom.listClusterCustomObject(
          { group: r.group, version: r.version, plural: r.plural, ...(selectors.length === 0 ? {} : { fieldSelector: selectors.join(',') }) },
          callOptions({ timeoutMs: TIMEOUT_MS }),
        ),
      )) as { items: ListedReport[] };
      return list.items;
    } catch (err) {
      throw crdsMissing(err, `${r.plural}.${r.group}`);
    }
  }

  /** Every DropWatchPolicy. */
  async listPolicies(): Promise<ListedPolicy[]> {
    const r = DropWatchPolicyResource;
    try {
      const list = (await kubeCall('list DropWatchPolicies', () =>
        this.clients.custom.listClusterCustomObject({ group: r.group, version: r.version, plural: r.plural }, callOptions({ timeoutMs: TIMEOUT_MS })),
      )) as { items: ListedPolicy[] };
      return list.items;
    } catch (err) {
      throw crdsMissing(err, `${r.plural}.${r.group}`);
    }
  }

  /** Every Node (name, labels, conditions). */
  async listNodes(): Promise<PluginNode[]> {
    const list: KubernetesListObject<V1Node> = await kubeCall('list Nodes', () => this.clients.core.listNode({}, callOptions({ timeoutMs: TIMEOUT_MS })));
    return plain<V1Node[]>(list.items).map(toPluginNode);
  }

  /** One Node, or undefined when there is none of that name. */
  async getNode(name: string): Promise<PluginNode | undefined> {
    try {
      const n = await kubeCall(`get Node ${name}`, () => this.clients.core.readNode({ name }, callOptions({ timeoutMs: TIMEOUT_MS })));
      return toPluginNode(plain<V1Node>(n));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * The Events about a Node (cluster-scoped objects' Events live in "default"), newest first.
   * Written through events.k8s.io/v1 or core/v1, they are listed here through core/v1.
   */
  async nodeEvents(name: string, limit: number): Promise<PluginEvent[]> {
    const list = await kubeCall(`list Events of Node ${name}`, () =>
      this.clients.core.listNamespacedEvent(
        { namespace: 'default', fieldSelector: `involvedObject.kind=Node,involvedObject.name=${name}` },
        callOptions({ timeoutMs: TIMEOUT_MS }),
      ),
    );
    return plain<CoreV1Event[]>(list.items)
      .map(toPluginEvent)
      .sort((a, b) => (b.lastSeen ?? '').localeCompare(a.lastSeen ?? ''))
      .slice(0, limit);
  }
}

function crdsMissing(err: unknown, resource: string): unknown {
  if (!isNotFound(err)) return err;
  return new DwoError('DWO_E_CRDS_MISSING', `the API server does not serve ${resource} (HTTP 404 on the collection)`, { cause: err });
}

function toPluginNode(n: V1Node): PluginNode {
  return {
    name: n.metadata?.name ?? '',
    labels: n.metadata?.labels ?? {},
    conditions: (n.status?.conditions ?? []).map((c) => ({
      type: c.type,
      status: c.status,
      ...(c.reason === undefined ? {} : { reason: c.reason }),
      ...(c.message === undefined ? {} : { message: c.message }),
      ...(c.lastTransitionTime === undefined ? {} : { lastTransitionTime: String(c.lastTransitionTime) }),
    })),
  };
}

function toPluginEvent(e: CoreV1Event): PluginEvent {
  const times = [e.series?.lastObservedTime, e.lastTimestamp, e.eventTime, e.firstTimestamp, e.metadata.creationTimestamp]
    .filter((t) => t !== undefined && t !== null)
    .map((t) => String(t));
  const last = times[0];
  return {
    type: e.type ?? '',
    reason: e.reason ?? '',
    message: e.message ?? '',
    count: e.series?.count ?? e.count ?? 1,
    ...(last === undefined ? {} : { lastSeen: last }),
    source: e.reportingComponent || e.source?.component || '',
  };
}
