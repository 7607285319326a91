#!/usr/bin/env node
// Generates docs/policy-reference.md from the CRDs in crds/ (the API's source of truth, see
// docs/adr/0001-api-source-of-truth.md): every field with its type, default, allowed values and
// description, and every CEL rule with the message the API server returns when it rejects an
// object. Run by `make generate`; scripts/check-generated.sh fails when the committed page differs.
//
// `--check` prints nothing and exits 1 when docs/policy-reference.md is not what this script
// would write (for tests); without it the page is rewritten.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outFile = path.join(root, 'docs/policy-reference.md');
const CRDS = ['crds/dropwatch.dev_dropwatchpolicies.yaml', 'crds/dropwatch.dev_dropwatchnodereports.yaml'];

/** Text that is safe inside a Markdown table cell: no line breaks, pipes and angle brackets escaped. */
const cell = (s) =>
  String(s).replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Inline code that is safe inside a table cell (GitHub honours \| inside code spans in tables). */
const code = (s) => {
  const text = String(s).replace(/\|/g, '\\|');
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
};

/** A CEL messageExpression as a readable template: 'threshold ' + self.name + ': x' -> threshold <name>: x. */
function messageTemplate(expr) {
  const parts = expr.split(/\s*\+\s*/);
  return parts
    .map((p) => {
      const lit = /^'(.*)'$/.exec(p) ?? /^"(.*)"$/.exec(p);
      if (lit) return lit[1];
      return `<${p.replace(/^self\./, '')}>`;
    })
    .join('');
}

/** The type column: string, integer (int32), []object (map keyed by name), map[string]string, ... */
function typeOf(s) {
  if (s.type === 'array') {
    const item = s.items ?? {};
    const kind = s['x-kubernetes-list-type'];
    const keyed = s['x-kubernetes-list-map-keys'];
    const how = kind === 'map' ? ` (list keyed by ${keyed.join(', ')})` : kind === 'set' ? ' (set: unique items)' : '';
    return `[]${typeOf(item)}${how}`;
  }
  if (s.type === 'object' && s.additionalProperties) return `map[string]${typeOf(s.additionalProperties)}`;
  if (s.format === 'duration') return 'duration string';
  if (s.format === 'date-time') return 'timestamp (RFC 3339)';
  if (s.format && (s.type === 'integer' || s.type === 'number')) return `${s.type} (${s.format})`;
  return s.type ?? 'any';
}

/** The constraints column: enum, range, sizes, pattern. */
function constraintsOf(s) {
  const out = [];
  if (s.enum) out.push(`one of ${s.enum.map((v) => code(v)).join(', ')}`);
  if (s.minimum !== undefined && s.maximum !== undefined) out.push(`${s.minimum} to ${s.maximum}`);
  else if (s.minimum !== undefined) out.push(`at least ${s.minimum}`);
  else if (s.maximum !== undefined) out.push(`at most ${s.maximum}`);
  if (s.minLength !== undefined) out.push(`at least ${s.minLength} characters`);
  if (s.maxLength !== undefined) out.push(`at most ${s.maxLength} characters`);
  if (s.maxItems !== undefined) out.push(`at most ${s.maxItems} items`);
  if (s.maxProperties !== undefined) out.push(`at most ${s.maxProperties} entries`);
  if (s.pattern !== undefined && s.format !== 'duration') out.push(`pattern ${code(s.pattern)}`);
  if (s['x-kubernetes-map-type'] === 'atomic') out.push('replaced as a whole on apply');
  return out.join('; ');
}

const defaultOf = (s) => (s.default === undefined ? '' : code(JSON.stringify(s.default)));

