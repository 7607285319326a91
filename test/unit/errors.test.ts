// The error catalogue, the code that raises errors and docs/errors.md stay in step.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOGUE, DwoError, toDwoError } from '../../src/runtime/errors.js';

const root = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

describe('error catalogue', () => {
  it('every code raised in src is in the catalogue', () => {
    const used = new Set<string>();
    for (const f of sources(path.join(root, 'src'))) for (const m of readFileSync(f, 'utf8').matchAll(/\bDWO_E_[A-Z_]+[A-Z]\b/g)) used.add(m[0]);
    const missing = [...used].filter((c) => !(c in CATALOGUE));
    expect(missing).toEqual([]);
  });

  it('docs/errors.md lists every code with its fix', () => {
    const doc = readFileSync(path.join(root, 'docs/errors.md'), 'utf8');
    for (const [code, e] of Object.entries(CATALOGUE)) {
      expect(doc).toContain(`\`${code}\``);
      expect(doc).toContain(e.fix.replace(/\|/g, '\\|'));
    }
  });

  it('formats a code, the message and the fix', () => {
    const e = new DwoError('DWO_E_UNKNOWN_REASON', 'unknown drop reason "X"');
    expect(e.format()).toBe(`DWO_E_UNKNOWN_REASON: unknown drop reason "X"\n  fix: ${CATALOGUE.DWO_E_UNKNOWN_REASON.fix}`);
  });

  it('wraps foreign errors without losing a known code', () => {
    expect(toDwoError(new Error('boom')).code).toBe('DWO_E_INTERNAL');
    expect(toDwoError({ code: 'DWO_E_CONFIG', message: 'bad', fix: 'do x' }).fix).toBe('do x');
  });
});
