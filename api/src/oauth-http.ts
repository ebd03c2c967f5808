import type { IncomingMessage, ServerResponse } from 'node:http';
import OAuth2Server from '@node-oauth/oauth2-server';
import { API_SCOPES } from './domain/rules.ts';
import type { Services } from './context.ts';

/**
 * OAuth 2.1 over plain HTTP, beside /graphql (same origin as the PWA):
 *
 *   POST /oauth/token                          authorization_code (with PKCE) and refresh_token
 *                                              grants, run by @node-oauth/oauth2-server over
 *                                              services/apps.ts's model; RFC 6749 JSON answers
 *   POST /oauth/revoke                         RFC 7009 revocation by the app (access or refresh token)
 *   GET  /.well-known/oauth-authorization-server  RFC 8414 metadata
 *
 * GET /oauth/authorize is the PWA's consent page (web/src/routes/oauth/authorize), which calls
 * authorizationRequest / approveAuthorization over GraphQL with the user's own session.
 *
 * These endpoints are for apps: they never read the session cookie (a form post from another
 * site can act for nobody), take their credentials from the body or HTTP Basic, and allow any
 * origin without credentials (CORS), so browser apps using PKCE can call them.
 */
export function oauthHandler(services: Services, publicOrigins: string[], clientKeyOf: (req: IncomingMessage) => string) {
  const { apps } = services;
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    if (path === '/.well-known/oauth-authorization-server') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'invalid_request', error_description: 'Use GET.' }), true;
      const issuer = publicOrigins[0] ?? originOf(req);
      sendJson(res, 200, metadata(issuer), { 'cache-control': 'public, max-age=3600' });
      return true;
    }
    if (path !== '/oauth/token' && path !== '/oauth/revoke') return false;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'access-control-max-age': '600' });
      res.end();
      return true;
    }
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request', error_description: 'Use POST.' }, { allow: 'POST, OPTIONS' }), true;
    try {
      // Codes, client secrets and refresh tokens are long random strings, but a client guessing
      // them (or flooding the grant's database work) is slowed down all the same, across instances.
      const retryAfterMs = await services.limits.oauthEndpoint(clientKeyOf(req));
      if (retryAfterMs !== null) {
        const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
        return (
          sendJson(res, 429, { error: 'too_many_requests', error_description: `Too many requests: try again in ${seconds} s.` }, { 'retry-after': String(seconds) }),
          true
        );
      }
      const body = await readForm(req);
      if (body === null)
        return sendJson(res, 400, { error: 'invalid_request', error_description: 'Send application/x-www-form-urlencoded, at most 10 kB.' }), true;
      if (path === '/oauth/token') await token(req, res, body);
      else await revoke(req, res, body);
    } catch (error) {
      console.error('[oauth]', error);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: 'Please try again.' });
      else res.destroy();
    }
    return true;
  };

  async function token(req: IncomingMessage, res: ServerResponse, body: Record<string, string>) {
    const request = new OAuth2Server.Request({ method: 'POST', headers: plainHeaders(req), query: {}, body });
    const response = new OAuth2Server.Response({ headers: {} });
    try {
      await apps.oauth.token(request, response);
    } catch (error) {
      if (!(error instanceof OAuth2Server.OAuthError)) throw error;
      // The library has written the RFC 6749 error into `response` (status and body).
      if (error.name === 'server_error') console.error('[oauth] token', error);
    }
    sendJson(res, response.status ?? 200, response.body, response.headers as Record<string, string>);
  }

  async function revoke(req: IncomingMessage, res: ServerResponse, body: Record<string, string>) {
    const basic = basicCredentials(req.headers.authorization);
    const clientId = basic?.id ?? body.client_id;
    const clientSecret = basic?.secret ?? body.client_secret;
    const app = clientId ? await apps.authenticateClient(clientId, clientSecret) : null;
    if (!app) return sendJson(res, 401, { error: 'invalid_client', error_description: 'Unknown client or wrong secret.' }, basic ? { 'www-authenticate': 'Basic realm="Spaces"' } : {});
    if (!body.token) return sendJson(res, 400, { error: 'invalid_request', error_description: 'Missing parameter: `token`' });
    // RFC 7009 §2.2: 200 whether or not the token was valid (nothing to learn from the answer).
    await apps.revokeForClient(app.id, body.token);
    sendJson(res, 200, {});
  }
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, content-type',
  'access-control-allow-methods': 'POST, OPTIONS',
};

function metadata(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic'],
    scopes_supported: [...API_SCOPES],
    service_documentation: `${issuer}/docs/api`,
  };
}

const FORM_MAX_BYTES = 10_000;

/** The form body, or null when it is not a form or is too large. */
async function readForm(req: IncomingMessage): Promise<Record<string, string> | null> {
  const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return null;
  if (Number(req.headers['content-length'] ?? 0) > FORM_MAX_BYTES) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > FORM_MAX_BYTES) return null;
    chunks.push(chunk);
  }
  const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const form: Record<string, string> = {};
  for (const [key, value] of params) {
    // RFC 6749 §3.2: parameters must not be repeated; the library then sees none of them.
    if (key in form) return null;
    form[key] = value;
  }
  return form;
}

function plainHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[key] = value;
  // type-is (the library's content-type check) wants to see that there was a body.
  headers['content-length'] ??= '1';
  return headers;
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | null {
  const match = header && /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  // RFC 6749 §2.3.1: both are form-urlencoded before being joined.
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}

function originOf(req: IncomingMessage): string {
  const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}`;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, {
    ...CORS,
    ...headers,
    'content-type': 'application/json',
    'cache-control': headers['cache-control'] ?? 'no-store',
    pragma: 'no-cache',
  });
  res.end(JSON.stringify(body));
}