/** Depth-first walk: visit(pathString, schema, isRequired). */
function walk(schema, at, required, visit) {
  visit(at, schema, required);
  if (schema.type === 'object' && schema.properties) {
    const req = new Set(schema.required ?? []);
    for (const [name, child] of Object.entries(schema.properties)) walk(child, at === '' ? name : `${at}.${name}`, req.has(name), visit);
  }
  if (schema.type === 'object' && schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    const child = schema.additionalProperties;
    if (child.type === 'object' && child.properties) walk(child, `${at}.<key>`, false, visit);
    else visitRulesOnly(child, `${at}.<key>`, visit);
  }
  if (schema.type === 'array' && schema.items) {
    const item = schema.items;
    if (item.type === 'object' && item.properties) {
      // The item itself may carry rules (e.g. one threshold); its fields follow.
      visitRulesOnly(item, `${at}[]`, visit);
      const req = new Set(item.required ?? []);
      for (const [name, child] of Object.entries(item.properties)) walk(child, `${at}[].${name}`, req.has(name), visit);
    } else {
      visitRulesOnly(item, `${at}[]`, visit);
    }
  }
}

function visitRulesOnly(schema, at, visit) {
  if (schema['x-kubernetes-validations']) visit(at, schema, false, true);
}

/** The rules declared on one schema node. */
function rulesOf(schema) {
  return (schema['x-kubernetes-validations'] ?? []).map((v) => ({
    rule: String(v.rule).replace(/\s+/g, ' ').trim(),
    message: v.message ?? (v.messageExpression ? messageTemplate(v.messageExpression) : `failed rule: ${v.rule}`),
    fieldPath: v.fieldPath,
  }));
}

