import type { Plugin } from 'graphql-yoga';
import { credentialsOf, isSameOrigin } from './cookies.ts';

/**
 * Cookie sessions are for the PWA on our own origin. A request that would be authenticated by
 * the cookie alone must come from that origin (Origin or Sec-Fetch-Site), or it is refused
 * before anything runs. Bearer-token requests are not ambient and pass untouched; GET can only
 * run queries (yoga refuses mutations over GET), so it is not checked.
 */
export function useCsrf(allowedOrigins: string[]): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method === 'GET' || request.method === 'OPTIONS') return;
      const credentials = credentialsOf(request.headers);
      if (credentials?.via !== 'cookie' || isSameOrigin(request.headers, allowedOrigins, new URL(request.url).origin)) return;
      endResponse(
        new fetchAPI.Response(
          JSON.stringify({
            errors: [{ message: 'Cross-site request refused.', extensions: { code: 'FORBIDDEN' } }],
          }),
          { status: 403, headers: { 'content-type': 'application/json' } },
        ),
      );
    },
  };
}
