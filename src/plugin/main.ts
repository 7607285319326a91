// The `kubectl dropwatch` plugin: parses the raw arguments kubectl hands over, reads node reports,
// policies, Nodes and Events through src/k8s/plugin-reads.ts, and prints the views of view.ts as
// tables, text, JSON or YAML. Called by the entry point src/cli/kubectl-dropwatch.ts.
import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { DwoError } from '../runtime/errors.js';
import { loadPluginKubeConfig, PluginReader, type PluginEvent, type PluginKubeConfigSource, type PluginNode, type ReportFilter } from '../k8s/plugin-reads.js';
import { renderNodeFooter, renderNodes, renderReport, renderTop } from './format.js';
import { fleetTopSites, nodeRows, reportView, type NodeInput, type NodeSort, type PolicyInput, type ReportInput, type ViewInput } from './view.js';

/** What the plugin reads; {@link PluginReader} in production, a fake in unit tests. */
export interface PluginReads {
  listReports(filter?: ReportFilter): Promise<ReportInput[]>;
  listPolicies(): Promise<PolicyInput[]>;
  listNodes(): Promise<PluginNode[]>;
  getNode(name: string): Promise<PluginNode | undefined>;
  nodeEvents(name: string, limit: number): Promise<PluginEvent[]>;
}

/** The process around the plugin, passed in by the entry point. */
export interface PluginContext {
  /** KUBECONFIG and HOME as kubectl passed them. */
  readonly env: { readonly KUBECONFIG?: string | undefined; readonly HOME?: string | undefined };
  readonly delimiter: string;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly now: () => Date;
  /** Terminal width, when stdout is a terminal. */
  readonly columns?: number;
  /** Builds the reader; default: the real API server. */
  readonly reader?: (source: PluginKubeConfigSource) => PluginReads;
}

const FIX = 'Run `kubectl dropwatch --help` (or `kubectl dropwatch COMMAND --help`) for the commands and flags.';

const COMMON_FLAGS = `Flags for every command:
      --kubeconfig FILE   kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)
      --context NAME      kubeconfig context to use
  -h, --help              help for the command`;

const HELP = {
  root: `kubectl dropwatch: which sensor nodes lose packets, where in the kernel, and what to tune.
Reads the DropWatchNodeReports the dropwatch-operator agents publish (read-only).

Usage:
  kubectl dropwatch nodes [--policy P] [-o wide|json|yaml] [--sort rate|name] [--no-headers]
  kubectl dropwatch node NAME [--policy P] [-o json|yaml]
  kubectl dropwatch top [--policy P] [-n N] [-o json|yaml] [--no-headers]

Commands:
  nodes   every reporting node by drop rate, with its state and busiest drop site
  node    one node: top drop sites, loss ladder, interfaces, softnet, hints, condition, Events
  top     the fleet's busiest drop sites, summed across nodes

${COMMON_FLAGS}
`,
  nodes: `kubectl dropwatch nodes: one row per node and policy, worst drop rate first.

Usage:
  kubectl dropwatch nodes [--policy P] [-o wide|json|yaml] [--sort rate|name] [--no-headers]

Columns:
  STATE         Critical / Warning: the node's PacketLoss condition is True;
                STALE: no report for twice the policy's heartbeatInterval;
                NO REPORT: the policy selects the node but it has not reported;
                Unknown / Healthy: PacketLoss Unknown / False; Reporting: the policy has no thresholds
  DROPS/S       every drop on the node (after the policy's ignoreReasons)
  ACTIONABLE/S  drops at sites worth tuning (not benign ones such as NO_SOCKET or OTHERHOST)
  TOP LAYER     the receive-path layer with the most drops
  TOP SITE      the busiest kernel drop site, function+offset (reason)
  LOST          drop events the monitor itself lost (non-zero: counts are too low)
  AGE           time since the agent last wrote the report

Flags:
      --policy P          only this DropWatchPolicy's reports
  -o, --output FORMAT     wide (adds kernel, sources, loss %, condition), json or yaml
      --sort KEY          rate (default) or name
      --no-headers        no header row
${COMMON_FLAGS}
`,
  node: `kubectl dropwatch node NAME: what one node loses, where, and what to tune.

Usage:
  kubectl dropwatch node NAME [--policy P] [-o json|yaml]

Shows each of the node's reports (one per policy): kernel, sources, window and state; the top drop
sites (count, rate, layer, reason, location, hint); the loss ladder from the wire to the
application; interfaces and softnet counters; the hints for the busiest sites; then the node's
PacketLoss condition and its recent Events.

Flags:
      --policy P          only this DropWatchPolicy's report
  -o, --output FORMAT     json or yaml
${COMMON_FLAGS}
`,
  top: `kubectl dropwatch top: the fleet's busiest kernel drop sites.

Usage:
  kubectl dropwatch top [--policy P] [-n N] [-o json|yaml] [--no-headers]

Sums each drop site (kernel function and reason) across the nodes' fresh reports, busiest first,
with the number of nodes that drop there, the worst node and the hint. A node covered by several
policies counts once. Stale reports are left out.

Flags:
      --policy P          only this DropWatchPolicy's reports
  -n, --limit N           how many sites (default 10)
  -o, --output FORMAT     json or yaml
      --no-headers        no header row
${COMMON_FLAGS}
`,
} as const;

