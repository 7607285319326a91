// Static checks of the Helm chart charts/dropwatch-operator that need no helm and no cluster:
// the CRD copy is byte-identical to crds/, every value is commented, typed in the schema and
// listed in the README, every RBAC rule says which code needs it (and that code exists), and the
// chart's versions follow package.json. test/integration/helm.test.ts runs the real helm.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const chart = path.join(repoRoot, 'charts/dropwatch-operator');
const read = (...p: string[]): string => readFileSync(path.join(...p), 'utf8');

/** A JSON schema node, as far as these checks read it. */
interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  oneOf?: SchemaNode[];
  enum?: unknown[];
}

type Values = Record<string, unknown>;

/** Leaf paths of values.yaml: scalars, lists and empty maps ("a.b.c"). */
function leaves(v: unknown, prefix = ''): [string, unknown][] {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
    return Object.entries(v as Values).flatMap(([k, x]) => leaves(x, prefix === '' ? k : `${prefix}.${k}`));
  }
  return [[prefix, v]];
}

/** The schema node describing a values path, or undefined when the schema does not cover it. */
function schemaAt(schema: SchemaNode, dotted: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = schema;
  for (const seg of dotted.split('.')) {
    if (node === undefined) return undefined;
    const next: SchemaNode | undefined = node.properties?.[seg];
    if (next !== undefined) node = next;
    else if (typeof node.additionalProperties === 'object') node = node.additionalProperties;
    else return undefined;
  }
  return node;
}

function schemaType(node: SchemaNode): string {
  if (node.type !== undefined) return node.type;
  if (node.oneOf !== undefined) return 'quantity';
  return '(none)';
}

