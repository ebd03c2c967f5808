/// <reference types="@sveltejs/kit" />
/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />

/**
 * Spaces' service worker: keeps the app shell (this build's JS/CSS and the static files) so the
 * app starts fast and shows an offline page without a network. It never touches /graphql (live
 * data and the session) nor anything but same-origin GETs.
 *
 * Updates: a new version installs beside the old one and waits; the page offers a reload and,
 * when the person agrees, posts SKIP_WAITING. Then this version takes over and the old caches go.
 */
import { build, files, version } from '$service-worker';

const sw = self as unknown as ServiceWorkerGlobalScope;

const CACHE = `spaces-${version}`;
const OFFLINE_URL = '/offline.html';
// The emoji font's subsets (3.8 MB) are left to the HTTP cache (immutable names): a page fetches
// only the few it shows, and precaching all of them would cost every install that much.
const SHELL = [...build.filter((f) => !f.endsWith('.woff2')), ...files.filter((f) => !f.endsWith('.DS_Store'))];
const SHELL_SET = new Set(SHELL);

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(SHELL);
      if (!SHELL_SET.has(OFFLINE_URL)) await cache.add(OFFLINE_URL);
    })(),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== CACHE && key.startsWith('spaces-')) await caches.delete(key);
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('message', (event) => {
  if ((event.data as { type?: string } | null)?.type === 'SKIP_WAITING') void sw.skipWaiting();
});

sw.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;
  // Live data, the session and health checks always go to the network, untouched.
  if (url.pathname === '/graphql' || url.pathname.startsWith('/graphql/') || url.pathname === '/healthz') return;

  if (SHELL_SET.has(url.pathname)) {
    // Immutable build files and static files of this version: cache first.
    event.respondWith(
      (async () => (await caches.match(url.pathname, { cacheName: CACHE })) ?? fetch(request))(),
    );
    return;
  }

  if (request.mode === 'navigate') {
    // Pages: always fresh from the network; the offline page when there is none.
    event.respondWith(
      (async () => {
        try {
          return await fetch(request);
        } catch {
          return (
            (await caches.match(OFFLINE_URL, { cacheName: CACHE })) ??
            new Response('You are offline.', { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' } })
          );
        }
      })(),
    );
  }
  // Anything else (e.g. a file from an older build) goes to the network as usual.
});
