// Keeps the documentation honest: docs/troubleshooting.md has a section for every drop reason and
// layer the classifier knows (and an anchor for every reason a real 6.18 kernel defines, since
// alerts link to troubleshooting.md#<reason in lower case>); every relative link and #anchor in
// README.md and docs/ resolves; docs/policy-reference.md is current and lists every CRD field and
// rule message.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { classifyDrop } from '../../src/domain/classify.js';
import { LAYERS } from '../../src/domain/types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string): string => readFileSync(path.join(root, rel), 'utf8');

/** Lines outside fenced code blocks. */
function prose(markdown: string): string[] {
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m?.[1] !== undefined) {
      if (fence === undefined) fence = m[1][0];
      else if (m[1][0] === fence) fence = undefined;
      continue;
    }
    if (fence === undefined) out.push(line);
  }
  return out;
}

/** GitHub's heading anchor: lower case, punctuation other than - and _ removed, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

interface Anchors {
  readonly headings: ReadonlySet<string>;
  readonly all: ReadonlySet<string>;
}

/** Heading anchors (with GitHub's -1, -2 suffixes for repeats) and explicit <a id/name> anchors. */
function anchorsOf(markdown: string): Anchors {
  const headings = new Set<string>();
  const all = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(markdown)) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h?.[1] !== undefined) {
      const base = slug(h[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      const s = n === 0 ? base : `${base}-${n}`;
      headings.add(s);
      all.add(s);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) if (a[1] !== undefined) all.add(a[1]);
  }
  return { headings, all };
}

function markdownFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) return markdownFiles(rel);
    return name.endsWith('.md') ? [rel] : [];
  });
}

/** Relative link targets outside code: [text](target) and <a href="target">. */
function linksOf(markdown: string): string[] {
  const out: string[] = [];
  for (const raw of prose(markdown)) {
    const line = raw.replace(/`[^`]*`/g, '');
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) if (m[1] !== undefined) out.push(m[1]);
    for (const m of line.matchAll(/<a\s+href="([^"]+)"/g)) if (m[1] !== undefined) out.push(m[1]);
  }
  return out.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

// The classifier's rules, read from its source: the exact reasons and the prefixes.
const classifySource = read('src/domain/classify.ts');
const block = (from: string, to: string): string => classifySource.slice(classifySource.indexOf(from), classifySource.indexOf(to));
const keysIn = (text: string): string[] => [...text.matchAll(/\['([A-Z0-9_]+)', rule\(/g)].map((m) => m[1] ?? '');
const EXACT = keysIn(block('const EXACT', 'const PREFIX'));
const PREFIX = keysIn(block('const PREFIX', 'interface LocationRule'));

// Every reason name of a real kernel (6.18), from the tracepoint's print fmt.
const KERNEL_REASONS = [...read('test/fixtures/ring/kfree_skb.format').matchAll(/\{ \d+, "([A-Z0-9_]+)" \}/g)]
  .map((m) => m[1] ?? '')
  .filter((r) => r !== 'MAX');

const troubleshooting = anchorsOf(read('docs/troubleshooting.md'));

describe('docs/troubleshooting.md covers what the classifier knows', () => {
  it('reads the classifier rules (sanity: the parse found them and they are the live rules)', () => {
    expect(EXACT.length).toBeGreaterThan(30);
    expect(PREFIX.length).toBeGreaterThan(20);
    // An exact reason has its own hint even where its layer comes from the function (NOMEM).
    for (const r of EXACT) expect(classifyDrop(r, 'unknown_function').hint, r).not.toMatch(/^unclassified site/);
    for (const p of PREFIX) expect(classifyDrop(`${p}X`, 'unknown_function').classifiedBy, p).toBe('reason');
    expect(KERNEL_REASONS.length).toBeGreaterThan(100);
  });

  it('has a section for every exact reason', () => {
    const missing = EXACT.filter((r) => !troubleshooting.headings.has(r.toLowerCase()));
    expect(missing).toEqual([]);
  });

  it('has a section for every reason prefix', () => {
    const missing = PREFIX.filter((p) => !troubleshooting.headings.has(p.toLowerCase()));
    expect(missing).toEqual([]);
  });

  it('has a section for every layer and for NOT_SPECIFIED (classified by function)', () => {
    const missing = [...LAYERS, 'not_specified'].filter((l) => !troubleshooting.headings.has(l));
    expect(missing).toEqual([]);
  });

  it('has a section for each loss only counters see', () => {
    for (const a of ['nic-ring-and-fifo-overflow', 'softnet-backlog', 'time_squeeze', 'capture-ring-af_packet', 'udp-receive-buffer-errors', 'skb-allocation-failures', 'monitor-lost-events']) {
      expect(troubleshooting.headings.has(a), a).toBe(true);
    }
  });

  it('resolves #<reason> for every reason a real kernel defines', () => {
    const missing = KERNEL_REASONS.filter((r) => !troubleshooting.all.has(r.toLowerCase()));
    expect(missing).toEqual([]);
  });
});

describe('relative links in README.md and docs/', () => {
  const files = ['README.md', ...markdownFiles('docs')];

  it('finds the documents and their links (sanity)', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'docs/troubleshooting.md', 'docs/concepts.md', 'docs/gitops.md', 'docs/policy-reference.md']));
    expect(linksOf(read('docs/troubleshooting.md')).length).toBeGreaterThan(50);
  });

  for (const file of files) {
    it(`${file}: every relative link and anchor resolves`, () => {
      const broken: string[] = [];
      for (const link of linksOf(read(file))) {
        const [target = '', anchor] = link.split('#', 2);
        const resolved = target === '' ? path.join(root, file) : path.resolve(path.join(root, path.dirname(file)), decodeURIComponent(target));
        if (!existsSync(resolved)) {
          broken.push(`${link}: ${path.relative(root, resolved)} does not exist`);
          continue;
        }
        if (anchor !== undefined && anchor !== '' && resolved.endsWith('.md')) {
          if (!anchorsOf(readFileSync(resolved, 'utf8')).all.has(decodeURIComponent(anchor))) broken.push(`${link}: no heading or anchor #${anchor}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }

  it('the checker itself catches a broken file link and a broken anchor', () => {
    const sample = '[ok](#a-heading) [bad](#no-such) [gone](nope.md) `[code](ignored.md)`\n\n## A heading\n';
    const a = anchorsOf(sample);
    const links = linksOf(sample);
    expect(links).toEqual(['#a-heading', '#no-such', 'nope.md']);
    expect(a.all.has('a-heading')).toBe(true);
    expect(a.all.has('no-such')).toBe(false);
    expect(slug('Capture ring (AF_PACKET)')).toBe('capture-ring-af_packet');
    expect(slug('TC_*')).toBe('tc_');
  });
});

