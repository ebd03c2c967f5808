import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import { credentialsOf, isSameOrigin } from './plugins/cookies.ts';
import { AVATAR_MAX_BYTES } from './services/profiles.ts';
import { FLEET_PHOTO_MAX_BYTES } from './services/fleets.ts';
import { tooLarge } from './services/images.ts';
import { isMediaKey } from './services/media-storage.ts';
import type { Services } from './context.ts';
import { MEDIA_UPLOAD_SCOPES, missingScopeMessage } from './domain/rules.ts';

/**
 * Media over plain HTTP, beside /graphql:
 *
 *   GET/HEAD /media/<key>        an uploaded file (avatars, fleet photos), cacheable forever (keys are
 *                                never reused); a fleet photo's key carries its fleet's expiry, and
 *                                from then on it is a 404, whether or not the sweeper ran
 *   POST     /media/avatar       the viewer's new avatar: the image itself is the body
 *   POST     /media/fleet-photo  a photo for a fleet, the same way: answers a signed upload id
 *                                (an hour) that postFleet takes
 *
 * Why a small REST endpoint rather than GraphQL multipart uploads: the GraphQL endpoint keeps
 * its 100 KB body limit and its JSON-only CSRF rule (useCsrf) untouched, the upload is read as a
 * stream and cut off at the size limit instead of being buffered by a multipart parser, and the
 * CSRF argument stays simple. A browser sends a cross-site POST without a CORS preflight only
 * with a form's content types (multipart/form-data, x-www-form-urlencoded, text/plain); this
 * endpoint takes image/* or application/octet-stream only, which always needs a preflight, and
 * the preflight allows no cookies. On top of that, like useCsrf, a cookie-authenticated upload
 * must come from our own origin. Third-party clients use their bearer token from any origin.
 */
