const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Bounds a benchmark run in time. At `timeoutMs` it reports what it has (`onTimeout`), cleans up
 * and exits with 2; on SIGINT/SIGTERM it cleans up and exits with 130. Cleanup may take at most
 * `cleanupMs`. Call `finish()` when the run ends normally, or let `run` do it all.
 */
export function boundRun(options: {
  timeoutMs: number;
  cleanup: () => Promise<unknown>;
  onTimeout: () => void;
  log: (...args: unknown[]) => void;
  cleanupMs?: number;
}): { finish(): void; run(main: () => Promise<void>, report: (partial: boolean) => void): Promise<never> } {
  const cleanupMs = options.cleanupMs ?? 20_000;
  const stop = async (code: number) => {
    await Promise.race([options.cleanup(), sleep(cleanupMs)]);
    process.exit(code);
  };
  const timer = setTimeout(() => {
    options.log(`overall time limit (${options.timeoutMs} ms) reached: stopping`);
    options.onTimeout();
    void stop(2);
  }, options.timeoutMs);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      options.log(`${signal}: cleaning up`);
      void stop(130);
    });
  const finish = () => clearTimeout(timer);
  return {
    finish,
    /** Runs the bench: its report (partial when main failed), cleanup (at most 20 s), exit 0 or 1. */
    async run(main, report) {
      let exitCode = 0;
      try {
        await main();
        report(false);
      } catch (error) {
        exitCode = 1;
        options.log('failed:', error);
        report(true);
      } finally {
        finish();
        await Promise.race([options.cleanup(), sleep(20_000)]);
      }
      process.exit(exitCode);
    },
  };
}
