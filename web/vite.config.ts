import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

// `pnpm dev` talks to an API on API_URL (default: the API's default port 3000).
const api = process.env.API_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [sveltekit()],
  server: {
    proxy: {
      // Keep the Host header (no changeOrigin): the API checks Origin against it for cookie sessions.
      '/graphql': { target: api, ws: true },
    },
  },
  test: {
    include: ['src/**/*.{test,spec}.ts'],
    // A DOM environment compiles .svelte.ts modules for the client, where runes are reactive.
    environment: 'happy-dom',
    restoreMocks: true,
    reporters: ['default', 'json'],
    outputFile: { json: '../.reports/web.json' },
  },
});