type Command = 'nodes' | 'node' | 'top';

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        policy: { type: 'string' },
        output: { type: 'string', short: 'o' },
        sort: { type: 'string' },
        limit: { type: 'string', short: 'n' },
        'no-headers': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new DwoError('DWO_E_USAGE', (err as Error).message, { fix: FIX });
  }
}

type Values = ReturnType<typeof parse>['values'];

function usage(message: string): DwoError {
  return new DwoError('DWO_E_USAGE', message, { fix: FIX });
}

/** Rejects flags a command does not take, so a typo does not silently do nothing. */
function allowOnly(cmd: Command, values: Values, allowed: readonly (keyof Values)[]): void {
  const always: (keyof Values)[] = ['kubeconfig', 'context', 'help'];
  for (const k of Object.keys(values) as (keyof Values)[]) {
    if (values[k] !== undefined && !always.includes(k) && !allowed.includes(k)) {
      throw usage(`${cmd} does not take --${k}`);
    }
  }
}

function output(values: Values, allowed: readonly string[]): string | undefined {
  const o = values.output;
  if (o !== undefined && !allowed.includes(o)) throw usage(`--output must be one of ${allowed.join(', ')}, got "${o}"`);
  return o;
}

function serialize(format: string, value: unknown): string {
  return format === 'yaml' ? toYaml(value) : `${JSON.stringify(value, null, 2)}\n`;
}

/** Reads what is optional (policies, Nodes): a refusal is a warning, not a failure. */
async function optional<T>(what: string, p: Promise<T>, ctx: PluginContext): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof DwoError && (err.code === 'DWO_E_API_FORBIDDEN' || err.code === 'DWO_E_CRDS_MISSING')) {
      ctx.err(`warning: cannot read ${what} (${err.code}); showing what the reports say\n`);
      return undefined;
    }
    throw err;
  }
}

async function readAll(reader: PluginReads, policy: string | undefined, ctx: PluginContext): Promise<ViewInput> {
  // Reports first: they are what the plugin is for, and their 404 tells that the CRDs are missing.
  const reports = await reader.listReports(policy === undefined ? {} : { policy });
  const [policies, nodes] = await Promise.all([optional('DropWatchPolicies', reader.listPolicies(), ctx), optional('Nodes', reader.listNodes(), ctx)]);
  return {
    reports,
    ...(policies === undefined ? {} : { policies }),
    ...(nodes === undefined ? {} : { nodes: nodes as NodeInput[] }),
    now: ctx.now(),
  };
}

async function nodesCommand(reader: PluginReads, values: Values, ctx: PluginContext): Promise<void> {
  allowOnly('nodes', values, ['policy', 'output', 'sort', 'no-headers']);
  const format = output(values, ['wide', 'json', 'yaml']);
  const sort = values.sort ?? 'rate';
  if (sort !== 'rate' && sort !== 'name') throw usage(`--sort must be rate or name, got "${sort}"`);
  const input = await readAll(reader, values.policy, ctx);
  const rows = nodeRows(input, { ...(values.policy === undefined ? {} : { policy: values.policy }), sort: sort as NodeSort });
  if (format === 'json' || format === 'yaml') {
    ctx.out(serialize(format, { nodes: rows }));
    return;
  }
  ctx.out(`${renderNodes(rows, { wide: format === 'wide', ...(values['no-headers'] ? { headers: false } : {}) })}\n`);
}

async function topCommand(reader: PluginReads, values: Values, ctx: PluginContext): Promise<void> {
  allowOnly('top', values, ['policy', 'output', 'limit', 'no-headers']);
  const format = output(values, ['json', 'yaml']);
  const limit = values.limit === undefined ? 10 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw usage(`-n/--limit must be a positive integer, got "${values.limit}"`);
  const input = await readAll(reader, values.policy, ctx);
  const top = fleetTopSites(input, { ...(values.policy === undefined ? {} : { policy: values.policy }), limit });
  if (format !== undefined) {
    ctx.out(serialize(format, top));
    return;
  }
  ctx.out(`${renderTop(top, { ...(ctx.columns === undefined ? {} : { width: ctx.columns }), ...(values['no-headers'] ? { headers: false } : {}) })}\n`);
}

