#!/usr/bin/env node
// The `kubectl-dropwatch` executable: kubectl finds it on PATH and runs it for `kubectl dropwatch
// ...` with the raw arguments and KUBECONFIG in the environment. Reads the environment once,
// runs the plugin (src/plugin/main.ts), prints errors with their code and fix, and exits.
import path from 'node:path';
import { runPlugin } from '../plugin/main.js';
import { CATALOGUE, toDwoError } from '../runtime/errors.js';

runPlugin(process.argv.slice(2), {
  env: { KUBECONFIG: process.env['KUBECONFIG'], HOME: process.env['HOME'] },
  delimiter: path.delimiter,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  now: () => new Date(),
  ...(process.stdout.isTTY && process.stdout.columns ? { columns: process.stdout.columns } : {}),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = toDwoError(err);
    process.stderr.write(`error ${e.format()}\n`);
    process.exitCode = CATALOGUE[e.code].exitCode;
  },
);
