// The agent's node report writer: server-side applies its DropWatchNodeReport (`<policy>.<node>`)
// once, owned by the policy, then the status through the status subresource, both as the
// dropwatch-agent field manager. Also reads the policy (uid, generation). Wired by the CLI's
// `agent` command into the agent's Publisher (src/agent/publish.ts) as its ReportSink.
import { PatchStrategy } from '@kubernetes/client-node';
import { DropWatchNodeReportResource, DropWatchPolicyResource, type DropWatchNodeReportStatus } from '../api/generated/types.js';
import { DwoError } from '../runtime/errors.js';
import { applyCustomStatus, FIELD_MANAGER } from './apply.js';
import { callOptions, isNotFound, kubeCall, type KubeClients } from './client.js';

/** What the sink needs of a DropWatchPolicy. */
export interface PolicyRef {
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
}

/** One report to write (structurally the agent's NodeReport). */
export interface NodeReportWrite {
  readonly name: string;
  readonly policy: string;
  readonly nodeName: string;
  readonly status: DropWatchNodeReportStatus;
}

export interface KubeReportSinkOptions {
  readonly policy: string;
  /** Deadline of each API call (ms); default 10 s. */
  readonly timeoutMs?: number;
}

/**
 * Writes node reports with server-side apply. The object (metadata and spec) is applied before
 * the first status write and again whenever a status write finds it gone (404: deleted by hand,
 * or garbage collected after its policy was re-created under the same name). Errors are mapped
 * by toKubeError, so the publisher sees DWO_E_API_UNAVAILABLE for an unreachable API server.
 *
 * Owner: the policy only (controller: false, blockOwnerDeletion: false — the agent may not set
 * finalizers on policies). The Node is not a second owner: the garbage collector keeps an object
 * while any owner exists, so a Node owner would keep reports alive after their policy is deleted.
 * spec.nodeName names the node instead.
 */
export class KubeReportSink {
  private applied = false;
  private readonly timeoutMs: number;

  constructor(
    private readonly clients: KubeClients,
    private readonly opts: KubeReportSinkOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** The policy's uid and generation, or undefined when it does not exist. */
  async readPolicy(): Promise<PolicyRef | undefined> {
    const r = DropWatchPolicyResource;
    try {
      const obj = (await kubeCall(`get DropWatchPolicy ${this.opts.policy}`, () =>
        this.clients.custom.getClusterCustomObject(
          { group: r.group, version: r.version, plural: r.plural, name: this.opts.policy },
          callOptions({ timeoutMs: this.timeoutMs }),
        ),
      )) as { metadata?: { uid?: string; generation?: number } };
      const uid = obj.metadata?.uid;
      if (uid === undefined) throw new DwoError('DWO_E_INTERNAL', `DropWatchPolicy ${this.opts.policy} has no metadata.uid`);
      return { name: this.opts.policy, uid, generation: obj.metadata?.generation ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Applies the report (first time, or after it vanished) and its status. */
  async write(report: NodeReportWrite): Promise<void> {
    if (!this.applied) await this.applyReportObject(report);
    try {
      await this.applyStatus(report);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.applied = false;
      await this.applyReportObject(report);
      await this.applyStatus(report);
    }
  }

  private async applyReportObject(report: NodeReportWrite): Promise<void> {
    const policy = await this.readPolicy();
    if (policy === undefined) {
      throw new DwoError('DWO_E_API_NOT_FOUND', `DropWatchPolicy ${report.policy} does not exist; report ${report.name} is not written without its owner`, {
        fix: 'Nothing to do if the policy was deleted: the operator removes its agents. Otherwise create the policy.',
      });
    }
    const r = DropWatchNodeReportResource;
    const body = {
      apiVersion: r.apiVersion,
      kind: r.kind,
      metadata: {
        name: report.name,
        ownerReferences: [
          { apiVersion: DropWatchPolicyResource.apiVersion, kind: DropWatchPolicyResource.kind, name: policy.name, uid: policy.uid, controller: false, blockOwnerDeletion: false },
        ],
      },
      spec: { policy: report.policy, nodeName: report.nodeName },
    };
    await kubeCall(`apply ${r.kind} ${report.name} as ${FIELD_MANAGER.agent}`, () =>
      this.clients.custom.patchClusterCustomObject(
        { group: r.group, version: r.version, plural: r.plural, name: report.name, body, fieldManager: FIELD_MANAGER.agent, force: true },
        callOptions({ contentType: PatchStrategy.ServerSideApply, timeoutMs: this.timeoutMs }),
      ),
    );
    this.applied = true;
  }

  private async applyStatus(report: NodeReportWrite): Promise<void> {
    // force: the status belongs to this node's agent alone; take it back from any other writer.
    await applyCustomStatus(this.clients, DropWatchNodeReportResource, { name: report.name }, report.status, {
      fieldManager: FIELD_MANAGER.agent,
      force: true,
      timeoutMs: this.timeoutMs,
    });
  }
}
