// `dropwatch-operator top` in a real pseudo-terminal (util-linux `script` provides it): it
// refreshes each second with the live drop sites and quits on q, removing its tracefs instance.
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { cliPath, closedUdpPort, ourInstances, sendUdp } from './helpers/kernel.js';

it('top shows live drops sorted by rate and quits on q', async () => {
  const port = await closedUdpPort();
  const child = spawn('script', ['-qfec', `${process.execPath} ${cliPath} top`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '160', LINES: '50' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
  const deadline = Date.now() + 20_000;
  // Keep making drops until a refresh shows them.
  while (!/NO_SOCKET\s+__udp4_lib_rcv/.test(out) && Date.now() < deadline) {
    await sendUdp('127.0.0.1', port, 200);
    await new Promise((r) => setTimeout(r, 300));
  }
  const frames = out.split('dropwatch-operator top (q quits)').length - 1;
  child.stdin.write('q');
  const code = await exited;
  expect(code).toBe(0);
  expect(frames).toBeGreaterThanOrEqual(1);
  expect(out).toMatch(/\d+\s+[\d.]+\s+transport\s+NO_SOCKET\s+__udp4_lib_rcv\+0x[0-9a-f]+\/0x[0-9a-f]+/);
  expect(ourInstances()).toEqual([]);
}, 40_000);
