import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

interface Page {
  html: string;
  gzipped: Buffer;
  contentSecurityPolicy: string;
}

/**
 * GraphiQL at GET /graphql (a browser asking for HTML), rendered from the installed
 * @graphql-yoga/render-graphiql instead of yoga's default page, which loads GraphiQL's scripts,
 * styles and editor workers from unpkg.com: the page works offline and behind firewalls, and no
 * third party's script runs on our origin, next to the session cookie.
 *
 * The page is one 9 MB HTML document with its script inline (the editor's workers start from blob:
 * URLs made from strings in it). It is rendered once, on the first request (the package is
 * imported then, not at start), then served gzipped (about 2 MB) to clients that accept it, under a
 * strict Content-Security-Policy: only that exact inline script runs (its sha256), it talks only to
 * this origin (HTTP and WebSocket), loads nothing from elsewhere, and cannot be framed.
 */
export function graphiqlPage(endpoint = '/graphql') {
  let page: Promise<Page> | null = null;
  let ready: Page | null = null;

  const build = (options: GraphiQLOptions) =>
    (page ??= (async () => {
      const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
      const html = renderGraphiQL(options);
      const scriptHashes = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
        ([, script]) => `'sha256-${createHash('sha256').update(script!).digest('base64')}'`,
      );
      ready = {
        html,
        gzipped: gzipSync(html),
        contentSecurityPolicy: [
          "default-src 'none'",
          `script-src ${scriptHashes.join(' ')}`,
          // The editor (Monaco) sets styles at run time.
          "style-src 'unsafe-inline'",
          "img-src 'self' data:",
          "font-src 'self' data:",
          // 'self' covers ws:/wss: to this host (CSP 3).
          "connect-src 'self'",
          'worker-src blob:',
          "base-uri 'none'",
          "form-action 'none'",
          "frame-ancestors 'none'",
        ].join('; '),
      };
      return ready;
    })());

  /** Replaces yoga's GraphiQL response with the cached page, its CSP and (when accepted) gzip. */
  const plugin: Plugin = {
    onResponse({ request, response, setResponse, fetchAPI }) {
      if (!ready || request.method !== 'GET' || !response.headers.get('content-type')?.startsWith('text/html')) return;
      if (new URL(request.url).pathname.replace(/\/$/, '') !== endpoint) return;
      const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
      const body = gzip ? ready.gzipped : ready.html;
      setResponse(
        new fetchAPI.Response(body as BodyInit, {
          status: 200,
          headers: {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': ready.contentSecurityPolicy,
            'x-content-type-options': 'nosniff',
            'referrer-policy': 'no-referrer',
            'cache-control': 'no-cache',
            vary: 'accept, accept-encoding',
            ...(gzip ? { 'content-encoding': 'gzip' } : {}),
          },
        }),
      );
    },
  };

  return { render: async (options: GraphiQLOptions) => (await build(options)).html, plugin };
}
