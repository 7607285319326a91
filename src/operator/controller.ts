// The DropWatchPolicy controller (STYLE.md 3, 4, 7, 10): one level-based reconciler per policy key.
// Informers on policies, node reports, Nodes and the agent DaemonSets map every event onto policy
// keys in a per-key work queue; reconcile(name) re-reads the caches and converges the agent
// DaemonSet, threshold state and Events, the Node condition PacketLoss and the policy status.
// Started by src/operator/main.ts while this process holds the leader Lease.
import type { Logger } from 'pino';
import {
  DropWatchPolicyResource,
  type DropWatchNodeReport,
  type DropWatchNodeReportStatus,
  type DropWatchPolicy,
  type DropWatchPolicyStatus,
} from '../api/generated/types.js';
import { NodeConditionType, StalledReasons } from '../domain/conditions.js';
import {
  agentDaemonSetName,
  canonicalJson,
  fnv1a64,
  planAgentDaemonSet,
  SPEC_HASH_ANNOTATION,
} from '../domain/daemonset-plan.js';
import {
  compileThresholds,
  evaluateNode,
  staleAfterMs,
  type CompiledThreshold,
  type NodeEvaluation,
  type ThresholdState,
} from '../domain/evaluate.js';
import {
  planNodeCondition,
  planPolicyStatus,
  summarizeReport,
  type DaemonSetObservation,
  type NodePolicyVerdict,
  type ReportSummary,
  type SiteSummary,
  type StallCause,
} from '../domain/policy-status.js';
import { matchesSelector } from '../domain/selector.js';
import { applyCustomStatus, applyNodeConditions, applyObject, FIELD_MANAGER, type ApplyObject } from '../k8s/apply.js';
import { isNotFound, type KubeClients } from '../k8s/client.js';
import type { EventObjectRef, EventRecorder } from '../k8s/events.js';
import type { Informer } from '../k8s/informer.js';
import {
  daemonSetInformer,
  deleteDaemonSet,
  deleteNodeReport,
  nodeInformer,
  policyInformer,
  reportInformer,
  setPolicyFinalizers,
  type Cached,
  type DaemonSetView,
  type NodeView,
} from '../k8s/resources.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { DwoError, toDwoError } from '../runtime/errors.js';
import { WorkQueue, type WorkOutcome, type WorkResult } from '../runtime/workqueue.js';
import { seedStates, transitionEvent } from './outputs.js';
import { StatusWriter } from './status-writer.js';

/** The finalizer that makes deleting a policy wait for the cleanup of what it made. */
export const FINALIZER = 'dropwatch.dev/cleanup';
/** Annotation on the DaemonSet: hash of the whole applied intent, to skip no-op applies. */
export const APPLIED_HASH_ANNOTATION = 'dropwatch.dev/applied-hash';

/** Counters the controller reports (main.ts wires them to Prometheus; tests read them). */
export interface ControllerHooks {
  onReconciled?(policy: string, outcome: WorkOutcome, durationMs: number): void;
  onStatusWritten?(policy: string): void;
  onEvent?(reason: string, type: 'Normal' | 'Warning'): void;
  onNodeConditionWritten?(node: string): void;
}

/** Settings of a {@link PolicyController}. */
export interface PolicyControllerOptions {
  readonly clients: KubeClients;
  /** Where the agent DaemonSets live (the operator's namespace). */
  readonly namespace: string;
  /** Agent image when a policy does not set spec.agent.image. */
  readonly agentImage: string;
  /** ServiceAccount of the agent pods; default dropwatch-agent. */
  readonly agentServiceAccount?: string;
  readonly operatorVersion: string;
  readonly recorder: EventRecorder;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Periodic resync of every policy; default 5 min. */
  readonly resyncMs?: number;
  /** At most one status write per policy this often; default 1000 ms. */
  readonly statusIntervalMs?: number;
  /** Policies reconciled in parallel; default 4. */
  readonly concurrency?: number;
  readonly hooks?: ControllerHooks;
}

type Policy = Cached<DropWatchPolicy>;
type NodeObj = Cached<NodeView>;