/** Sections: the object itself, then one per direct child of spec and of status. */
function sectionOf(p) {
  const m = /^(spec|status)\.([^.[]+)/.exec(p);
  if (!m) return p.split('.')[0];
  return `${m[1]}.${m[2]}`;
}

function renderKind(file) {
  const crd = parse(readFileSync(path.join(root, file), 'utf8'));
  const version = crd.spec.versions.find((v) => v.storage) ?? crd.spec.versions[0];
  const schema = version.schema.openAPIV3Schema;
  const kind = crd.spec.names.kind;
  const lines = [];
  lines.push(`## ${kind}`, '');
  lines.push(cell(schema.description), '');
  lines.push(
    `API \`${crd.spec.group}/${version.name}\`, ${crd.spec.scope === 'Cluster' ? 'cluster-scoped' : 'namespaced'}; ` +
      `\`kubectl get ${crd.spec.names.plural}\` or \`kubectl get ${crd.spec.names.shortNames.join('`, `kubectl get ')}\`. Source: [\`${file}\`](../${file}).`,
    '',
  );

  // Printer columns.
  if (version.additionalPrinterColumns?.length) {
    lines.push(`Columns of \`kubectl get ${crd.spec.names.shortNames[0]}\`:`, '');
    lines.push('| Column | From | Meaning |', '|---|---|---|');
    for (const c of version.additionalPrinterColumns) lines.push(`| ${cell(c.name)} | ${code(c.jsonPath)} | ${cell(c.description ?? '')} |`);
    lines.push('');
  }
  if (version.selectableFields?.length) {
    lines.push(`Field selectors: ${version.selectableFields.map((f) => code(`--field-selector ${f.jsonPath.replace(/^\./, '')}=...`)).join(', ')}.`, '');
  }

  // Fields, grouped into sections.
  const rows = new Map();
  const rules = [];
  walk(schema, '', false, (at, s, required, rulesOnly) => {
    for (const r of rulesOf(s)) rules.push({ at: at === '' ? '(object)' : at, ...r });
    if (rulesOnly || at === '' || at === 'apiVersion' || at === 'kind') return;
    const sec = sectionOf(at);
    if (!rows.has(sec)) rows.set(sec, []);
    rows.get(sec).push(`| ${code(at)}${required ? ' (required)' : ''} | ${cell(typeOf(s))} | ${defaultOf(s)} | ${cell(constraintsOf(s))} | ${cell(s.description ?? '')} |`);
  });
  // A field with nothing under it joins its parent's table instead of getting a heading of its own.
  const merged = new Map();
  for (const [sec, body] of rows) {
    const parent = sec.split('.')[0];
    const into = body.length === 1 && sec !== parent ? parent : sec;
    if (!merged.has(into)) merged.set(into, []);
    merged.get(into).push(...body);
  }
  for (const [sec, body] of merged) {
    lines.push(`### ${kind} ${sec}`, '');
    lines.push('| Field | Type | Default | Allowed | Description |', '|---|---|---|---|---|', ...body, '');
  }

  // Rules.
  lines.push(`### ${kind} validation rules`, '');
  lines.push(
    'The API server checks these CEL rules on every create and update (`kubectl apply --dry-run=server` shows the result without ' +
      'storing anything). When a rule is false the request is refused with the message shown, reported at the field in the first column.',
    '',
  );
  lines.push('| Field | Refused with the message | Rule (must be true) |', '|---|---|---|');
  for (const r of rules) {
    const where = r.fieldPath ? `${r.at === '(object)' ? '' : r.at}${r.fieldPath}`.replace(/^\./, '') : r.at;
    lines.push(`| ${code(where)} | ${cell(r.message)} | ${code(r.rule)} |`);
  }
  lines.push('');
  return lines.join('\n');
}

function render() {
  const head = `# DropWatchPolicy and DropWatchNodeReport reference

<!-- Generated by scripts/gen-policy-reference.mjs from crds/; do not edit. Run \`make generate\`. -->

Every field of the two dropwatch.dev custom resources, with its type, default, allowed values and
meaning, and every validation rule the API server enforces, with the message it answers when a
rule fails. This page is generated from [\`crds/\`](../crds/), the API's source of truth; the same
descriptions appear in \`kubectl explain dropwatchpolicy.spec --recursive\`. For the ideas behind the
fields read [concepts.md](concepts.md); for what to tune when a node drops, [troubleshooting.md](troubleshooting.md).

## A worked example

A policy that watches SPAN sensors (nodes labelled \`dropwatch.dev/sensor=span\`), ignores the
frames a mirror port delivers for other hosts, and alerts when packets are lost before or in the
capture path:

\`\`\`yaml
apiVersion: dropwatch.dev/v1alpha1
kind: DropWatchPolicy
metadata:
  name: span-sensors          # a DNS label of at most 40 characters
spec:
  nodeSelector:               # required; {} selects every node
    matchLabels:
      dropwatch.dev/sensor: span
  ignoreReasons: [OTHERHOST]  # filtered in the kernel
  thresholds:
    - name: real-loss
      metric: dropsPerSecond  # per node, averaged over reportInterval (default 15s)
      match:
        layers: [nic, driver, backlog, capture]
      warning: 100            # exclusive: the rate must be above it
      critical: 1000
      clear: 20               # recover only at or below 20/s ...
      for: 2m                 # ... held for 2 minutes (also how long a breach must last)
\`\`\`

Everything not written takes its default: \`samplingInterval: 1s\`, \`reportInterval: 15s\`,
\`heartbeatInterval: 60s\`, all three sources on, \`agent.securityMode: leastPrivilege\`. Check a
policy before committing it with \`kubectl apply --dry-run=server -f policy.yaml\`; the
[validation rules](#dropwatchpolicy-validation-rules) list what can be refused. More complete
policies, each applied to a real API server by the tests:
[\`examples/\`](../examples/) (SPAN fleet, capture loss percent, a tainted dedicated pool, observe-only).

How to read the tables: a path like \`spec.thresholds[].match.layers[]\` is an item of the list
\`layers\` inside \`match\` of any item of \`thresholds\`; \`<key>\` stands for a map key. Durations are
written like Go durations (\`500ms\`, \`30s\`, \`1m30s\`, \`2h\`). A list "keyed by name" is merged by
that key on server-side apply; a "set" holds unique items.

`;
  return `${head}${CRDS.map(renderKind).join('\n')}`;
}

const text = render();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(outFile, 'utf8');
  } catch {
    // missing counts as different
  }
  process.exit(current === text ? 0 : 1);
}
writeFileSync(outFile, text);
