import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startTestApp, type TestApp } from '../support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

describe('malformed and oversized requests', () => {
  it('answers a syntax error with BAD_USER_INPUT, not a crash', async () => {
    const r = await t.gql('{ viewer { id ');
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers an unknown field with BAD_USER_INPUT and no field suggestions', async () => {
    const r = await t.gql('{ viewr { id } }');
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    expect(r.errors![0]!.message).not.toContain('Did you mean');
  });

  it('rejects wrongly typed variables with BAD_USER_INPUT', async () => {
    const r = await t.gql('query($h: String!) { user(handle: $h) { id } }', { h: 42 });
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
  });

  it('limits query depth', async () => {
    let inner = 'id';
    for (let i = 0; i < 4; i++) inner = `followers { edges { node { ${inner} } } }`;
    const r = await t.gql(`{ viewer { ${inner} } }`);
    expect(codes(r)).toContain('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toMatch(/depth/i);
  });

  it('limits aliases', async () => {
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: viewer { id }`).join(' ');
    const r = await t.gql(`{ ${aliases} }`);
    expect(codes(r)).toContain('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toMatch(/alias/i);
  });

  it('refuses bodies over the limit with 413', async () => {
    const r = await t.gql(`{ viewer { id } } # ${'x'.repeat(200_000)}`);
    expect(r.status).toBe(413);
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
  });

  it('lets an ordinary Relay page query through', async () => {
    const r = await t.gql(`query($h: String!) { user(handle: $h) {
      id handle displayName followerCount followingCount viewerFollows followsViewer
      followers(first: 50) { edges { cursor node { id handle displayName viewerFollows } } pageInfo { hasNextPage endCursor } }
      following(first: 50) { edges { cursor node { id handle displayName viewerFollows } } pageInfo { hasNextPage endCursor } }
    } liveSpaces(first: 20) { edges { cursor node { id title participantCount listenerCount host { handle }
      stage { id role muted speaking user { handle displayName } } } } pageInfo { hasNextPage endCursor } } }`, { h: 'nobody' });
    expect(r.errors).toBeUndefined();
  });

  it('answers odd but well-typed input without touching the database wrongly', async () => {
    const r = await t.gql(`query($h: String!) { user(handle: $h) { id } }`, { h: '\u0000' });
    expect(r.errors).toBeUndefined();
    expect(r.data!.user).toBeNull();
    const s = await t.gql(`mutation { signIn(input: { handle: "\\u0000x", password: "whatever1" }) { token } }`);
    expect(codes(s)).toEqual(['UNAUTHENTICATED']);
  });

  it('masks unexpected errors (here: the database is gone) without stack traces or SQL', async () => {
    const broken = await startTestApp();
    // Close the pool under the app: every query now fails inside the server.
    await (broken.app.services.db as unknown as { $client: { end(): Promise<void> } }).$client.end();
    const r = await broken.gql(`query($h: String!) { user(handle: $h) { id } }`, { h: 'someone' });
    expect(codes(r)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(r.errors![0]!.message).toBe('Unexpected error.');
    expect(JSON.stringify(r)).not.toMatch(/select|users|postgres|\.ts:\d+/i);
    await broken.close().catch(() => {});
  });
});

describe('over a real socket', () => {
  it('refuses a streamed POST body without Content-Length (411)', async () => {
    const base = await t.app.start();
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write('{"query":"{ viewer { id } }"');
      req.end('}');
    });
    expect(status).toBe(411);
  });
});

describe('health', () => {
  it('reports the database as reachable', async () => {
    const base = await t.app.start();
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: true, voice: null });
  });
});