/** What the controller remembers about one node under one policy. */
interface NodeMemory {
  readonly evaluation: NodeEvaluation;
  readonly topSite: SiteSummary | undefined;
}

/** The PacketLoss condition we last applied to a node. */
interface AppliedCondition {
  readonly json: string;
  readonly atMs: number;
}

const NODE_WRITE_PARALLELISM = 16;
const MIN_REQUEUE_MS = 200;
/**
 * Report writes are coalesced per policy for this long before a reconcile. Each reconcile
 * re-reads the whole fleet (level-based), so at 5,000 nodes and ~80 report writes/s reconciling
 * on every write kept the operator's only thread busy enough to miss Lease renewals. With one
 * delayed add per policy the cadence under load is one reconcile per window (or per reconcile
 * duration, if longer), and a spike reaches its Event at most this much later.
 */
const REPORT_COALESCE_MS = 250;

/** Runs `fn` over `items` with at most `limit` at a time. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

function conditionOf(node: NodeView | undefined): NonNullable<NonNullable<NodeView['status']>['conditions']>[number] | undefined {
  return node?.status?.conditions?.find((c) => c.type === NodeConditionType);
}

/**
 * The policy controller: construct, `start()` (returns once the caches have synced and the first
 * reconciles are queued), `stop()` on losing leadership or shutting down.
 */
export class PolicyController {
  private readonly o: PolicyControllerOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  readonly policies: Informer<Policy>;
  readonly reports: Informer<Cached<DropWatchNodeReport>>;
  readonly nodes: Informer<NodeObj>;
  readonly daemonSets: Informer<Cached<DaemonSetView>>;
  private readonly queue: WorkQueue;
  private readonly status: StatusWriter;
  /** policy -> node -> memory. */
  private readonly memory = new Map<string, Map<string, NodeMemory>>();
  private readonly dsApplied = new Map<string, { hash: string; atMs: number }>();
  private readonly nodeApplied = new Map<string, AppliedCondition>();
  /** Node condition writes run one at a time per node and plan at write time (latest memory wins). */
  private readonly nodeChains = new Map<string, Promise<void>>();
  private readonly unsubscribe: (() => void)[] = [];
  private started = false;

  constructor(opts: PolicyControllerOptions) {
    this.o = opts;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger.child({ controller: 'dropwatchpolicy' });
    const resyncMs = opts.resyncMs ?? 5 * 60_000;
    const onStatus = (kind: string, s: { type: string; error?: unknown }): void => {
      if (s.type === 'error' || s.type === 'stalled' || s.type === 'handler-error') {
        this.log.warn({ kind, informer: s.type, err: s.error === undefined ? undefined : toDwoError(s.error).message }, 'Informer trouble');
      }
    };
    this.policies = policyInformer(opts.clients, { resyncMs, onStatus });
    this.reports = reportInformer(opts.clients, { onStatus });
    this.nodes = nodeInformer(opts.clients, { onStatus });
    this.daemonSets = daemonSetInformer(opts.clients, opts.namespace, { onStatus });
    this.status = new StatusWriter({
      write: (policy, status) => writePolicyStatus(opts.clients, policy, status),
      minIntervalMs: opts.statusIntervalMs ?? 1000,
      clock: this.clock,
      onWritten: (policy) => {
        this.log.debug({ policy }, 'Applied policy status');
        opts.hooks?.onStatusWritten?.(policy);
      },
      onError: (policy, err) => {
        const e = toDwoError(err);
        this.log.warn({ policy, code: e.code, err: e.message }, 'Status write failed; will reconcile again');
        this.enqueue(policy, 2000);
      },
    });
    this.queue = new WorkQueue({
      handler: (key) => this.reconcile(key),
      concurrency: opts.concurrency ?? 4,
      clock: this.clock,
      onFailure: (f) => {
        const e = toDwoError(f.error);
        const fields = { policy: f.key, code: e.code, failures: f.failures, retryInMs: f.retryInMs, err: e.message };
        if (f.class === 'terminal') this.log.error(fields, 'Reconcile failed; not retrying');
        else if (f.class === 'transient') this.log.warn(fields, 'Reconcile failed; retrying');
      },
      onProcessed: (key, outcome, ms) => opts.hooks?.onReconciled?.(key, outcome, ms),
    });
  }

