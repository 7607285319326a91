#!/usr/bin/env node
// Generates src/api/generated/types.ts from the CRDs in crds/ (the API's source of truth, see
// docs/adr/0001-api-source-of-truth.md). Run by `npm run generate`; scripts/check-generated.sh
// runs it in CI and fails when the committed output differs.
//
// It understands exactly the OpenAPI subset our CRDs use and fails on anything else, and it
// refuses a property without a description, so `kubectl explain` and the TSDoc stay complete.
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const crdDir = path.join(root, 'crds');
const outFile = path.join(root, 'src/api/generated/types.ts');

/**
 * Names for the generated types, keyed by kind and schema path ("spec.thresholds[]" is an item
 * of spec.thresholds). Objects and enums not listed get a name built from their path. The same
 * name may be given to several paths only when they generate the same declaration.
 */
const NAMES = {
  DropWatchPolicy: {
    spec: 'DropWatchPolicySpec',
    status: 'DropWatchPolicyStatus',
    'spec.nodeSelector': 'NodeSelector',
    'spec.nodeSelector.matchExpressions[]': 'NodeSelectorRequirement',
    'spec.nodeSelector.matchExpressions[].operator': 'NodeSelectorOperator',
    'spec.tolerations[]': 'Toleration',
    'spec.tolerations[].operator': 'TolerationOperator',
    'spec.tolerations[].effect': 'TaintEffect',
    'spec.sources': 'PolicySources',
    'spec.sources.tracepoint': 'TracepointSource',
    'spec.sources.histTriggers': 'HistTriggersSource',
    'spec.sources.counters': 'CountersSource',
    'spec.thresholds[]': 'Threshold',
    'spec.thresholds[].metric': 'ThresholdMetric',
    'spec.thresholds[].match': 'ThresholdMatch',
    'spec.thresholds[].match.layers[]': 'DropLayer',
    'spec.agent': 'AgentSettings',
    'spec.agent.imagePullPolicy': 'ImagePullPolicy',
    'spec.agent.resources': 'AgentResources',
    'spec.agent.securityMode': 'AgentSecurityMode',
    'status.conditions[]': 'PolicyCondition',
    'status.conditions[].type': 'PolicyConditionType',
    'status.conditions[].status': 'ConditionStatus',
    'status.daemonSet': 'DaemonSetStatus',
    'status.nodes': 'PolicyNodeCounts',
    'status.nodes.overlapping[]': 'OverlappingNode',
    'status.fleet': 'FleetTotals',
    'status.worstNodes[]': 'WorstNode',
    'status.worstNodes[].state': 'NodeState',
    'status.topSites[]': 'FleetDropSite',
    'status.topSites[].layer': 'DropLayer',
  },
  DropWatchNodeReport: {
    spec: 'DropWatchNodeReportSpec',
    status: 'DropWatchNodeReportStatus',
    'status.window': 'ReportWindow',
    'status.agent': 'AgentInfo',
    'status.agent.sources[]': 'SourceName',
    'status.agent.capabilities': 'AgentCapabilities',
    'status.totals': 'DropTotals',
    'status.ladder': 'LossLadder',
    'status.ladder.nic': 'LadderStep',
    'status.ladder.driver': 'LadderStep',
    'status.ladder.backlog': 'LadderStep',
    'status.ladder.netfilter': 'LadderStep',
    'status.ladder.ip': 'LadderStep',
    'status.ladder.transport': 'LadderStep',
    'status.ladder.socket': 'LadderStep',
    'status.ladder.capture': 'LadderStep',
    'status.drops[]': 'DropSite',
    'status.drops[].layer': 'DropLayer',
    'status.interfaces[]': 'InterfaceReport',
    'status.softnet': 'SoftnetTotals',
    'status.monitor': 'MonitorHealth',
  },
};

/** Docs for type names used at several paths whose descriptions differ. */
const SHARED_DOCS = {
  DropLayer: 'A layer of the receive path where packets are lost, from the wire inwards.',
  LadderStep: 'Drops at one layer of the receive path in the report window.',
};

/** Schema keywords the generator knows; anything else is an error, so nothing is silently lost. */
const KNOWN = new Set([
  'type', 'description', 'properties', 'required', 'items', 'enum', 'default', 'format', 'pattern',
  'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'maxProperties',
  'additionalProperties', 'x-kubernetes-validations', 'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys', 'x-kubernetes-map-type',
]);

/** Scalar aliases: the wire type stays visible in the generated code. */
const FORMAT_ALIASES = { duration: 'Duration', 'date-time': 'Timestamp', int64: 'Int64' };

function fail(msg) {
  throw new Error(`gen-api-types: ${msg}`);
}

function pascal(s) {
  return s.replace(/(^|[-_.])([a-z0-9])/g, (_, __, c) => c.toUpperCase()).replace(/^[a-z]/, (c) => c.toUpperCase());
}

function singular(s) {
  if (s.endsWith('ies')) return `${s.slice(0, -3)}y`;
  if (s.endsWith('s') && !s.endsWith('ss')) return s.slice(0, -1);
  return `${s}Item`;
}