export function mediaHandler(services: Services, publicOrigins: string[]) {
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    try {
      if (path === '/media/avatar') return await upload(avatarRoute(services), services, publicOrigins, req, res);
      if (path === '/media/fleet-photo') return await upload(fleetPhotoRoute(services), services, publicOrigins, req, res);
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'BAD_USER_INPUT', 'Use GET.', { allow: 'GET, HEAD' });
      const key = path.slice('/media/'.length);
      const body = isMediaKey(key) && services.fleets.mayServe(key) ? await services.profiles.media.get(key) : null;
      if (!body) {
        res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        return void res.end('Not found');
      }
      res.writeHead(200, {
        'content-type': 'image/webp',
        'content-length': String(body.byteLength),
        // A key names one file forever (a new avatar gets a new key); a fleet photo until it expires.
        'cache-control': `public, max-age=${services.fleets.cacheSecondsOf(key) ?? 31536000}, immutable`,
        etag: `"${key.replace(/[^A-Za-z0-9]/g, '')}"`,
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; sandbox",
        // Third-party clients on other origins may show avatars.
        'cross-origin-resource-policy': 'cross-origin',
        'access-control-allow-origin': '*',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (error) {
      if (error instanceof GraphQLError && typeof error.extensions.code === 'string')
        return sendError(res, statusOf(error), error.extensions.code, error.message, {}, error.extensions);
      console.error('[media]', error);
      if (!res.headersSent) sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Could not store the image. Please try again.');
      else res.destroy();
    }
  };
}

const UPLOAD_TYPES = /^(image\/[a-z0-9.+-]+|application\/octet-stream)$/;

interface UploadRoute {
  /** Its path (the scope a token needs: MEDIA_UPLOAD_SCOPES). */
  path: '/media/avatar' | '/media/fleet-photo';
  /** The field named in errors. */
  field: string;
  maxBytes: number;
  /** Stores the upload for the authenticated user; returns the `data` of the answer. */
  store(userId: string, body: Uint8Array): Promise<Record<string, unknown>>;
}

const avatarRoute = (services: Services): UploadRoute => ({
  path: '/media/avatar',
  field: 'avatar',
  maxBytes: AVATAR_MAX_BYTES,
  store: async (userId, body) => {
    const user = await services.profiles.setAvatar(userId, body);
    return { avatarUrl: services.profiles.avatarUrl(user, 'LARGE'), avatarSmallUrl: services.profiles.avatarUrl(user, 'SMALL') };
  },
});

const fleetPhotoRoute = (services: Services): UploadRoute => ({
  path: '/media/fleet-photo',
  field: 'photo',
  maxBytes: FLEET_PHOTO_MAX_BYTES,
  store: async (userId, body) => {
    const { uploadId, expiresAt } = await services.fleets.uploadPhoto(userId, body);
    return { uploadId, expiresAt: expiresAt.toISOString() };
  },
});

async function upload(route: UploadRoute, services: Services, publicOrigins: string[], req: IncomingMessage, res: ServerResponse) {
  const cors = {
    'access-control-allow-origin': '*',
    'access-control-allow-headers': 'authorization, content-type',
    'access-control-allow-methods': 'POST',
  };
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { ...cors, 'access-control-max-age': '600' });
    return void res.end();
  }
  if (req.method !== 'POST') return sendError(res, 405, 'BAD_USER_INPUT', 'Upload with POST.', { allow: 'POST, OPTIONS' });
  const headers = headersOf(req);
  const type = headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!UPLOAD_TYPES.test(type))
    return sendError(res, 415, 'BAD_USER_INPUT', `${route.field}: send the image itself as the body, with an image/* Content-Type (no forms).`, cors, {
      field: route.field,
      reason: 'NOT_AN_IMAGE',
    });
  const credentials = credentialsOf(headers);
  if (credentials?.via === 'cookie' && !isSameOrigin(headers, publicOrigins))
    return sendError(res, 403, 'FORBIDDEN', 'Cross-site request refused.', cors);
  const auth = credentials ? await services.accounts.authenticate(credentials.token) : null;
  if (!auth)
    return sendError(res, 401, 'UNAUTHENTICATED', credentials ? 'Invalid or expired token.' : 'Sign in first.', cors);
  // Listener-only guests upload nothing (as every mutation they are not allowed: useGuestLimits).
  if (auth.user.isGuest)
    return sendError(res, 403, 'FORBIDDEN', 'Guests can only listen: sign in or create an account to do that.', cors, { reason: 'GUEST' });
  // A token needs the upload's scope (domain/rules.ts MEDIA_UPLOAD_SCOPES) and counts against its limits.
  if (auth.scopes !== null) {
    const scope = MEDIA_UPLOAD_SCOPES[route.path]!;
    if (!auth.scopes.includes(scope))
      return sendError(res, 403, 'FORBIDDEN', missingScopeMessage(scope), cors, { requiredScope: scope });
    await services.limits.tokenRequest(auth.sessionId, auth.appId);
  }
  const declared = Number(headers.get('content-length') ?? NaN);
  if (declared > route.maxBytes) throw tooLarge(route);
  const body = await readBody(req, route);
  const data = await route.store(auth.user.id, body);
  res.writeHead(200, { ...cors, 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ data }));
}

/** The body, or TOO_LARGE as soon as it passes the route's limit (the rest is not read). */
function readBody(req: IncomingMessage, route: UploadRoute): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > route.maxBytes) {
        req.pause();
        reject(tooLarge(route));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function statusOf(error: GraphQLError): number {
  const { code, reason } = error.extensions as { code: string; reason?: string };
  if (code === 'BAD_USER_INPUT') return reason === 'TOO_LARGE' || reason === 'TOO_MANY_PIXELS' ? 413 : 422;
  return { UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409, RATE_LIMITED: 429 }[code] ?? 400;
}

function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  extensions: Record<string, unknown> = {},
) {
  const retryAfterMs = typeof extensions.retryAfterMs === 'number' ? extensions.retryAfterMs : undefined;
  res.writeHead(status, {
    // Errors carry nothing private: any origin may read them (third-party clients uploading).
    'access-control-allow-origin': '*',
    ...headers,
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...(retryAfterMs ? { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) } : {}),
    // The rest of a refused upload is not read: close instead of keeping the connection alive.
    ...(status === 413 ? { connection: 'close' } : {}),
  });
  res.end(JSON.stringify({ errors: [{ message, extensions: { ...extensions, code } }] }));
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(key, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(key, v);
  }
  return headers;
}