const EVENTS_SHOWN = 10;

async function nodeCommand(reader: PluginReads, name: string | undefined, values: Values, ctx: PluginContext): Promise<void> {
  allowOnly('node', values, ['policy', 'output']);
  const format = output(values, ['json', 'yaml']);
  if (name === undefined || name === '') throw usage('node needs a NAME: kubectl dropwatch node NAME');
  // The API server filters by the CRD's selectable fields; the check below guards against a server that did not.
  const reports = (await reader.listReports({ nodeName: name, ...(values.policy === undefined ? {} : { policy: values.policy }) }))
    .filter((r) => r.spec.nodeName === name && (values.policy === undefined || r.spec.policy === values.policy));
  if (reports.length === 0) {
    const node = await optional('the Node', reader.getNode(name), ctx);
    const what = values.policy === undefined ? `node ${name}` : `node ${name} and policy ${values.policy}`;
    const why = node === undefined ? `; no Node named ${name} exists either` : `; the Node exists, but no agent reports for it${values.policy === undefined ? '' : ' under this policy'}`;
    throw new DwoError('DWO_E_REPORT_NOT_FOUND', `no DropWatchNodeReport for ${what}${why}`);
  }
  const [policies, node, events] = await Promise.all([
    optional('DropWatchPolicies', reader.listPolicies(), ctx),
    optional('the Node', reader.getNode(name), ctx),
    optional('Events', reader.nodeEvents(name, EVENTS_SHOWN), ctx),
  ]);
  const now = ctx.now();
  const byName = new Map((policies ?? []).map((p) => [p.metadata.name, p]));
  const views = reports
    .sort((a, b) => a.spec.policy.localeCompare(b.spec.policy))
    .map((r) => reportView(r, byName.get(r.spec.policy), node, now));
  const cond = node?.conditions.find((c) => c.type === 'PacketLoss');
  const condition = cond === undefined ? undefined : { status: cond.status, reason: cond.reason ?? '', message: cond.message ?? '' };
  if (format !== undefined) {
    ctx.out(serialize(format, { node: name, reports: views, ...(condition === undefined ? {} : { condition }), ...(events === undefined ? {} : { events }) }));
    return;
  }
  const width = ctx.columns ?? 160;
  const parts = views.map((v) => renderReport(v, { width }));
  parts.push(renderNodeFooter(condition, events, now));
  ctx.out(`${parts.join(`\n\n${'-'.repeat(Math.min(width, 100))}\n\n`)}\n`);
}

/**
 * Runs one plugin invocation; resolves with the exit status. Errors are thrown as DwoErrors for
 * the entry point to print.
 */
export async function runPlugin(argv: readonly string[], ctx: PluginContext): Promise<number> {
  const { values, positionals } = parse(argv);
  const [cmd, ...rest] = positionals;
  if (cmd === undefined || cmd === 'help') {
    ctx.out(HELP.root);
    return values.help || cmd === 'help' ? 0 : 2;
  }
  if (cmd !== 'nodes' && cmd !== 'node' && cmd !== 'top') throw usage(`unknown command "${cmd}"; the commands are nodes, node and top`);
  if (values.help) {
    ctx.out(HELP[cmd]);
    return 0;
  }
  if (cmd !== 'node' && rest.length > 0) throw usage(`${cmd} takes no arguments, got "${rest.join(' ')}"`);
  if (cmd === 'node' && rest.length > 1) throw usage(`node takes one NAME, got "${rest.join(' ')}"`);
  const source: PluginKubeConfigSource = {
    delimiter: ctx.delimiter,
    ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
    ...(values.context === undefined ? {} : { context: values.context }),
    ...(ctx.env.KUBECONFIG === undefined ? {} : { kubeconfigEnv: ctx.env.KUBECONFIG }),
    ...(ctx.env.HOME === undefined ? {} : { homeConfig: `${ctx.env.HOME}/.kube/config` }),
  };
  const reader = ctx.reader === undefined ? new PluginReader(loadPluginKubeConfig(source)) : ctx.reader(source);
  switch (cmd) {
    case 'nodes':
      await nodesCommand(reader, values, ctx);
      return 0;
    case 'top':
      await topCommand(reader, values, ctx);
      return 0;
    case 'node':
      await nodeCommand(reader, rest[0], values, ctx);
      return 0;
  }
}