  /** Starts the informers, waits for their first lists, then maps events and queues every policy. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const inf of [this.policies, this.reports, this.nodes, this.daemonSets] as Informer<Cached<object>>[]) inf.start();
    await Promise.all([this.policies, this.reports, this.nodes, this.daemonSets].map((i) => (i as Informer<Cached<object>>).waitForSync(signal)));
    if (signal?.aborted) return;
    this.subscribe();
    for (const p of this.policies.list()) this.queue.add(p.metadata.name);
    this.log.info({ policies: this.policies.list().length, nodes: this.nodes.list().length, reports: this.reports.list().length }, 'Caches synced; controller running');
  }

  /**
   * Stops the queue (running reconciles are cancelled) and the informers. With `flush`, pending
   * status writes and Event series counts are written first (graceful shutdown while still leader).
   */
  async stop(opts: { flush?: boolean } = {}): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.queue.shutdown({ mode: opts.flush ? 'drain' : 'cancel', timeoutMs: 5000 });
    if (opts.flush) {
      await this.status.flush();
      await Promise.allSettled([...this.nodeChains.values()]);
    }
    this.status.stop();
    await Promise.all([this.policies.stop(), this.reports.stop(), this.nodes.stop(), this.daemonSets.stop()]);
    this.log.info('Controller stopped');
  }

  /** Queues a policy (used by the status writer after a failed write). */
  enqueue(policy: string, afterMs = 0): void {
    if (afterMs > 0) this.queue.addAfter(policy, afterMs);
    else this.queue.add(policy);
  }

  /** Resolves when no reconcile is queued or running (tests). */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  // -------------------------------------------------------------------------------------------
  // Event mapping: every event becomes policy keys.

  private subscribe(): void {
    const on = <T extends Cached<object>>(inf: Informer<T>, fn: (obj: T, old: T | undefined) => void): void => {
      for (const type of ['add', 'update', 'delete'] as const) this.unsubscribe.push(inf.on(type, (obj, info) => fn(obj, info.old)));
    };
    const requeueAll = (): void => {
      for (const other of this.policies.list()) this.queue.add(other.metadata.name);
    };
    // Overlaps and Node conditions depend on the other policies' selectors: when a policy
    // appears, goes, or changes its selector, every policy is looked at again.
    this.unsubscribe.push(
      this.policies.on('add', (p) => {
        this.queue.add(p.metadata.name);
        requeueAll();
      }),
      this.policies.on('delete', (p) => {
        this.queue.add(p.metadata.name);
        requeueAll();
      }),
      this.policies.on('update', (p, info) => {
        this.queue.add(p.metadata.name);
        const old = info.old;
        if (old === undefined || old === p) return; // resync
        const moved = canonicalJson(old.spec?.nodeSelector ?? null) !== canonicalJson(p.spec?.nodeSelector ?? null) ||
          (old.metadata.deletionTimestamp === undefined) !== (p.metadata.deletionTimestamp === undefined);
        if (moved) requeueAll();
      }),
    );
    on(this.reports, (r) => {
      if (typeof r.spec?.policy === 'string' && r.spec.policy !== '') this.queue.addAfter(r.spec.policy, REPORT_COALESCE_MS);
    });
    on(this.daemonSets, (ds) => {
      const owner = ds.metadata.ownerReferences?.find((o) => o.kind === DropWatchPolicyResource.kind);
      if (owner !== undefined) this.queue.add(owner.name);
    });
    const nodeKeys = (n: NodeObj, old: NodeObj | undefined): void => {
      for (const key of this.policiesForNode(n.metadata.name, [n.metadata.labels, old?.metadata.labels])) this.queue.add(key);
    };
    this.unsubscribe.push(
      this.nodes.on('add', (n) => nodeKeys(n, undefined)),
      this.nodes.on('delete', (n, info) => nodeKeys(n, info.old)),
      this.nodes.on('update', (n, info) => {
        const old = info.old;
        // Skip heartbeats (the kubelet/kwok rewrite their conditions often): we read only labels and PacketLoss.
        if (old !== undefined && canonicalJson(old.metadata.labels ?? {}) === canonicalJson(n.metadata.labels ?? {}) &&
          canonicalJson(conditionOf(old) ?? null) === canonicalJson(conditionOf(n) ?? null)) return;
        nodeKeys(n, old);
      }),
    );
  }

  /** Policies whose selector matches any of the label sets, or that remember the node. */
  private policiesForNode(node: string, labelSets: readonly (Readonly<Record<string, string>> | undefined)[]): Set<string> {
    const keys = new Set<string>();
    for (const p of this.policies.list()) {
      if (labelSets.some((l) => l !== undefined && matchesSelector(p.spec?.nodeSelector, l))) keys.add(p.metadata.name);
    }
    for (const [policy, nodes] of this.memory) if (nodes.has(node)) keys.add(policy);
    return keys;
  }

  // -------------------------------------------------------------------------------------------
  // Reconcile

  /** Converges everything one policy is responsible for; level-based, re-reads the caches. */
  async reconcile(name: string): Promise<WorkResult> {
    const log = this.log.child({ policy: name });
    const policy = this.policies.get(name);
    if (policy === undefined) {
      // Gone without our cleanup (finalizer removed by hand) or already cleaned: forget it.
      const remembered = [...(this.memory.get(name)?.keys() ?? [])];
      this.memory.delete(name);
      this.dsApplied.delete(name);
      this.status.forget(name);
      await forEachLimit(remembered, NODE_WRITE_PARALLELISM, (n) => this.syncNodeCondition(n));
      return;
    }
    if (policy.metadata.deletionTimestamp !== undefined) {
      await this.cleanup(policy, log);
      return;
    }

    const finalizers = policy.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZER)) {
      await setPolicyFinalizers(this.o.clients, name, policy.metadata.resourceVersion ?? '', [...finalizers, FINALIZER]);
      log.info({ finalizer: FINALIZER }, 'Added finalizer');
    }

    let stalled: StallCause | undefined;
    const spec = policy.spec;
    const { manifest, stall } = await this.applyDaemonSet(policy, log);
    if (stall !== undefined) stalled = stall;

    let thresholds: CompiledThreshold[] = [];
    let staleMs = Number.POSITIVE_INFINITY;
    try {
      thresholds = compileThresholds(spec);
      staleMs = staleAfterMs(spec);
    } catch (err) {
      const e = toDwoError(err);
      stalled = { reason: StalledReasons.InvalidSpec, message: `${e.code}: ${e.message}` };
    }

    // Nodes and reports.
    const now = this.clock.now();
    const allNodes = this.nodes.list();
    const matching = allNodes.filter((n) => matchesSelector(spec.nodeSelector, n.metadata.labels)).map((n) => n.metadata.name);
    const matchingSet = new Set(matching);
    const reportsByNode = new Map<string, DropWatchNodeReportStatus>();
    for (const r of this.reports.list()) {
      if (r.spec?.policy === name && r.status !== undefined && matchingSet.has(r.spec.nodeName)) reportsByNode.set(r.spec.nodeName, r.status);
    }
    const summaries = new Map<string, ReportSummary>();
    for (const [node, st] of reportsByNode) summaries.set(node, summarizeReport(st));

    // Evaluate each matching node, emitting Events for transitions exactly once.
    let mem = this.memory.get(name);
    if (mem === undefined) {
      mem = new Map();
      this.memory.set(name, mem);
    }
    const evaluations = new Map<string, NodeEvaluation>();
    let recheckAt: number | undefined;
    if (stalled?.reason !== StalledReasons.InvalidSpec) {
      for (const node of matching) {
        const prevMem = mem.get(node);
        const nodeObj = this.nodes.get(node);
        const previous: Record<string, ThresholdState> | undefined =
          prevMem?.evaluation.states ?? seedStates(name, node, thresholds, conditionOf(nodeObj), this.status.lastWritten(name) ?? policy.status, now);
        if (prevMem === undefined && previous !== undefined) log.info({ node, seeded: Object.keys(previous) }, 'Seeded breach state from the Node condition');
        const ev = evaluateNode({ node, thresholds, report: reportsByNode.get(node), previous, nowMs: now, staleAfterMs: staleMs });
        const topSite = summaries.get(node)?.topSites[0];
        mem.set(node, { evaluation: ev, topSite });
        evaluations.set(node, ev);
        if (ev.recheckAtMs !== undefined && (recheckAt === undefined || ev.recheckAtMs < recheckAt)) recheckAt = ev.recheckAtMs;
        for (const t of ev.transitions) this.emit(policy, nodeObj, t, thresholds, topSite, log);
      }
    }
    // Nodes this policy no longer covers.
    const released = [...mem.keys()].filter((n) => !matchingSet.has(n));
    for (const n of released) mem.delete(n);
    if (released.length > 0) log.info({ nodes: released.slice(0, 10), count: released.length }, 'Nodes left the policy');

    // Node conditions across every policy that covers each node.
    await forEachLimit([...matching, ...released], NODE_WRITE_PARALLELISM, (n) => this.syncNodeCondition(n));

    // Status (batched, skipped when unchanged).
    const otherPolicies = new Map<string, string[]>();
    const others = this.policies.list().filter((p) => p.metadata.name !== name && p.metadata.deletionTimestamp === undefined);
    for (const node of matching) {
      const labels = this.nodes.get(node)?.metadata.labels;
      const names = others.filter((p) => matchesSelector(p.spec?.nodeSelector, labels)).map((p) => p.metadata.name);
      if (names.length > 0) otherPolicies.set(node, names);
    }
    const previousStatus = this.status.lastWritten(name) ?? policy.status;
    const planned = planPolicyStatus({
      policy: { name, generation: policy.metadata.generation ?? 0, spec },
      ...(previousStatus === undefined ? {} : { previous: previousStatus }),
      now: new Date(now),
      daemonSet: this.observeDaemonSet(manifest),
      matchingNodes: matching,
      reports: summaries,
      evaluations,
      otherPolicies,
      ...(stalled === undefined ? {} : { stalled }),
    });
    this.status.submit(name, planned, policy.status);

    if (recheckAt !== undefined) return { requeueAfterMs: Math.max(MIN_REQUEUE_MS, recheckAt - this.clock.now()) };
    return undefined;
  }

  /** Plans and applies the agent DaemonSet (skipped when the applied intent is unchanged). */
  private async applyDaemonSet(policy: Policy, log: Logger): Promise<{ manifest: ReturnType<typeof planAgentDaemonSet>; stall?: StallCause }> {
    const name = policy.metadata.name;
    const manifest = planAgentDaemonSet(
      { metadata: { name }, spec: policy.spec },
      {
        namespace: this.o.namespace,
        defaultImage: this.o.agentImage,
        serviceAccount: this.o.agentServiceAccount ?? 'dropwatch-agent',
        operatorVersion: this.o.operatorVersion,
      },
    );
    const owner = {
      apiVersion: DropWatchPolicyResource.apiVersion,
      kind: DropWatchPolicyResource.kind,
      name,
      uid: policy.metadata.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    };
    const hash = fnv1a64(canonicalJson({ manifest, owner }));
    const cached = this.daemonSets.get(manifest.metadata.name, this.o.namespace);
    const last = this.dsApplied.get(name);
    const fresh = last !== undefined && last.hash === hash && this.clock.now() - last.atMs < (this.o.resyncMs ?? 5 * 60_000);
    if (cached?.metadata.annotations?.[APPLIED_HASH_ANNOTATION] === hash && fresh) return { manifest };
    const obj = {
      ...manifest,
      metadata: { ...manifest.metadata, annotations: { [APPLIED_HASH_ANNOTATION]: hash }, ownerReferences: [owner] },
    } as unknown as ApplyObject;
    try {
      await applyObject(this.o.clients, obj, { fieldManager: FIELD_MANAGER.operator, force: true });
    } catch (err) {
      const e = toDwoError(err);
      if (e.kind === 'transient') throw e;
      log.error({ code: e.code, err: e.message, daemonSet: manifest.metadata.name }, 'DaemonSet rejected');
      return { manifest, stall: { reason: StalledReasons.DaemonSetRejected, message: `${e.code}: ${e.message}` } };
    }
    this.dsApplied.set(name, { hash, atMs: this.clock.now() });
    const verb = cached === undefined ? 'Created' : cached.metadata.annotations?.[APPLIED_HASH_ANNOTATION] === hash ? 'Reapplied' : 'Updated';
    log.info({ daemonSet: `${this.o.namespace}/${manifest.metadata.name}`, specHash: manifest.spec.template.metadata.annotations[SPEC_HASH_ANNOTATION] }, `${verb} DaemonSet`);
    return { manifest };
  }

  private observeDaemonSet(manifest: ReturnType<typeof planAgentDaemonSet>): DaemonSetObservation | undefined {
    const ds = this.daemonSets.get(manifest.metadata.name, this.o.namespace);
    if (ds === undefined) return undefined;
    const st = ds.status ?? {};
    const want = manifest.spec.template.metadata.annotations[SPEC_HASH_ANNOTATION];
    const have = ds.spec?.template?.metadata?.annotations?.[SPEC_HASH_ANNOTATION];
    return {
      name: ds.metadata.name,
      desired: st.desiredNumberScheduled ?? 0,
      current: st.currentNumberScheduled ?? 0,
      ready: st.numberReady ?? 0,
      updated: st.updatedNumberScheduled ?? 0,
      available: st.numberAvailable ?? 0,
      upToDate: want === have && st.observedGeneration !== undefined && st.observedGeneration === ds.metadata.generation,
    };
  }

  /** Records one transition as two Events: regarding the Node, and regarding the policy. */
  private emit(
    policy: Policy,
    node: NodeObj | undefined,
    t: NodeEvaluation['transitions'][number],
    thresholds: readonly CompiledThreshold[],
    topSite: SiteSummary | undefined,
    log: Logger,
  ): void {
    const ev = transitionEvent(policy.metadata.name, t, thresholds.find((x) => x.name === t.threshold), topSite);
    const nodeRef: EventObjectRef = { apiVersion: 'v1', kind: 'Node', name: t.node, ...(node?.metadata.uid === undefined ? {} : { uid: node.metadata.uid }) };
    const policyRef: EventObjectRef = {
      apiVersion: DropWatchPolicyResource.apiVersion,
      kind: DropWatchPolicyResource.kind,
      name: policy.metadata.name,
      ...(policy.metadata.uid === undefined ? {} : { uid: policy.metadata.uid }),
    };
    const level = ev.type === 'Warning' ? 'warn' : 'info';
    log.child({ node: t.node })[level]({ threshold: t.threshold, transition: t.kind, reason: ev.reason, value: t.value }, ev.note);
    void this.o.recorder.record({ regarding: nodeRef, related: policyRef, type: ev.type, reason: ev.reason, action: 'Evaluate', note: ev.note });
    void this.o.recorder.record({ regarding: policyRef, related: nodeRef, type: ev.type, reason: ev.reason, action: 'Evaluate', note: ev.note });
    this.o.hooks?.onEvent?.(ev.reason, ev.type);
  }

  /** Queues a write of one node's PacketLoss condition; resolves when it is done. */
  private syncNodeCondition(node: string): Promise<void> {
    const prev = this.nodeChains.get(node) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.writeNodeCondition(node));
    this.nodeChains.set(node, next);
    void next.finally(() => {
      if (this.nodeChains.get(node) === next) this.nodeChains.delete(node);
    }).catch(() => undefined);
    return next;
  }

  /**
   * Plans PacketLoss from every policy covering the node (planNodeCondition) and applies it when
   * it differs from the Node's; removes ours when no policy covers the node any more. Policies that
   * cover the node but have not evaluated it yet (just started) are waited for, not guessed.
   */
  private async writeNodeCondition(node: string): Promise<void> {
    const nodeObj = this.nodes.get(node);
    if (nodeObj === undefined) {
      this.nodeApplied.delete(node);
      return;
    }
    const log = this.log.child({ node });
    const covering = this.policies.list().filter(
      (p) => p.metadata.deletionTimestamp === undefined && matchesSelector(p.spec?.nodeSelector, nodeObj.metadata.labels),
    );
    const verdicts: NodePolicyVerdict[] = [];
    let pending = false;
    for (const p of covering) {
      const m = this.memory.get(p.metadata.name)?.get(node);
      if (m === undefined) {
        pending = true;
        continue;
      }
      verdicts.push({ policy: p.metadata.name, results: m.evaluation.results, ...(m.topSite === undefined ? {} : { topSite: m.topSite }) });
    }
    const current = conditionOf(nodeObj);
    const planned = planNodeCondition(verdicts);
    const now = this.clock.now();
    if (planned === undefined) {
      if (pending || current === undefined) return; // another policy will decide, or nothing to remove
      const last = this.nodeApplied.get(node);
      if (last?.json === 'removed' && now - last.atMs < 10_000) return;
      try {
        await applyNodeConditions(this.o.clients, node, [], { fieldManager: FIELD_MANAGER.operator, force: true });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      this.nodeApplied.set(node, { json: 'removed', atMs: now });
      this.o.hooks?.onNodeConditionWritten?.(node);
      log.info({ condition: NodeConditionType }, 'Removed Node condition');
      return;
    }
    const json = canonicalJson(planned);
    const same = current !== undefined && current.status === planned.status && current.reason === planned.reason && current.message === planned.message;
    const last = this.nodeApplied.get(node);
    if (same || (last?.json === json && now - last.atMs < 10_000)) return;
    const transition = current !== undefined && current.status === planned.status && current.lastTransitionTime !== undefined ? current.lastTransitionTime : new Date(now);
    try {
      await applyNodeConditions(
        this.o.clients,
        node,
        [{ ...planned, lastHeartbeatTime: new Date(now), lastTransitionTime: transition }],
        { fieldManager: FIELD_MANAGER.operator, force: true },
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    this.nodeApplied.set(node, { json, atMs: now });
    this.o.hooks?.onNodeConditionWritten?.(node);
    log.info({ condition: NodeConditionType, status: planned.status, reason: planned.reason }, 'Applied Node condition');
  }

  /**
   * Deletion: removes the DaemonSet, the policy's reports and its part in Node conditions (ours
   * removed where no other policy covers the node), then the finalizer.
   */
  private async cleanup(policy: Policy, log: Logger): Promise<void> {
    const name = policy.metadata.name;
    if (!(policy.metadata.finalizers ?? []).includes(FINALIZER)) return;
    const dsName = agentDaemonSetName(name);
    if (await deleteDaemonSet(this.o.clients, this.o.namespace, dsName)) log.info({ daemonSet: `${this.o.namespace}/${dsName}` }, 'Deleted DaemonSet');
    const reports = this.reports.list().filter((r) => r.spec?.policy === name).map((r) => r.metadata.name);
    await forEachLimit(reports, NODE_WRITE_PARALLELISM, async (r) => {
      if (await deleteNodeReport(this.o.clients, r)) log.info({ report: r }, 'Deleted DropWatchNodeReport');
    });
    const nodes = new Set([
      ...(this.memory.get(name)?.keys() ?? []),
      ...this.nodes.list().filter((n) => matchesSelector(policy.spec?.nodeSelector, n.metadata.labels)).map((n) => n.metadata.name),
    ]);
    this.memory.delete(name);
    this.dsApplied.delete(name);
    this.status.forget(name);
    await forEachLimit([...nodes], NODE_WRITE_PARALLELISM, (n) => this.syncNodeCondition(n));
    try {
      await setPolicyFinalizers(
        this.o.clients,
        name,
        policy.metadata.resourceVersion ?? '',
        (policy.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    log.info({ finalizer: FINALIZER, reports: reports.length, nodes: nodes.size }, 'Cleaned up; removed finalizer');
  }
}

/** Writes a policy status through the status subresource as dropwatch-operator. */
export async function writePolicyStatus(clients: KubeClients, policy: string, status: DropWatchPolicyStatus): Promise<void> {
  try {
    await applyCustomStatus(clients, DropWatchPolicyResource, { name: policy }, status, { fieldManager: FIELD_MANAGER.operator, force: true });
  } catch (err) {
    if (isNotFound(err)) return; // deleted meanwhile
    throw err instanceof DwoError ? err : toDwoError(err);
  }
}
