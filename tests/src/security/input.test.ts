import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startTestApp, type TestApp } from '../support/app.ts';
import { EVENTS, must, Q, users } from '../support/spaces.ts';
import { subscribe, wsClient } from '../support/ws.ts';

/**
 * Hostile input, as a client on the internet would send it: each case is answered with a
 * contract code, never a crash, a closed socket or a stored surprise.
 */
let t: TestApp;
let base: string;
beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.start();
});
afterAll(() => t?.close());

const post = (body: string, headers: Record<string, string>) =>
  fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers }, body });
const SIGN_IN = `mutation { signIn(input: { handle: "victim_1", password: "correct horse battery" }) { token } }`;

describe('login CSRF and content types', () => {
  beforeAll(async () => {
    await t.signUp('victim_1');
  });

  it('refuses a cross-site form POST of signIn: no session, no cookie', async () => {
    const res = await post(new URLSearchParams({ query: SIGN_IN }).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
      origin: 'https://evil.example',
    });
    expect(res.status).toBe(415);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('refuses text/plain and multipart bodies, whatever they hold', async () => {
    for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/graphql']) {
      const res = await post(JSON.stringify({ query: SIGN_IN }), { 'content-type': type });
      expect(res.status, type).toBe(415);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
  });

  it('refuses a cross-site JSON mutation without a bearer token, with or without a cookie', async () => {
    const sites: Record<string, string>[] = [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }];
    for (const headers of sites) {
      const res = await post(JSON.stringify({ query: SIGN_IN }), { 'content-type': 'application/json', ...headers });
      const body = (await res.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('FORBIDDEN');
      expect(res.headers.get('set-cookie')).toBeNull();
    }
  });

  it('lets the same origin, server-side clients, bearer tokens and cross-site reads through', async () => {
    const same = await post(JSON.stringify({ query: SIGN_IN }), { 'content-type': 'application/json', origin: base });
    expect(((await same.json()) as { data: { signIn: { token: string } } }).data.signIn.token).toBeTruthy();
    const server = await post(JSON.stringify({ query: SIGN_IN }), { 'content-type': 'application/json; charset=utf-8' });
    const { token } = ((await server.json()) as { data: { signIn: { token: string } } }).data.signIn;
    const thirdParty = await post(JSON.stringify({ query: `mutation { signOut }` }), {
      'content-type': 'application/json',
      origin: 'https://app.example',
      authorization: `Bearer ${token}`,
    });
    expect(((await thirdParty.json()) as { data: { signOut: boolean } }).data.signOut).toBe(true);
    const read = await post(JSON.stringify({ query: `{ liveSpaces(first: 1) { pageInfo { hasNextPage } } }` }), {
      'content-type': 'application/json',
      origin: 'https://app.example',
    });
    expect(((await read.json()) as { errors?: unknown }).errors).toBeUndefined();
  });
});

describe('request shapes outside GraphQL over HTTP', () => {
  const errorsOf = async (res: Response) => ((await res.json()) as { errors: { extensions: { code: string } }[] }).errors;

  it('answers a batched array with BAD_USER_INPUT', async () => {
    const res = await post(JSON.stringify([{ query: '{ viewer { id } }' }, { query: '{ viewer { id } }' }]), { 'content-type': 'application/json' });
    expect((await errorsOf(res)).map((e) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers a body that is not JSON with BAD_USER_INPUT', async () => {
    const res = await post('{"query": "{ viewer { id } }"', { 'content-type': 'application/json' });
    expect((await errorsOf(res)).map((e) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers a GET carrying a mutation with BAD_USER_INPUT', async () => {
    const res = await fetch(`${base}/graphql?query=${encodeURIComponent('mutation { signOut }')}`);
    expect((await errorsOf(res)).map((e) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers a JSON body without a query with BAD_USER_INPUT', async () => {
    for (const body of ['{}', '{"query": 42}', 'null', '"text"']) {
      const res = await post(body, { 'content-type': 'application/json' });
      expect((await errorsOf(res)).map((e) => e.extensions.code), body).toEqual(['BAD_USER_INPUT']);
    }
  });
});

describe('cursors', () => {
  const cursor = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');

  it('refuses well-shaped but crafted cursors with BAD_USER_INPUT before SQL', async () => {
    const [host] = await users(t, 1, 'cu');
    const s = (await must(t, Q.create, { input: { title: 'Cursors', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id;
    const crafted = {
      participants: [
        ['HOST', 'yesterday', '00000000-0000-0000-0000-000000000000'],
        ['ADMIN', '2026-01-01T00:00:00.000Z', '00000000-0000-0000-0000-000000000000'],
        ['HOST', '2026-01-01T00:00:00.000Z', "x' or 1=1 --"],
        ['HOST', '2026-13-45T99:00:00.000Z', '00000000-0000-0000-0000-000000000000'],
      ],
      followers: [['2026-01-01T00:00:00.000Z', 'not-a-uuid'], [12, '00000000-0000-0000-0000-000000000000'], ['2026-01-01T00:00:00.000Z']],
      live: [[1e20, '00000000-0000-0000-0000-000000000000'], [-1, '00000000-0000-0000-0000-000000000000'], ['5', '00000000-0000-0000-0000-000000000000'], [1.5, 'x']],
    };
    for (const parts of crafted.participants) {
      const r = await t.gql(`query($s: ID!, $a: String) { space(id: $s) { participants(first: 5, after: $a) { edges { cursor } } } }`, { s, a: cursor(parts) });
      expect(codes(r), JSON.stringify(parts)).toEqual(['BAD_USER_INPUT']);
    }
    for (const parts of crafted.followers) {
      const r = await t.gql(`query($h: String!, $a: String) { user(handle: $h) { followers(first: 5, after: $a) { edges { cursor } } } }`, { h: host!.handle, a: cursor(parts) });
      expect(codes(r), JSON.stringify(parts)).toEqual(['BAD_USER_INPUT']);
    }
    for (const parts of crafted.live) {
      const r = await t.gql(`query($a: String) { liveSpaces(first: 5, after: $a) { edges { cursor } } }`, { a: cursor(parts) });
      expect(codes(r), JSON.stringify(parts)).toEqual(['BAD_USER_INPUT']);
    }
    // Garbage and huge cursors too; the server's own cursors keep working.
    for (const a of ['%%%', 'x'.repeat(5000), cursor([{}, []])]) {
      const r = await t.gql(`query($a: String) { liveSpaces(first: 5, after: $a) { edges { cursor } } }`, { a });
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    }
    const page = await must(t, `query($s: ID!) { space(id: $s) { participants(first: 1) { pageInfo { endCursor } } } }`, { s });
    const next = await t.gql(`query($s: ID!, $a: String) { space(id: $s) { participants(first: 5, after: $a) { edges { cursor } } } }`, { s, a: page.space.participants.pageInfo.endCursor });
    expect(next.errors).toBeUndefined();
  });
});

describe('user text', () => {
  const bad = {
    NUL: 'a\u0000b',
    ESC: 'a\u001b[2Jb',
    BEL: 'a\u0007b',
    DEL: 'a\u007fb',
    'right-to-left override': 'gnp.\u202Eexe',
    'bidi isolate': 'a\u2066b\u2069',
    'zero-width space': 'ad\u200Bmin',
    'zero-width joiner': 'ad\u200Dmin',
  };

  it.each(Object.entries(bad))('refuses %s in a space title and in a display name, naming the field', async (_name, text) => {
    const [host] = await users(t, 1, 'tx');
    const r = await t.gql(Q.create, { input: { title: `Talk ${text}`, speakerPolicy: 'EVERYONE' } }, { token: host!.token });
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    expect(r.errors![0]!.message).toMatch(/^title: /);
    const u = await t.gql(`mutation($i: SignUpInput!) { signUp(input: $i) { token } }`, {
      i: { handle: `tx${Date.now() % 1e8}`, displayName: `Ada ${text}`, password: 'long enough pw' },
    });
    expect(codes(u)).toEqual(['BAD_USER_INPUT']);
    expect(u.errors![0]!.message).toMatch(/^displayName: /);
  });

  it('stores text normalized (NFC, one space) and keeps emoji sequences', async () => {
    const [host] = await users(t, 1, 'tn');
    const r = await must(t, Q.create, { input: { title: '  Cafe\u0301   👩‍💻 night ', speakerPolicy: 'EVERYONE' } }, host);
    expect(r.createSpace.title).toBe('Café 👩‍💻 night');
    const u = await must(t, `mutation($i: SignUpInput!) { signUp(input: $i) { user { displayName } } }`, {
      i: { handle: `tn${Date.now() % 1e8}`, displayName: 'Zoe\u0308  🏳️‍🌈', password: 'long enough pw' },
    });
    expect(u.signUp.user.displayName).toBe('Zoë 🏳️‍🌈');
  });

  it('refuses a reaction outside the fixed set, e.g. with an invisible character appended', async () => {
    const [host] = await users(t, 1, 'te');
    const s = (await must(t, Q.create, { input: { title: 'React', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id;
    const r = await t.gql(Q.react, { s, e: '👏\u200B' }, { token: host!.token });
    expect(codes(r)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('subscriptions', () => {
  it('answers a subscription to an ended space at once: SPACE_ENDED, then complete', async () => {
    const [host] = await users(t, 1, 'se');
    const s = (await must(t, Q.create, { input: { title: 'Over', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id;
    await must(t, Q.end, { s }, host);
    const client = wsClient(base);
    const sub = subscribe<any>(client, EVENTS, { s }, (d) => d.spaceEvents);
    const ended = await sub.waitFor((e) => e.kind === 'SPACE_ENDED', 2000);
    expect(ended.space.state).toBe('ENDED');
    await expect.poll(() => sub.completed, { timeout: 2000 }).toBe(true);
    await client.dispose();
  });

  it('answers an over-limit operation with BAD_USER_INPUT and leaves the socket and its other subscriptions alone', async () => {
    const [host, guest] = await users(t, 2, 'sl');
    const s = (await must(t, Q.create, { input: { title: 'Limits', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id;
    const client = wsClient(base);
    let closed: number | null = null;
    client.on('closed', (e) => (closed = (e as { code: number }).code));
    const good = subscribe<any>(client, EVENTS, { s }, (d) => d.spaceEvents);
    await new Promise((r) => setTimeout(r, 200));
    const aliases = Array.from({ length: 16 }, (_, i) => `k${i}: kind`).join(' ');
    let deep = 'id';
    for (let i = 0; i < 6; i++) deep = `followers { edges { node { ${deep} } } }`;
    const overLimit = [
      `subscription($s: ID!) { spaceEvents(spaceId: $s) { ${aliases} } }`,
      `subscription($s: ID!) { spaceEvents(spaceId: $s) { user { ${deep} } } }`,
    ];
    for (const query of overLimit) {
      const bad = subscribe<any>(client, query, { s }, (d) => d.spaceEvents);
      await expect.poll(() => bad.errors.length, { timeout: 2000 }).toBeGreaterThan(0);
      const error = (bad.errors[0] as { extensions?: { code?: string } }[] | { extensions?: { code?: string } });
      const first = Array.isArray(error) ? error[0] : error;
      expect(first?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    // The first subscription still delivers; the socket was never closed.
    await must(t, Q.join, { s }, guest);
    await good.waitFor((e) => e.kind === 'PARTICIPANT_JOINED', 3000);
    expect(closed).toBeNull();
    await client.dispose();
  });
});
