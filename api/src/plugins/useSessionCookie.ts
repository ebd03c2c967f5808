import type { Plugin } from 'graphql-yoga';
import { sessionCookie } from './cookies.ts';

/**
 * Lets resolvers (signIn, signUp, signOut) set or clear the session cookie: `setFor(request)`
 * queues a Set-Cookie for that request, the plugin adds it when the response is built.
 */
export function useSessionCookie(options: { secure: boolean; maxAgeSeconds: number }) {
  const pending = new WeakMap<Request, string[]>();
  const plugin: Plugin = {
    onResponse({ request, response }) {
      for (const cookie of pending.get(request) ?? []) response.headers.append('set-cookie', cookie);
    },
  };
  const setFor = (request: Request) => (token: string | null, maxAgeSeconds = options.maxAgeSeconds) => {
    const list = pending.get(request) ?? [];
    list.push(sessionCookie(token, options.secure, maxAgeSeconds));
    pending.set(request, list);
  };
  return { plugin, setFor };
}
