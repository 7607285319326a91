// `dropwatch-operator top`: a live terminal view of drop sites refreshed every second, sorted by
// rate, with layer and hint; q or Ctrl-C quits. Called by the CLI with a started monitor.
import type { DropMonitor } from '../agent/monitor.js';
import { DwoError } from '../runtime/errors.js';
import { renderSnapshot } from './render.js';

const CLEAR = '\x1b[H\x1b[2J';

/** Runs until the user presses q (or Ctrl-C); resolves after restoring the terminal. */
export async function runTop(m: DropMonitor, opts: { intervalMs?: number } = {}): Promise<void> {
  const stdin = process.stdin;
  if (!stdin.isTTY || !process.stdout.isTTY) {
    throw new DwoError('DWO_E_NO_TTY', '`top` needs a terminal on stdin and stdout');
  }
  const interval = opts.intervalMs ?? 1000;
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (timer) clearTimeout(timer);
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onKey);
      process.stdout.write('\n');
      resolve();
    };
    const onKey = (buf: Buffer) => {
      const k = buf.toString();
      if (k === 'q' || k === 'Q' || k === '\u0003') finish();
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onKey);
    const tick = async () => {
      const snap = await m.snapshot();
      const rows = Math.max(5, (process.stdout.rows ?? 40) - 16);
      const body = renderSnapshot(snap, { width: process.stdout.columns ?? 120, maxSites: rows, title: 'dropwatch-operator top (q quits)' });
      process.stdout.write(CLEAR + body + '\n');
      timer = setTimeout(() => void tick(), interval);
    };
    timer = setTimeout(() => void tick(), interval);
  });
}
