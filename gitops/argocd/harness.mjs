#!/usr/bin/env node
// Runs gitops/argocd/health.lua outside Argo CD, the way Argo CD does: the object in the global
// `obj`, the returned table printed as status and message. Used by the tests and by hand:
//   kubectl get dwp span-sensors -o json | node gitops/argocd/harness.mjs
// Needs lua5.4 (apt-get install lua5.4). Argo CD's interpreter is Lua 5.1; the script uses only
// what both have.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const healthScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'health.lua');

/** A JSON value as a Lua expression. JSON null becomes nil (dropped from tables), as in Argo CD. */
export function toLua(value) {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot express ${value} in Lua`);
    return String(value);
  }
  if (typeof value === 'string') return luaString(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  const fields = Object.entries(value)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `[${luaString(k)}] = ${toLua(v)}`);
  return `{${fields.join(', ')}}`;
}

function luaString(s) {
  // Decimal byte escapes for everything outside printable ASCII keep the literal exact (UTF-8 included).
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${byte}`;
  }
  return `${out}"`;
}

/**
 * Evaluates the health check on one object.
 * @param {unknown} object a DropWatchPolicy as the API server returns it
 * @param {{ lua?: string, script?: string }} [opts] the interpreter (default lua5.4) and the script
 * @returns {{ status: string, message: string }}
 */
export function evaluateHealth(object, opts = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dwo-argocd-health-'));
  try {
    const file = path.join(dir, 'run.lua');
    writeFileSync(
      file,
      [
        `obj = ${toLua(object)}`,
        `local hs = dofile(${luaString(opts.script ?? healthScript)})`,
        'io.write(tostring(hs.status), "\\n", tostring(hs.message), "\\n")',
        '',
      ].join('\n'),
    );
    const out = execFileSync(opts.lua ?? 'lua5.4', [file], { encoding: 'utf8' });
    const [status = '', ...rest] = out.replace(/\n$/, '').split('\n');
    return { status, message: rest.join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const input = JSON.parse(readFileSync(process.argv[2] ?? 0, 'utf8'));
  const items = input.kind?.endsWith('List') ? input.items : [input];
  for (const item of items) {
    const hs = evaluateHealth(item);
    console.log(`${item.metadata?.name ?? '?'}\t${hs.status}\t${hs.message}`);
  }
}