/** Formats a description (plus a default) as a TSDoc block at the given indentation. */
function doc(description, indent, extra = []) {
  const lines = [];
  if (description) lines.push(...wrap(description.replace(/\*\//g, '*\\/'), 96 - indent.length));
  lines.push(...extra);
  if (lines.length === 0) return '';
  if (lines.length === 1 && lines[0].length + indent.length + 7 <= 100) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`;
}

function wrap(text, width) {
  const out = [];
  for (const para of text.split(/\n/)) {
    let line = '';
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out;
}

function quote(s) {
  return `'${String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** TSDoc lines listing the CEL rules the API server enforces on a schema (by their messages). */
function rules(schema) {
  const v = schema['x-kubernetes-validations'] ?? [];
  if (v.length === 0) return [];
  const out = ['', 'Enforced by the API server:'];
  for (const r of v) {
    const text = r.message ?? r.messageExpression?.replace(/^'.*?: /, '').replace(/'$/, '') ?? r.rule;
    out.push(`- ${text.replace(/\*\//g, '*\\/')}`);
  }
  return out;
}

class Generator {
  constructor(kind, names) {
    this.kind = kind;
    this.names = names;
    this.unusedNames = new Set(Object.keys(names));
  }

  nameFor(p, fallback) {
    const n = this.names[p];
    if (n) this.unusedNames.delete(p);
    return n ?? fallback;
  }

  /**
   * Records declaration `name`. `shape` is its text without the leading TSDoc; a name given to
   * several paths must have the same shape everywhere (its doc then lists the paths).
   */
  emit(name, docText, shape, p) {
    const where = `${this.kind} ${p}`;
    const prev = Generator.global.get(name);
    if (prev) {
      if (prev.shape !== shape) fail(`type ${name} is generated from ${prev.paths[0]} and ${where} with different shapes`);
      prev.paths.push(where);
      prev.docs.add(docText);
      return;
    }
    Generator.global.set(name, { shape, paths: [where], docs: new Set([docText]) });
    if (!Generator.ordered.includes(name)) Generator.ordered.push(name);
  }

  check(schema, p) {
    for (const k of Object.keys(schema)) if (!KNOWN.has(k)) fail(`${this.kind} ${p}: unsupported schema keyword ${k}`);
  }

  /** Returns the TS type expression for the schema at path p, emitting named declarations. */
  typeOf(schema, p, fallbackName) {
    this.check(schema, p);
    if (schema.enum) {
      const values = schema.enum.map(String);
      const union = values.map(quote).join(' | ');
      const name = this.nameFor(p, undefined);
      if (!name) return union;
      const constName = `${name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}_VALUES`;
      const shape =
        `export const ${constName} = [${values.map(quote).join(', ')}] as const;\n` +
        `export type ${name} = (typeof ${constName})[number];\n`;
      this.emit(name, doc(schema.description, '', rules(schema)), shape, p);
      return name;
    }
    switch (schema.type) {
      case 'string':
        return FORMAT_ALIASES[schema.format] ?? 'string';
      case 'integer':
        return schema.format === 'int64' ? 'Int64' : 'number';
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'array': {
        if (!schema.items) fail(`${this.kind} ${p}: array without items`);
        const inner = this.typeOf(schema.items, `${p}[]`, singular(fallbackName));
        return `readonly ${/[ |]/.test(inner) ? `(${inner})` : inner}[]`;
      }
      case 'object': {
        if (schema.properties && schema.additionalProperties) fail(`${this.kind} ${p}: both properties and additionalProperties`);
        if (schema.additionalProperties) {
          if (schema.additionalProperties === true) fail(`${this.kind} ${p}: additionalProperties: true is not structural`);
          return `Readonly<Record<string, ${this.typeOf(schema.additionalProperties, `${p}{}`, `${fallbackName}Value`)}>>`;
        }
        const name = this.nameFor(p, fallbackName);
        if (!Generator.ordered.includes(name)) Generator.ordered.push(name); // parents before children
        this.emit(name, doc(schema.description, '', rules(schema)), this.interfaceText(name, schema, p), p);
        return name;
      }
      default:
        return fail(`${this.kind} ${p}: unsupported type ${schema.type}`);
    }
  }

  interfaceText(name, schema, p) {
    const required = new Set(schema.required ?? []);
    const lines = [];
    for (const [prop, sub] of Object.entries(schema.properties ?? {})) {
      const subPath = p ? `${p}.${prop}` : prop;
      if (!sub.description) fail(`${this.kind} ${subPath}: every field needs a description (kubectl explain shows it)`);
      const type = this.typeOf(sub, subPath, `${name}${pascal(prop)}`);
      const present = required.has(prop) || sub.default !== undefined;
      const extra = [...(sub.type === 'object' || sub.enum ? [] : rules(sub))];
      if (sub.default !== undefined) extra.push('', `@defaultValue \`${JSON.stringify(sub.default)}\``);
      lines.push(doc(sub.description, '  ', extra) + `  readonly ${prop}${present ? '' : '?'}: ${type};`);
    }
    return `export interface ${name} {\n${lines.join('\n')}\n}\n`;
  }
}
Generator.global = new Map();
Generator.ordered = [];

/** The final text of a recorded declaration; a shared one gets a doc naming its uses. */
function declaration(name) {
  const d = Generator.global.get(name);
  const docText = d.docs.size === 1 ? [...d.docs][0] : doc(SHARED_DOCS[name] ?? `Used at: ${d.paths.join('; ')}.`, '');
  return docText + d.shape;
}

function main() {
  const files = readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).sort();
  if (files.length === 0) fail('no CRDs in crds/');
  const crds = files.map((file) => ({ file, crd: parse(readFileSync(path.join(crdDir, file), 'utf8')) }));
  const rank = (c) => Object.keys(NAMES).indexOf(c.crd?.spec?.names?.kind);
  crds.sort((a, b) => rank(a) - rank(b));
  const resources = [];
  const kinds = [];
  for (const { file, crd } of crds) {
    if (crd?.kind !== 'CustomResourceDefinition') fail(`${file} is not a CustomResourceDefinition`);
    const { group, names, scope, versions } = crd.spec;
    const storage = versions.filter((v) => v.storage);
    if (storage.length !== 1) fail(`${file}: expected exactly one storage version`);
    const version = storage[0];
    const kind = names.kind;
    const table = NAMES[kind];
    if (!table) fail(`${file}: no NAMES entry for kind ${kind}`);
    const schema = version.schema.openAPIV3Schema;
    if (!schema.description) fail(`${file}: the root schema needs a description`);
    const g = new Generator(kind, table);
    const specType = schema.properties.spec ? g.typeOf(schema.properties.spec, 'spec', `${kind}Spec`) : undefined;
    const statusType = schema.properties.status ? g.typeOf(schema.properties.status, 'status', `${kind}Status`) : undefined;
    if (g.unusedNames.size > 0) fail(`${kind}: NAMES entries match no schema path: ${[...g.unusedNames].join(', ')}`);
    const apiVersion = `${group}/${version.name}`;
    const specRequired = (schema.required ?? []).includes('spec');
    kinds.push(
      doc(schema.description, '') +
        `export interface ${kind} {\n` +
        `  readonly apiVersion: ${quote(apiVersion)};\n` +
        `  readonly kind: ${quote(kind)};\n` +
        `  readonly metadata: ObjectMeta;\n` +
        (specType ? `  readonly spec${specRequired ? '' : '?'}: ${specType};\n` : '') +
        (statusType ? `  readonly status?: ${statusType};\n` : '') +
        `}\n`,
    );
    resources.push(
      `/** Identity of the ${kind} resource (group, version, names) for API calls. */\n` +
        `export const ${kind}Resource = {\n` +
        `  group: ${quote(group)},\n` +
        `  version: ${quote(version.name)},\n` +
        `  apiVersion: ${quote(apiVersion)},\n` +
        `  kind: ${quote(kind)},\n` +
        `  listKind: ${quote(names.listKind)},\n` +
        `  plural: ${quote(names.plural)},\n` +
        `  singular: ${quote(names.singular)},\n` +
        `  shortNames: [${(names.shortNames ?? []).map(quote).join(', ')}],\n` +
        `  scope: ${quote(scope)},\n` +
        `} as const;\n`,
    );
  }

  const header = `// Generated by scripts/gen-api-types.mjs from ${files.map((f) => `crds/${f}`).join(' and ')}.
// DO NOT EDIT: change the CRD YAML and run \`npm run generate\` (docs/adr/0001-api-source-of-truth.md).
//
// The types describe objects as the API server returns them: a field with a server-side default
// is typed as always present. Validation (patterns, bounds, CEL rules) lives in the CRDs and is
// enforced by the API server, not by these types.

/** A Go-style duration string such as "500ms", "15s" or "1m30s" (units ms, s, m, h). */
export type Duration = string;
/** An RFC 3339 timestamp such as "2025-01-31T12:00:00Z". */
export type Timestamp = string;
/**
 * A 64-bit integer on the wire (OpenAPI format int64), e.g. a kernel counter. As a JS number it is
 * exact up to 2^53 (Number.MAX_SAFE_INTEGER); decode with a BigInt-aware parser if that matters.
 */
export type Int64 = number;

/** The object metadata fields dropwatch reads or sets (a subset of metav1.ObjectMeta). */
export interface ObjectMeta {
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly creationTimestamp?: Timestamp;
  readonly deletionTimestamp?: Timestamp;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly OwnerReference[];
}

/** A metav1.OwnerReference. */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}
`;
  const body = [header, ...resources, ...kinds, ...Generator.ordered.map(declaration)].join('\n');
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, body);
  console.log(`gen-api-types: wrote ${path.relative(root, outFile)} (${Generator.ordered.length} types from ${files.length} CRDs)`);
}

main();
