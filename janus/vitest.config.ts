import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: '../.reports/janus.json' },
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each file runs its own Janus and real-time audio; one at a time keeps timing steady on 2 cores.
    fileParallelism: false,
  },
});
