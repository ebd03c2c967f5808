export const SESSION_COOKIE = 'spaces_session';

export function readCookie(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

export function sessionCookie(token: string | null, secure: boolean, maxAgeSeconds: number): string {
  const attrs = ['Path=/', 'HttpOnly', 'SameSite=Lax', ...(secure ? ['Secure'] : [])];
  return token === null
    ? `${SESSION_COOKIE}=; Max-Age=0; ${attrs.join('; ')}`
    : `${SESSION_COOKIE}=${encodeURIComponent(token)}; Max-Age=${maxAgeSeconds}; ${attrs.join('; ')}`;
}

/** The session token of a request: bearer header first, then the cookie. */
export function credentialsOf(headers: Headers): { token: string; via: 'bearer' | 'cookie' } | null {
  const auth = headers.get('authorization');
  if (auth) {
    const match = /^Bearer\s+(\S+)$/i.exec(auth);
    return match ? { token: match[1]!, via: 'bearer' } : { token: '', via: 'bearer' };
  }
  const cookie = readCookie(headers.get('cookie'), SESSION_COOKIE);
  return cookie ? { token: cookie, via: 'cookie' } : null;
}

/** Same-origin check for cookie-authenticated requests (CSRF and cross-site WebSocket hijacking). */
export function isSameOrigin(headers: Headers, allowedOrigins: string[], requestOrigin?: string): boolean {
  const origin = headers.get('origin');
  if (origin) return allowedOrigins.includes(origin) || origin === (requestOrigin ?? selfOrigin(headers));
  const site = headers.get('sec-fetch-site');
  return site === 'same-origin' || site === 'none';
}

function selfOrigin(headers: Headers): string | null {
  const host = headers.get('host');
  if (!host) return null;
  const proto = headers.get('x-forwarded-proto') ?? 'http';
  return `${proto}://${host}`;
}