const values = parseYaml(read(chart, 'values.yaml')) as Values;
const schema = JSON.parse(read(chart, 'values.schema.json')) as SchemaNode;
const readme = read(chart, 'README.md');
/** README value rows: key -> {type, default, description}. */
const readmeRows = new Map(
  [...readme.matchAll(/^\| `([\w.]+)` \| ([^|]+) \| `([^`]*)` \| (.+) \|$/gm)].map((m) => [m[1] ?? '', { type: (m[2] ?? '').trim(), def: m[3] ?? '', description: (m[4] ?? '').trim() }]),
);

describe('chart CRDs', () => {
  it('are a byte-identical copy of crds/', () => {
    const source = readdirSync(path.join(repoRoot, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    const copy = readdirSync(path.join(chart, 'files/crds')).sort();
    expect(copy).toEqual(source);
    for (const f of source) expect(read(chart, 'files/crds', f), f).toBe(read(repoRoot, 'crds', f));
  });

  it('carry no metadata.annotations of their own (templates/crds.yaml inserts the keep annotation as text)', () => {
    for (const f of readdirSync(path.join(repoRoot, 'crds'))) {
      const crd = parseYaml(read(repoRoot, 'crds', f)) as { metadata: { annotations?: unknown } };
      expect(crd.metadata.annotations, f).toBeUndefined();
      expect(read(repoRoot, 'crds', f).match(/^metadata:$/gm), f).toHaveLength(1);
    }
  });
});

describe('chart values', () => {
  const all = leaves(values);

  it('has a comment above every key of values.yaml', () => {
    const lines = read(chart, 'values.yaml').split('\n');
    const uncommented: string[] = [];
    lines.forEach((line, i) => {
      if (!/^\s*[\w.-]+:/.test(line)) return;
      let j = i - 1;
      while (j >= 0 && (lines[j] ?? '').trim() === '') j--;
      if (!/^\s*#/.test(lines[j] ?? '')) uncommented.push(`${i + 1}: ${line.trim()}`);
    });
    expect(uncommented).toEqual([]);
  });

  it('types every value in values.schema.json with its default type', () => {
    expect(all.length).toBeGreaterThan(40);
    for (const [key, value] of all) {
      const node = schemaAt(schema, key);
      expect(node, `${key} has no entry in values.schema.json`).toBeDefined();
      const type = schemaType(node ?? {});
      const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value === 'object' ? 'object' : Number.isInteger(value) ? 'integer' : typeof value;
      if (type === 'quantity') expect(['string', 'integer', 'number'], key).toContain(actual);
      else expect(type === 'number' && actual === 'integer' ? 'number' : actual, key).toBe(type);
      if (node?.enum !== undefined) expect(node.enum, key).toContain(value);
    }
  });

  it('is closed: unknown keys are refused at the top and in every group the chart defines', () => {
    expect(schema.additionalProperties).toBe(false);
    const open: string[] = [];
    const walk = (node: SchemaNode, at: string): void => {
      for (const [k, child] of Object.entries(node.properties ?? {})) {
        const p = at === '' ? k : `${at}.${k}`;
        if (child.properties !== undefined && child.additionalProperties === undefined) open.push(p);
        walk(child, p);
      }
    };
    walk(schema, '');
    // Every object with known keys decides explicitly: false, or true for Kubernetes pass-through types.
    expect(open).toEqual([]);
    // The schema describes nothing at the top that values.yaml lacks (except Helm's `global`).
    expect(Object.keys(schema.properties ?? {}).filter((k) => k !== 'global' && !(k in values))).toEqual([]);
  });

  it('lists every value in the README table with its type and default, and nothing else', () => {
    for (const [key, value] of all) {
      const row = readmeRows.get(key);
      expect(row, `${key} is missing from the README values table`).toBeDefined();
      expect(row?.def, `README default of ${key}`).toBe(JSON.stringify(value));
      expect(row?.type, `README type of ${key}`).toBe(schemaType(schemaAt(schema, key) ?? {}));
      expect(row?.description.length ?? 0, `README description of ${key}`).toBeGreaterThan(10);
    }
    expect([...readmeRows.keys()].filter((k) => !all.some(([key]) => key === k))).toEqual([]);
  });
});

describe('chart RBAC', () => {
  const templates = ['operator-rbac.yaml', 'agent-rbac.yaml'];

  it('gives every rule a comment naming the code that needs it, and that code exists', () => {
    let rules = 0;
    for (const t of templates) {
      const lines = read(chart, 'templates', t).split('\n');
      lines.forEach((line, i) => {
        if (!/^\s*- apiGroups:/.test(line)) return;
        rules++;
        const comment: string[] = [];
        for (let j = i - 1; j >= 0 && /^\s*#/.test(lines[j] ?? ''); j--) comment.unshift((lines[j] ?? '').replace(/^\s*#\s?/, ''));
        const text = comment.join(' ');
        expect(text.length, `${t}:${i + 1} rule without a comment`).toBeGreaterThan(40);
        const files = [...text.matchAll(/(src\/[\w/.-]+\.ts)(?::([\w.]+))?/g)];
        expect(files.length, `${t}:${i + 1} comment names no source file`).toBeGreaterThan(0);
        for (const [, file, symbol] of files) {
          const source = read(repoRoot, file ?? '');
          for (const part of (symbol ?? '').split('.').filter((s) => s !== '')) expect(source, `${t}:${i + 1} ${file}:${symbol}`).toContain(part);
        }
      });
    }
    // Operator: 6 cluster rules, 3 in its namespace, 1 for Events; agent: 3.
    expect(rules).toBe(13);
  });

  it('uses no wildcards and follows the names in the code', () => {
    for (const t of templates) {
      const body = read(chart, 'templates', t).split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
      expect(body, t).not.toMatch(/\[\s*['"]?\*['"]?\s*\]|- ['"]?\*['"]?\s*$/m);
    }
    const leaseName = /export const LEASE_NAME = '([^']+)'/.exec(read(repoRoot, 'src/operator/main.ts'))?.[1];
    expect(read(chart, 'templates/operator-rbac.yaml')).toContain(`resourceNames: [${leaseName ?? '?'}]`);
    // Events about cluster-scoped objects go to "default": the Role for Events lives there.
    expect(read(repoRoot, 'src/k8s/events.ts')).toContain("namespace: e.regarding.namespace ?? 'default'");
  });
});

describe('chart metadata', () => {
  it('deploys the version in package.json and needs Kubernetes 1.30', () => {
    const chartYaml = parseYaml(read(chart, 'Chart.yaml')) as { apiVersion: string; appVersion: string; kubeVersion: string };
    const pkg = JSON.parse(read(repoRoot, 'package.json')) as { version: string };
    expect(chartYaml.apiVersion).toBe('v2');
    expect(chartYaml.appVersion).toBe(pkg.version);
    expect(chartYaml.kubeVersion).toBe('>=1.30.0-0');
  });
});
