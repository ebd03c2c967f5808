const BASE = 'http://spaces.invalid';

/**
 * A same-origin path to go to after signing in ("/" for anything else, so no open redirect):
 * absolute and protocol-relative URLs are refused, and so is anything a browser would read as
 * another origin once it drops tabs and newlines or turns backslashes into slashes.
 */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  // Control characters and backslashes have no place in the app's own paths.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return '/';
  let url: URL;
  try {
    url = new URL(next, BASE);
  } catch {
    return '/';
  }
  if (url.origin !== BASE) return '/';
  return url.pathname + url.search + url.hash;
}

/** The sign-in (or sign-up) page, coming back to `path` afterwards. */
export function signInHref(path: string, page: 'signin' | 'signup' = 'signin'): string {
  const next = safeNext(path);
  return next === '/' ? `/${page}` : `/${page}?next=${encodeURIComponent(next)}`;
}
