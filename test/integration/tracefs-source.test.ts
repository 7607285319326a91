// Integration tests for the live tracefs drop source on the real kernel (needs root and tracefs):
// UDP drops to a closed port are seen as NO_SOCKET, stale instances are removed, and a process
// that gets SIGTERM removes its instance. Everything created here is removed again.
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { closedUdpPort, sendUdp } from './helpers/kernel.js';
import { TracefsDropSource, findTracefs, removeStaleInstances } from '../../src/agent/sources/tracefs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const isRoot = process.getuid?.() === 0;
const TRACEFS = isRoot ? findTracefs() : '/sys/kernel/tracing';
const INSTANCES = path.join(TRACEFS, 'instances');
const PREFIX = 'dropwatch-';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function ourInstances(): string[] {
  return readdirSync(INSTANCES).filter((n) => n.startsWith(PREFIX));
}

/** A pid that just exited (so it is not alive). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid;
  await new Promise((resolve) => child.once('exit', resolve));
  if (pid === undefined) throw new Error('spawn gave no pid');
  return pid;
}

describe.skipIf(!isRoot)('TracefsDropSource on the real kernel', () => {
  const sources: TracefsDropSource[] = [];
  const dirs: string[] = [];
  const children: ChildProcessByStdio<null, Readable, Readable>[] = [];

  afterEach(() => {
    for (const s of sources.splice(0)) s.close();
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) {
      try {
        rmdirSync(d);
      } catch {
        // already removed
      }
    }
  });

  it('counts UDP datagrams to a closed port as NO_SOCKET drops and removes its instance on close', async () => {
    const K = 500;
    const source = await TracefsDropSource.open({ bufferSizeKb: 1024, ignoreReasons: ['OTHERHOST'] });
    sources.push(source);
    expect(existsSync(source.instancePath)).toBe(true);
    expect(source.filter).toMatch(/^reason != \d+$/);
    expect(source.subBufferSize).toBeGreaterThanOrEqual(4096);

    await sendUdp('127.0.0.1', await closedUdpPort(), K);

    let noSocket = 0;
    let events = 0;
    let parseErrors = 0;
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = source.poll();
      events += r.events;
      parseErrors += r.parseErrors;
      for (const s of r.samples) if (s.reason === 'NO_SOCKET') noSocket += s.count;
      if ((noSocket >= K && r.events === 0) || Date.now() > deadline) break;
      await sleep(50);
    }
    expect(noSocket).toBeGreaterThanOrEqual(K);
    expect(events).toBeGreaterThanOrEqual(noSocket);
    expect(parseErrors).toBe(0);
    expect(source.lostEvents()).toBe(0n);
    expect(source.totals().events).toBe(events);

    source.close();
    expect(existsSync(source.instancePath)).toBe(false);
    expect(() => source.close()).not.toThrow();
    expect(source.poll().events).toBe(0);
  });

  it('accounts events the ring buffer could not hold as lostEvents', async () => {
    const K = 3000;
    const source = await TracefsDropSource.open({ bufferSizeKb: 8, ignoreReasons: [] });
    sources.push(source);
    await sendUdp('127.0.0.1', await closedUdpPort(), K); // no polling meanwhile: the 8 KiB buffer overflows
    let read = 0;
    for (let r = source.poll(); r.pages > 0; r = source.poll()) read += r.events;
    const lost = Number(source.lostEvents());
    expect(lost).toBeGreaterThan(0);
    expect(read + lost).toBeGreaterThanOrEqual(K);
    source.close();
    expect(source.lostEvents()).toBe(BigInt(lost));
  });

  it('rejects unknown reason names with the list of valid ones', async () => {
    const err: unknown = await TracefsDropSource.open({ bufferSizeKb: 64, ignoreReasons: ['NOT_A_REASON'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DWO_E_UNKNOWN_REASON' });
    expect((err as Error).message).toMatch(/NOT_A_REASON.*NO_SOCKET/);
    expect(ourInstances().filter((n) => n.startsWith(`${PREFIX}${process.pid}-`))).toEqual([]);
  });

  it('removes instances left by dead agents and keeps the others', async () => {
    const dead = path.join(INSTANCES, `${PREFIX}${await deadPid()}-abc`);
    const live = path.join(INSTANCES, `${PREFIX}${process.pid}-def`);
    const foreign = path.join(INSTANCES, `${PREFIX}not-ours`);
    for (const d of [dead, live, foreign]) {
      mkdirSync(d);
      dirs.push(d);
    }
    const source = await TracefsDropSource.open({ bufferSizeKb: 64, ignoreReasons: [] });
    sources.push(source);
    expect(source.removedStale).toEqual([path.basename(dead)]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
  });

  it('past the grace period removes idle instances of live-looking pids, never one in use', async () => {
    // pid 1 is always alive here, as an agent's pid is inside its own container.
    const idle = path.join(INSTANCES, `${PREFIX}1-0bad`);
    mkdirSync(idle);
    dirs.push(idle);
    const busy = await TracefsDropSource.open({ bufferSizeKb: 64, ignoreReasons: [] });
    sources.push(busy);
    const removed = removeStaleInstances(TRACEFS, PREFIX, 0);
    expect(removed).toContain(path.basename(idle));
    expect(existsSync(idle)).toBe(false);
    // The open source's instance has its files open: the kernel refuses (EBUSY) and it stays.
    expect(removed).not.toContain(busy.instanceName);
    expect(existsSync(busy.instancePath)).toBe(true);
  });

  it('a process that gets SIGTERM removes its instance', async () => {
    // The child loads the TypeScript sources directly: Node strips the types, and a resolve hook
    // maps the sources' ".js" import specifiers to the ".ts" files.
    const hook = `
      import { registerHooks } from 'node:module';
      import { existsSync } from 'node:fs';
      import { fileURLToPath } from 'node:url';
      registerHooks({
        resolve(spec, ctx, next) {
          if (spec.endsWith('.js') && ctx.parentURL?.startsWith('file:') && spec.startsWith('.')) {
            const ts = new URL(spec.slice(0, -3) + '.ts', ctx.parentURL);
            if (existsSync(fileURLToPath(ts))) return next(ts.href, ctx);
          }
          return next(spec, ctx);
        },
      });
      const mod = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'src/agent/sources/tracefs.ts')).href)});
      const source = await mod.TracefsDropSource.open({ bufferSizeKb: 64, ignoreReasons: [] });
      mod.installCleanupOnSignals(() => source.close());
      setInterval(() => source.poll(), 100);
      process.stdout.write(source.instancePath + '\\n');
    `;
    const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', hook], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const instancePath = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`child did not report its instance; stderr: ${stderr}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(out.slice(0, nl));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`child exited early (${code}); stderr: ${stderr}`));
      });
    });
    dirs.push(instancePath);
    expect(path.basename(instancePath)).toMatch(new RegExp(`^${PREFIX}${child.pid}-[0-9a-f]+$`));
    expect(existsSync(instancePath)).toBe(true);

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    child.kill('SIGTERM');
    const { code } = await exited;
    expect(stderr).toBe('');
    expect(code).toBe(128 + 15);
    expect(existsSync(instancePath)).toBe(false);
  });
});
