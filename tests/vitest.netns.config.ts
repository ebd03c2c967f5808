import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * Suites that need real WebRTC (and the browser): run by scripts/netns.sh inside a private
 * network namespace, where 10.99.0.1 (spaces0) is the only address besides loopback.
 */
export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    include: ['src/netns/**/*.test.ts'],
    globalSetup: ['src/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    passWithNoTests: true,
    reporters: ['default', 'json'],
    outputFile: { json: '../.reports/tests-netns.json' },
  },
});
