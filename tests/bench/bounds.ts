const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Bounds a benchmark run in time. At `timeoutMs` it reports what it has (`onTimeout`), cleans up
 * and exits with 2; on SIGINT/SIGTERM it cleans up and exits with 130. Cleanup may take at most
 * `cleanupMs`. Call `finish()` when the run ends normally.
 */
export function boundRun(options: {
  timeoutMs: number;
  cleanup: () => Promise<unknown>;
  onTimeout: () => void;
  log: (...args: unknown[]) => void;
  cleanupMs?: number;
}): { finish(): void } {
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
  return { finish: () => clearTimeout(timer) };
}
