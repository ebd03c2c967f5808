import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { DOCS_DIR, exampleBlocks, exampleFiles, exampleToken, runExample, type RunningExample } from '../support/examples.ts';
import { MEDIA_UPLOAD_SCOPES, ROOT_FIELD_RULES } from '@spaces/api/rules';
import { approve, registerApp } from '../support/oauth.ts';
import { must, Q, users, type U } from '../support/spaces.ts';

/**
 * docs/api.md's examples are the files in docs/examples/, shown verbatim, and they work: the
 * graphql-ws example runs as a developer would run it (`node subscribe.mjs`, endpoint and token
 * from the environment) against a real app on a real port, and prints what happens in a space.
 * Also: the API serves the doc at /docs/api, and GraphiQL at /graphql without any CDN.
 * (The WebRTC bot runs in tests/src/netns/docs-bot.test.ts.)
 */
const API_DOC = path.join(DOCS_DIR, 'api.md');

let t: TestApp;
let base = '';
const running: RunningExample[] = [];

beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.start();
});
afterAll(async () => {
  await Promise.allSettled(running.map((r) => r.stop()));
  await t?.close();
});

describe('docs/api.md', () => {
  it('shows every example file verbatim, and only example files that exist', () => {
    const blocks = exampleBlocks(API_DOC);
    const files = exampleFiles();
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect([...blocks.keys()].sort()).toEqual(files.map((f) => `examples/${f}`));
    for (const file of files) expect(blocks.get(`examples/${file}`), file).toBe(readFileSync(path.join(DOCS_DIR, 'examples', file), 'utf8'));
  });

  it("has the scope table of api/src/domain/rules.ts: every root field and upload under its scope", () => {
    const markdown = readFileSync(API_DOC, 'utf8');
    const section = markdown.slice(markdown.indexOf('### Scopes'), markdown.indexOf('## Errors'));
    const rows = new Map<string, Set<string>>();
    for (const [, first, rest] of section.matchAll(/^\| (`[^`]+`|session only|open) \| (.*) \|$/gm))
      rows.set(first!.replaceAll('`', ''), new Set([...rest!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)));
    const expected = new Map<string, Set<string>>();
    const add = (rule: string, name: string) => {
      const key = rule === 'SESSION_ONLY' ? 'session only' : rule === 'OPEN' ? 'open' : rule;
      if (!expected.has(key)) expected.set(key, new Set());
      expected.get(key)!.add(name);
    };
    for (const [type, fields] of Object.entries(ROOT_FIELD_RULES))
      for (const [field, rule] of Object.entries(fields)) {
        // The read row says "every query and subscription but …" and names its mutations.
        if (rule === 'read' && type !== 'Mutation') continue;
        add(rule, field);
      }
    for (const [path, scope] of Object.entries(MEDIA_UPLOAD_SCOPES)) add(scope, `POST ${path}`);
    // The read row names its exception too (iceServers, in the audio row).
    rows.get('read')?.delete('iceServers');
    expect(Object.fromEntries([...rows].map(([k, v]) => [k, [...v].sort()]))).toEqual(Object.fromEntries([...expected].map(([k, v]) => [k, [...v].sort()])));
    const notRead = Object.entries(ROOT_FIELD_RULES)
      .filter(([type]) => type !== 'Mutation')
      .flatMap(([, fields]) => Object.entries(fields).filter(([, rule]) => rule !== 'read' && rule !== 'SESSION_ONLY').map(([field]) => field));
    expect(notRead).toEqual(['iceServers']);
  });

  it('is served at GET /docs/api as Markdown', async () => {
    const response = await fetch(`${base}/docs/api`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    expect(await response.text()).toBe(readFileSync(API_DOC, 'utf8'));
    expect((await fetch(`${base}/docs/api`, { method: 'POST', body: 'x' })).status).toBe(405);
  });
});

describe('the HTTP answers docs/api.md describes', () => {
  const post = (body: string, headers: Record<string, string>) => fetch(`${base}/graphql`, { method: 'POST', headers, body });
  it('a token that does not authenticate: 200 and UNAUTHENTICATED, nothing runs', async () => {
    const response = await post(JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'application/json', authorization: 'Bearer spaces_pat_nope' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ errors: [{ message: 'Invalid or expired token.', extensions: { code: 'UNAUTHENTICATED' } }] });
  });
  it('refused before GraphQL runs: 415 for a form, 413 past 100 kB, with a coded body', async () => {
    const form = await post('query={__typename}', { 'content-type': 'application/x-www-form-urlencoded' });
    expect([form.status, (await form.json()).errors[0].extensions.code]).toEqual([415, 'BAD_USER_INPUT']);
    const big = await post(JSON.stringify({ query: `{ __typename } # ${'x'.repeat(100_001)}` }), { 'content-type': 'application/json' });
    expect([big.status, (await big.json()).errors[0].extensions.code]).toEqual([413, 'BAD_USER_INPUT']);
  });
});

describe('GraphiQL at GET /graphql', () => {
  it('is rendered from the installed package (nothing from a CDN), under a CSP that allows only its own script', async () => {
    const response = await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    // fetch asked for gzip and undid it.
    expect(response.headers.get('content-encoding')).toBe('gzip');
    const html = await response.text();
    expect(html).toContain('<title>Spaces API</title>');
    expect(html).toContain('renderYogaGraphiQL');
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
    expect(html).not.toContain('unpkg.com');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'( |;)/);
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toMatch(/frame-ancestors 'none'/);
    // GraphQL requests on the same path are untouched.
    const query = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await query.json()).toEqual({ data: { __typename: 'Query' } });
    expect(query.headers.get('content-security-policy')).toBeNull();
  });
});

describe('examples/subscribe.mjs (graphql-ws)', () => {
  let host: U;
  let follower: U;
  let guest: U;

  beforeAll(async () => {
    [host, follower, guest] = (await users(t, 3, 'dx')) as [U, U, U];
  });

  it('prints the events of a space as they happen and exits when it ends', async () => {
    const s = (await must(t, Q.create, { input: { title: 'Docs example', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id as string;
    const { token, kind } = await exampleToken(t, follower.token, ['READ']);
    console.log(`[docs-examples] subscribe.mjs authenticates with a ${kind === 'pat' ? 'personal access token' : 'session token'}`);
    const example = runExample('subscribe.mjs', { SPACES_URL: base, SPACES_TOKEN: token, SPACE_ID: s });
    running.push(example);

    // First the HTTP query: the token is the follower's.
    expect(await example.waitForLine<{ viewer: string; space: string; state: string }>((l) => 'viewer' in l)).toEqual({
      viewer: follower.handle,
      space: 'Docs example',
      state: 'LIVE',
    });
    // The subscription starts a moment later: react until a reaction shows up (10 per 10 s allowed).
    let reactions = 0;
    const reacted = example.waitForLine<{ kind: string; emoji: string }>((l) => l.kind === 'REACTION', 10_000);
    const reacting = setInterval(() => {
      if (reactions++ < 8) void t.gql(Q.react, { s, e: '👏' }, { token: host.token });
    }, 300);
    try {
      expect((await reacted).emoji).toBe('👏');
    } finally {
      clearInterval(reacting);
    }

    await must(t, Q.join, { s }, guest);
    const joined = await example.waitForLine<{ kind: string; participant: { role: string; user: { handle: string } } }>(
      (l) => l.kind === 'PARTICIPANT_JOINED',
    );
    expect(joined.participant).toEqual({ role: 'LISTENER', muted: true, user: { handle: guest.handle } });

    await must(t, Q.end, { s }, host);
    await example.waitForLine((l) => l.kind === 'SPACE_ENDED');
    // The subscription completes after SPACE_ENDED and the program ends by itself.
    expect(await example.exited).toBe(0);
    console.log(`[docs-examples] subscribe.mjs printed:\n${example.lines.join('\n')}`);
  });

  it('fails loudly with a token that does not authenticate', async () => {
    const example = runExample('subscribe.mjs', { SPACES_URL: base, SPACES_TOKEN: 'spaces_pat_not-a-token', SPACE_ID: 'x' });
    running.push(example);
    expect(await example.exited).not.toBe(0);
    expect(example.stderr()).toMatch(/UNAUTHENTICATED/);
  });
});

describe('examples/oauth-pkce.sh (curl)', () => {
  it('goes from the authorize URL through consent, code, tokens, a call, a refresh and a revocation', async () => {
    const [owner, user] = (await users(t, 2, 'do')) as [U, U];
    const app = await registerApp(t, owner.token, { name: 'Docs CLI', redirectUris: ['http://127.0.0.1:8976/callback'] });
    const example = runExample('oauth-pkce.sh', {
      SPACES_URL: base,
      CLIENT_ID: app.clientId,
      REDIRECT_URI: app.redirectUri,
      SCOPE: 'read spaces:write',
    });
    running.push(example);

    // The URL the script prints is what the consent page receives; the user allows it there
    // (approveAuthorization, as the page does) and the browser lands on the redirect URI.
    const { open } = await example.waitForLine<{ open: string }>((l) => 'open' in l);
    const authorize = new URL(open);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${base}/oauth/authorize`);
    const params = Object.fromEntries(authorize.searchParams);
    expect(params).toMatchObject({ response_type: 'code', client_id: app.clientId, redirect_uri: app.redirectUri, scope: 'read spaces:write', code_challenge_method: 'S256' });
    const { redirectTo } = await approve(t, user.token, {
      responseType: params.response_type,
      clientId: params.client_id,
      redirectUri: params.redirect_uri,
      scope: params.scope,
      state: params.state,
      codeChallenge: params.code_challenge,
      codeChallengeMethod: params.code_challenge_method,
    });
    example.process.stdin.write(`${redirectTo.href}\n`);

    const issued = await example.waitForLine<{ step: string; expires_in: number }>((l) => l.step === 'token');
    expect(issued).toEqual({ step: 'token', token_type: 'Bearer', expires_in: expect.any(Number), scope: 'read spaces:write', error: null });
    // An hour, counted down from when it was issued.
    expect(issued.expires_in).toBeGreaterThan(3590);
    expect(issued.expires_in).toBeLessThanOrEqual(3600);
    expect(await example.waitForLine((l) => l.step === 'viewer')).toEqual({ step: 'viewer', handle: user.handle, error: null });
    expect(await example.waitForLine((l) => l.step === 'refresh')).toEqual({ step: 'refresh', scope: 'read spaces:write', rotated: true, error: null });
    expect(await example.waitForLine((l) => l.step === 'viewer after refresh')).toEqual({ step: 'viewer after refresh', handle: user.handle, error: null });
    expect(await example.waitForLine((l) => l.step === 'revoke')).toEqual({ step: 'revoke', status: 200 });
    expect(await example.waitForLine((l) => l.step === 'viewer after revoke')).toEqual({ step: 'viewer after revoke', handle: null, error: 'UNAUTHENTICATED' });
    expect(await example.exited).toBe(0);
  });

  it('stops when the state that comes back is not the one it sent', async () => {
    const example = runExample('oauth-pkce.sh', { SPACES_URL: base, CLIENT_ID: 'spaces_app_x', REDIRECT_URI: 'http://127.0.0.1:8976/callback' });
    running.push(example);
    await example.waitForLine((l) => 'open' in l);
    example.process.stdin.write('http://127.0.0.1:8976/callback?code=abc&state=forged\n');
    expect(await example.waitForLine((l) => 'error' in l)).toEqual({ error: 'state mismatch' });
    expect(await example.exited).toBe(1);
  });
});
