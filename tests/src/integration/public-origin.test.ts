import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { handle, startTestApp, type TestApp } from '../support/app.ts';
import { subscribe, wsClient } from '../support/ws.ts';

/**
 * The API behind a TLS-terminating reverse proxy (docs/deploy.md), as the proxy hands requests
 * over: plain HTTP on loopback, the public Host, X-Forwarded-Proto https, and the browser's
 * Origin https://spaces.example.org. The proxy itself (Caddy, nginx) is not run here.
 *
 * With PUBLIC_ORIGIN=https://spaces.example.org the PWA signs up, gets a Secure cookie and uses
 * it over HTTP and WebSocket; without it the API sees http://spaces.example.org as its own
 * origin, so the browser's https Origin looks cross-site and the sign-up is refused.
 */
const PUBLIC = 'https://spaces.example.org';
const SIGN_UP = `mutation($input: SignUpInput!) { signUp(input: $input) { user { handle } } }`;

let t: TestApp | undefined;
let base = '';
let plainDb: DbHandle | undefined;
let plain: App | undefined;
let plainBase = '';

beforeAll(async () => {
  t = await startTestApp({ publicOrigins: [PUBLIC] });
  base = await t.app.start();
  plainDb = await createDb({ url: t.databaseUrl, migrate: false });
  plain = await buildApp({ database: plainDb, serveWeb: false, port: 0, host: '127.0.0.1', publicOrigins: [], presenceGraceMs: 600_000 }); // as startTestApp's
  plainBase = await plain.start();
});
afterAll(async () => {
  await plain?.stop();
  await plainDb?.close();
  await t?.close();
});

/** A POST /graphql the way a proxy forwards the browser's request (a header given as '' is left out). */
function viaProxy(target: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const body = JSON.stringify({ query, variables });
  const url = new URL('/graphql', target);
  return new Promise<{ status: number; setCookie: string[]; json: any }>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: Object.fromEntries(
          Object.entries({
            host: 'spaces.example.org',
            'x-forwarded-proto': 'https',
            'x-forwarded-for': '203.0.113.9',
            origin: PUBLIC,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            ...headers,
          }).filter(([, v]) => v !== ''),
        ),
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, setCookie: ([] as string[]).concat(res.headers['set-cookie'] ?? []), json: JSON.parse(text) });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('behind a TLS proxy', () => {
  it('with PUBLIC_ORIGIN: the PWA signs up, gets a Secure cookie, and the cookie works over HTTP and WebSocket', async () => {
    const h = handle('po');
    const r = await viaProxy(base, SIGN_UP, { input: { handle: h, displayName: 'P', password: 'correct horse battery' } });
    expect(r.json.errors).toBeUndefined();
    const setCookie = r.setCookie.find((c) => c.startsWith('spaces_session='))!;
    expect(setCookie).toMatch(/;\s*Secure(;|$)/);
    const cookie = setCookie.split(';')[0]!;

    const viewer = await viaProxy(base, '{ viewer { handle } }', {}, { cookie });
    expect(viewer.json.data.viewer.handle).toBe(h);
    // Another site's page sending the cookie along is still refused.
    const evil = await viaProxy(base, '{ viewer { handle } }', {}, { cookie, origin: 'https://evil.example' });
    expect(evil.status).toBe(403);

    const ws = wsClient(base, { headers: { cookie, origin: PUBLIC } });
    const sub = subscribe<any>(ws, `subscription { spacesBar { id } }`, {}, (d) => d.spacesBar);
    await expect.poll(() => sub.events.length + sub.errors.length).toBeGreaterThan(0);
    expect(sub.errors).toEqual([]);
    await ws.dispose();
  });

  it('without PUBLIC_ORIGIN the https page looks cross-site: sign-up refused, and no Secure cookie', async () => {
    const r = await viaProxy(plainBase, SIGN_UP, { input: { handle: handle('pn'), displayName: 'N', password: 'correct horse battery' } });
    expect(r.json.errors?.map((e: any) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(r.setCookie).toEqual([]);
    // A client that sends no Origin (a third party's server) does not depend on it.
    const direct = await viaProxy(
      plainBase,
      SIGN_UP,
      { input: { handle: handle('pn'), displayName: 'N', password: 'correct horse battery' } },
      { origin: '' },
    );
    expect(direct.json.errors).toBeUndefined();
    expect(direct.setCookie.find((c) => c.startsWith('spaces_session='))).not.toMatch(/Secure/);
  });
});