describe('docs/policy-reference.md', () => {
  const doc = read('docs/policy-reference.md');

  it('is what scripts/gen-policy-reference.mjs generates from crds/ (run make generate)', () => {
    expect(() => execFileSync(process.execPath, [path.join(root, 'scripts/gen-policy-reference.mjs'), '--check'])).not.toThrow();
  });

  for (const file of ['crds/dropwatch.dev_dropwatchpolicies.yaml', 'crds/dropwatch.dev_dropwatchnodereports.yaml']) {
    it(`lists every field and every rule message of ${file}`, () => {
      const crd = parse(read(file)) as { spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } };
      const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
      if (schema === undefined) throw new Error('no schema');
      const paths: string[] = [];
      const messages: string[] = [];
      collect(schema, '', paths, messages);
      expect(paths.length).toBeGreaterThan(20);
      expect(paths.filter((p) => !doc.includes(`\`${p}\``))).toEqual([]);
      const text = doc.replace(/&lt;/g, '<').replace(/&gt;/g, '>');
      expect(messages.filter((m) => !text.includes(m))).toEqual([]);
    });
  }
});

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  'x-kubernetes-validations'?: { message?: string; messageExpression?: string }[];
}

/** Field paths (as the reference writes them) and fixed rule messages, independently of the generator. */
function collect(s: Schema, at: string, paths: string[], messages: string[]): void {
  for (const v of s['x-kubernetes-validations'] ?? []) {
    if (v.message !== undefined) messages.push(v.message.replace(/\s+/g, ' ').trim());
    // messageExpression: the fixed text after the threshold name must appear.
    const tail = /\+ '([^']+)'\s*$/.exec(v.messageExpression ?? '');
    if (tail?.[1] !== undefined) messages.push(tail[1]);
  }
  for (const [name, child] of Object.entries(s.properties ?? {})) {
    const p = at === '' ? name : `${at}.${name}`;
    if (p !== 'apiVersion' && p !== 'kind') paths.push(p);
    collect(child, p, paths, messages);
  }
  if (s.items !== undefined) collect(s.items, `${at}[]`, paths, messages);
}
