import { getOperationAST, GraphQLError, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { credentialsOf, isSameOrigin } from './cookies.ts';

const JSON_TYPES = new Set(['application/json', 'application/graphql-response+json']);

/** A browser said the request comes from another site (Origin, or Sec-Fetch-Site). */
function isCrossSite(headers: Headers, allowedOrigins: string[], requestOrigin: string): boolean {
  const origin = headers.get('origin');
  if (origin && origin !== 'null') return !allowedOrigins.includes(origin) && origin !== requestOrigin;
  if (origin === 'null') return true;
  const site = headers.get('sec-fetch-site');
  return site === 'cross-site' || site === 'same-site';
}

function refuse(fetchAPI: { Response: typeof Response }, status: number, code: string, message: string) {
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

/**
 * Requests another site can make a browser send must not act for anyone:
 * - POST bodies are JSON only. Forms and text/plain are "simple" requests a browser sends
 *   cross-site without asking first (login CSRF with a form posting signIn).
 * - Cookie sessions are for the PWA on our own origin: a request authenticated by the cookie
 *   must come from that origin (Origin or Sec-Fetch-Site), or it is refused before anything runs.
 * - A mutation without a bearer token from a page of another site is refused too (signIn and
 *   signUp set the cookie). A bearer token is not ambient: third-party apps on any origin use
 *   their own tokens, and read-only queries stay open to every origin.
 * GET can only run queries (yoga refuses mutations over GET), so it is not checked.
 */
export function useCsrf(allowedOrigins: string[]): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method === 'GET' || request.method === 'OPTIONS') return;
      const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
      if (!JSON_TYPES.has(type))
        return endResponse(refuse(fetchAPI, 415, 'BAD_USER_INPUT', 'Send GraphQL requests as application/json.'));
      const credentials = credentialsOf(request.headers);
      if (credentials?.via !== 'cookie' || isSameOrigin(request.headers, allowedOrigins, new URL(request.url).origin)) return;
      endResponse(refuse(fetchAPI, 403, 'FORBIDDEN', 'Cross-site request refused.'));
    },
    onExecute({ args, setResultAndStopExecution }) {
      const request = (args.contextValue as { request?: Request }).request;
      if (!request || request.method === 'GET') return;
      const operation = getOperationAST(args.document as DocumentNode, args.operationName);
      if (operation?.operation !== 'mutation' || credentialsOf(request.headers)?.via === 'bearer') return;
      if (isCrossSite(request.headers, allowedOrigins, new URL(request.url).origin))
        setResultAndStopExecution({
          errors: [new GraphQLError('Cross-site mutation refused: use a bearer token.', { extensions: { code: 'FORBIDDEN' } })],
        });
    },
  };
}
