import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql ships CJS and ESM; Node (and so yoga) loads the CJS build. Our sources must get the
    // same copy, or `instanceof GraphQLError` fails across the two.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: '../.reports/tests.json' },
    include: ['src/**/*.test.ts'],
    // The WebRTC and browser suites run inside a network namespace (vitest.netns.config.ts).
    exclude: ['src/netns/**', '**/node_modules/**'],
    globalSetup: ['src/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Files run in parallel, each on its own cloned database; two cores here.
    maxWorkers: 2,
  },
});
