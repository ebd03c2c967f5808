import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../support/app.ts';
import { must, Q, users, type U } from '../support/spaces.ts';

/**
 * Trusted documents (issue 13): the PWA (graphql-client-name: spaces-web) sends only the sha256
 * of the operations in api/trusted-documents/spaces-web.json, generated from its documents at
 * build time; the API accepts nothing else from it. Other clients may send full documents (the
 * cost limit applies to them) or the known hashes. Over HTTP and graphql-ws alike.
 */

interface ManifestOperation {
  id: string;
  name: string;
  type: string;
  body: string;
}
const manifest = JSON.parse(readFileSync(new URL('../../../api/trusted-documents/spaces-web.json', import.meta.url), 'utf8')) as {
  operations: ManifestOperation[];
};
const operation = (name: string) => {
  const found = manifest.operations.find((o) => o.name === name);
  if (!found) throw new Error(`${name} is not in the PWA's manifest`);
  return found;
};
const PWA = { 'graphql-client-name': 'spaces-web', 'graphql-client-version': 'test' };
const persisted = (id: string) => ({ persistedQuery: { version: 1, sha256Hash: id } });
const UNKNOWN_HASH = 'ab'.repeat(32);

/** A query whose cost (graphql-armor: lists multiplied by `first`) is far past the limit of 15,000. */
const EXPENSIVE = `query Expensive {
  liveSpaces(first: 100) { edges { node { participants(first: 100) { edges { node { user { id handle displayName } } } } } } }
}`;

let t: TestApp;
let base: string;
let host: U;
let listener: U;
beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.start();
  const [a, b] = await users(t, 2, 'td');
  host = a!;
  listener = b!;
});
afterAll(async () => {
  await t?.close();
});

