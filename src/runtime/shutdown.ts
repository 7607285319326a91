// Graceful shutdown: cleanup callbacks run once on SIGINT/SIGTERM/SIGHUP, on an uncaught error,
// or when the entrypoint calls runShutdown(). The agent registers the removal of its tracefs
// instance here so no kernel state outlives the process.

type Cleanup = () => void | Promise<void>;
const cleanups: Cleanup[] = [];
let installed = false;
let running: Promise<void> | undefined;

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

/** Registers a cleanup; installs the signal handlers on first use. */
export function onShutdown(fn: Cleanup): void {
  cleanups.push(fn);
  if (installed) return;
  installed = true;
  for (const [sig, num] of Object.entries(SIGNALS)) {
    process.once(sig as NodeJS.Signals, () => {
      void runShutdown().finally(() => process.exit(128 + num));
    });
  }
  process.once('uncaughtException', (err) => {
    process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    void runShutdown().finally(() => process.exit(70));
  });
}

/** Runs every registered cleanup once, newest first; errors are reported, not thrown. */
export function runShutdown(): Promise<void> {
  running ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  })();
  return running;
}