interface Result {
  status: number;
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** One POST to /graphql through the app, with any body (t.gql always sends a query). */
async function post(body: Record<string, unknown>, headers: Record<string, string> = {}, token?: string): Promise<Result> {
  const response = await t.app.yoga.fetch('http://spaces.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, ...((await response.json()) as object) };
}
const codesOf = (r: Result) => (r.errors ?? []).map((e) => e.extensions?.code);

describe('over HTTP', () => {
  it("accepts the PWA's hash from spaces-web and runs that document", async () => {
    const viewer = operation('Viewer');
    const r = await post({ extensions: persisted(viewer.id), variables: {} }, PWA, host.token);
    expect(r.errors).toBeUndefined();
    expect(r.data?.viewer).toMatchObject({ id: host.id, handle: host.handle, isGuest: false });

    const profile = operation('Profile');
    const p = await post({ extensions: persisted(profile.id), variables: { handle: listener.handle } }, PWA, host.token);
    expect(p.errors).toBeUndefined();
    expect(p.data?.user).toMatchObject({ id: listener.id, viewerFollows: false });
  });

  it('runs mutations by hash too', async () => {
    const follow = operation('Follow');
    const r = await post({ extensions: persisted(follow.id), variables: { userId: listener.id } }, PWA, host.token);
    expect(r.errors).toBeUndefined();
    const p = await post({ extensions: persisted(operation('Profile').id), variables: { handle: listener.handle } }, PWA, host.token);
    expect(p.data?.user.viewerFollows).toBe(true);
  });

  it('answers an unknown hash from spaces-web with PERSISTED_QUERY_NOT_FOUND', async () => {
    const r = await post({ extensions: persisted(UNKNOWN_HASH) }, PWA, host.token);
    // 200 and Apollo's message, which persisted-query clients look for.
    expect(r.status).toBe(200);
    expect(r.errors?.[0]?.message).toBe('PersistedQueryNotFound');
    expect(r.data ?? null).toBeNull();
    expect(codesOf(r)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });

  it('refuses a full document from spaces-web, even the text of a trusted one', async () => {
    for (const body of [
      { query: 'query { viewer { id } }' },
      { query: operation('Viewer').body },
      { query: operation('Viewer').body, extensions: persisted(operation('Viewer').id) },
    ]) {
      const r = await post(body, PWA, host.token);
      expect(r.status).toBe(403);
      expect(r.data ?? null).toBeNull();
      expect(codesOf(r)).toEqual(['FORBIDDEN']);
      expect(r.errors?.[0]?.message).toMatch(/only the hashes of its trusted documents/);
    }
  });

  it("accepts a third party's full document, and the PWA's hashes from it too", async () => {
    const full = await post({ query: 'query { viewer { id handle } }' }, {}, host.token);
    expect(full.errors).toBeUndefined();
    expect(full.data?.viewer).toEqual({ id: host.id, handle: host.handle });

    const named = await post({ query: 'query { viewer { id } }' }, { 'graphql-client-name': 'bot-of-someone' }, host.token);
    expect(named.data?.viewer).toEqual({ id: host.id });

    const byHash = await post({ extensions: persisted(operation('Viewer').id) }, {}, host.token);
    expect(byHash.data?.viewer).toMatchObject({ id: host.id });

    // Neither a query nor a hash: the request is malformed.
    const empty = await post({ variables: {} }, {}, host.token);
    expect(codesOf(empty)).toEqual(['BAD_USER_INPUT']);
  });

  it('lets a third-party web app name itself in a cross-origin request (CORS preflight)', async () => {
    const preflight = await fetch(`${base}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://bot.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,graphql-client-name,graphql-client-version',
      },
    });
    expect(preflight.status).toBeLessThan(300);
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'graphql-client-name', 'graphql-client-version']));
    // Bearer tokens only: no cookies cross origins.
    expect(preflight.headers.get('access-control-allow-credentials')).not.toBe('true');
  });

  it("still applies the cost limit to a third party's expensive full document", async () => {
    const r = await post({ query: EXPENSIVE }, {}, host.token);
    expect(r.data ?? null).toBeNull();
    expect(codesOf(r)).toEqual(['BAD_USER_INPUT']);
    expect(r.errors?.[0]?.message).toMatch(/cost limit of 15000 exceeded/i);
    // The same shape within the limit runs.
    const cheap = await post({ query: EXPENSIVE.replaceAll('100', '5') }, {}, host.token);
    expect(cheap.errors).toBeUndefined();
  });
});

describe('over graphql-ws', () => {
  // The socket stays open between the operations one after another (closing lazily at once, a
  // new subscribe could wait on the closing socket).
  function socket(connectionParams: Record<string, unknown>): Client {
    return createClient({ url: `${base.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazyCloseTimeout: 10_000 });
  }
  /** The first result (or error) of one operation. */
  function first(client: Client, payload: { query: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown> }) {
    return new Promise<{ result?: FormattedExecutionResult<Record<string, any>, unknown>; error?: unknown }>((resolve) => {
      const stop = client.subscribe(payload, {
        next: (result) => {
          stop();
          resolve({ result });
        },
        error: (error) => resolve({ error }),
        complete: () => {},
      });
    });
  }
  const codesOfError = (error: unknown) => (error as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code);

  it('delivers a subscription by hash to spaces-web', async () => {
    const { createSpace } = await must(t, Q.create, { input: { title: 'Trusted', speakerPolicy: 'EVERYONE' } }, host);
    const spaceId = createSpace.id as string;
    const client = socket({ ...PWA, authToken: host.token });
    try {
      const events: Record<string, any>[] = [];
      const errors: unknown[] = [];
      const stop = client.subscribe(
        { query: '', variables: { spaceId }, extensions: persisted(operation('SpaceEvents').id) },
        { next: (r) => (r.data ? events.push(r.data) : errors.push(r.errors)), error: (e) => errors.push(e), complete: () => {} },
      );
      // graphql-ws subscribes asynchronously: join until the subscriber sees it.
      const deadline = Date.now() + 5_000;
      await new Promise((r) => setTimeout(r, 200));
      await must(t, Q.join, { s: spaceId }, listener);
      while (!events.some((e) => e.spaceEvents.kind === 'PARTICIPANT_JOINED') && Date.now() < deadline && errors.length === 0)
        await new Promise((r) => setTimeout(r, 50));
      stop();
      expect(errors).toEqual([]);
      const joined = events.find((e) => e.spaceEvents.kind === 'PARTICIPANT_JOINED');
      // The fields of the trusted document (ParticipantFields), not of some other query.
      expect(joined?.spaceEvents.participant).toMatchObject({ role: 'LISTENER', present: expect.any(Boolean), user: { id: listener.id } });
    } finally {
      await client.dispose();
    }
  });

  it('runs a query by hash over the socket, and refuses what spaces-web may not send', async () => {
    const pwa = socket({ ...PWA, authToken: host.token });
    const other = socket({ authToken: host.token });
    try {
      const viewer = await first(pwa, { query: '', extensions: persisted(operation('Viewer').id) });
      expect(viewer.result?.data?.viewer).toMatchObject({ id: host.id });

      const unknown = await first(pwa, { query: '', extensions: persisted(UNKNOWN_HASH) });
      expect(codesOfError(unknown.error)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);

      const full = await first(pwa, { query: 'query { viewer { id } }' });
      expect(full.error).toEqual([{ message: expect.stringMatching(/only the hashes/), extensions: { code: 'FORBIDDEN' } }]);

      // Another client: a full document, or the hash.
      const thirdParty = await first(other, { query: 'query { viewer { handle } }' });
      expect(thirdParty.result?.data?.viewer).toEqual({ handle: host.handle });
      const thirdPartyHash = await first(other, { query: '', extensions: persisted(operation('Viewer').id) });
      expect(thirdPartyHash.result?.data?.viewer).toMatchObject({ id: host.id });
      const expensive = await first(other, { query: EXPENSIVE });
      expect(codesOfError(expensive.error)).toEqual(['BAD_USER_INPUT']);
    } finally {
      await pwa.dispose();
      await other.dispose();
    }
  });
});
