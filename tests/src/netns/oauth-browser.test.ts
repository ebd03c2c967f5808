import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { handle, type TestApp } from '../support/app.ts';
import { PASSWORD, PHONE, signUpWithForm, type Person } from '../support/browser.ts';
import { browserSuite } from '../support/browser-suite.ts';

/**
 * Third-party apps end to end in headless Chromium, through the built PWA served by the API.
 *
 * Dana (a developer) registers "Echo bot" on the developer page and reads its client id there.
 * Echo bot is a tiny HTTP server in this test (on loopback): its /start sends Uma's browser to
 * /oauth/authorize with a PKCE challenge it made; its /callback is the registered redirect URI
 * and keeps what arrives. Uma is signed out: she signs in, comes back to the consent screen
 * (the app, its owner, each scope in words), allows it, and her browser lands on /callback with
 * the code and state. The test then does what the app's server would: exchanges the code with
 * the verifier at POST /oauth/token, calls /graphql with the access token (what its scopes allow
 * works; a mutation needing `follow` is FORBIDDEN naming the scope; token management is
 * session-only), refreshes (new tokens; reusing the old refresh token is refused and, as OAuth
 * 2.1 asks, ends the grant). Uma allows it again and revokes it on Settings › Connected apps:
 * the token stops working. Deny sends error=access_denied with the state; a redirect URI that
 * was not registered is explained on the page and the browser goes nowhere. A personal access
 * token made on the developer page works as a bearer token and stops after Revoke.
 * axe-core on the consent, developer and connected-apps pages at 390 and 1280 px; screenshots in
 * tests/artifacts/screenshots/ (gitignored).
 */
const suite = browserSuite({ name: 'oauth-browser', people: { dana: {}, uma: {} } });
const { a11y, screen } = suite;
let t: TestApp | undefined;
let base = '';
let dana: Person | undefined;
let uma: Person | undefined;

const dev = { handle: handle('od'), name: 'Dana Developer', id: '' };
const user = { handle: handle('ou'), name: 'Uma User', id: '' };
const APP_NAME = 'Echo bot';
const APP_DESCRIPTION = 'Schedules your spaces from a calendar and says hello.';
const SCOPE = 'read spaces:write';
const SCOPE_WORDS = {
  read: 'See spaces, people, profiles and fleets, and your notifications',
  'spaces:write': 'Create, join and leave spaces; raise your hand; react',
};

/** Nothing on the page sticks out sideways at phone width (which element does, if one does). */
async function overflowAtPhoneWidth(page: Page): Promise<string[]> {
  const before = page.viewportSize();
  await page.setViewportSize(PHONE);
  try {
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    return await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      return [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > width + 0.5)
        .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} right=${Math.round(e.getBoundingClientRect().right)}`)
        .slice(0, 5);
    });
  } finally {
    if (before) await page.setViewportSize(before);
  }
}

// ------------------------------------------------------------------ the third-party app

/** Where the browser may come back to (registered or not); anything else (a favicon) is no arrival. */
const CALLBACK_PATHS = new Set(['/callback', '/evil', '/server-callback']);

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/** What one authorization attempt of the app remembers (as its server would keep in a session). */
interface Attempt {
  state: string;
  verifier: string;
}

/** Echo bot's web server: /start sends the browser to authorize, /callback is its redirect URI. */
class ThirdPartyApp {
  server: Server;
  origin = '';
  clientId = '';
  attempts = new Map<string, Attempt>();
  /** Every request that reached the app's callback paths, in order. */
  arrivals: URL[] = [];

  constructor() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', this.origin);
      if (url.pathname === '/start') {
        const verifier = base64url(randomBytes(32));
        const state = base64url(randomBytes(12));
        this.attempts.set(state, { state, verifier });
        const redirectUri = url.searchParams.get('tamper') ? `${this.origin}/evil` : this.redirectUri;
        const authorize = new URL('/oauth/authorize', base);
        authorize.search = new URLSearchParams({
          response_type: 'code',
          client_id: this.clientId,
          redirect_uri: redirectUri,
          scope: SCOPE,
          state,
          code_challenge: base64url(createHash('sha256').update(verifier).digest()),
          code_challenge_method: 'S256',
        }).toString();
        res.writeHead(302, { location: authorize.href }).end();
        return;
      }
      if (!CALLBACK_PATHS.has(url.pathname)) {
        // The browser asks for /favicon.ico: no icon, and no console error for it either.
        res.writeHead(204).end();
        return;
      }
      this.arrivals.push(url);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html lang="en"><title>${APP_NAME}</title><h1>${APP_NAME}</h1><p>Back at the app.</p></html>`);
    });
  }

  get redirectUri(): string {
    return `${this.origin}/callback`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Closes at once: a browser still open keeps idle connections that close() would wait for. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    return closed;
  }
}

let echo: ThirdPartyApp | undefined;

// ------------------------------------------------------------------ HTTP as the app's server

interface TokenAnswer {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  scope: string;
}

async function tokenRequest(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/oauth/token`, { method: 'POST', body: new URLSearchParams(params) });
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`/oauth/token answered ${response.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, body };
}

/** Exchanges the code the callback received, as the app's server does (PKCE verifier, no secret). */
async function exchange(callback: URL): Promise<TokenAnswer> {
  const attempt = echo!.attempts.get(callback.searchParams.get('state') ?? '');
  expect(attempt, 'the state the app sent came back').toBeDefined();
  const { status, body } = await tokenRequest({
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code') ?? '',
    redirect_uri: echo!.redirectUri,
    client_id: echo!.clientId,
    code_verifier: attempt!.verifier,
  });
  expect(body).toMatchObject({ token_type: expect.stringMatching(/^bearer$/i) });
  expect(status).toBe(200);
  return body as unknown as TokenAnswer;
}

type Gql = { status: number; data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };

/** /graphql over real HTTP with a bearer token (as a third party calls it). */
async function bearerGraphQL(token: string, query: string, variables: Record<string, unknown> = {}): Promise<Gql> {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, ...((await response.json()) as object) };
}

const VIEWER = '{ viewer { handle } }';
const CREATE_SPACE = 'mutation($input: CreateSpaceInput!) { createSpace(input: $input) { id title } }';
const FOLLOW = 'mutation($u: ID!) { follow(userId: $u) { id } }';
const codeOf = (r: Gql) => r.errors?.[0]?.extensions?.code;

/** Uma's browser goes through the app's /start to the consent screen (signed in already). */
async function openConsent(page: Page, query = ''): Promise<void> {
  await page.goto(`${echo!.origin}/start${query}`);
  await page.waitForURL((url) => url.href.startsWith(`${base}/oauth/authorize?`));
}

/** Waits for the browser to arrive at the app's callback; returns that URL as the app saw it. */
async function arrivalAtCallback(page: Page, since: number): Promise<URL> {
  await page.waitForURL((url) => url.href.startsWith(echo!.redirectUri));
  await expect.poll(() => echo!.arrivals.length).toBeGreaterThan(since);
  const arrival = echo!.arrivals.at(-1)!;
  expect(arrival.pathname).toBe('/callback');
  return arrival;
}

beforeAll(async () => {
  ({ t, base } = suite);
  ({ dana, uma } = suite.people);
  echo = new ThirdPartyApp();
  await echo.listen();
  user.id = (await t!.signUp(user.handle, user.name)).id;
}, 60_000);

afterAll(async () => {
  await echo?.close().catch(() => undefined);
});

describe('third-party apps in the browser', () => {
  it('a developer registers an app on the developer page and reads its client id there', async () => {
    const page = dana!.page;
    await signUpWithForm(page, base, dev.handle, dev.name);
    // From the profile: Settings › Developer page.
    await page.getByRole('link', { name: `Your profile, @${dev.handle}` }).click();
    await page.getByRole('link', { name: 'Developer', exact: true }).click();
    await page.getByRole('heading', { name: 'Developer', level: 1 }).waitFor();
    await expect(page.getByRole('link', { name: 'Open GraphiQL' }).getAttribute('href')).resolves.toBe('/graphql');
    await expect(page.getByRole('link', { name: 'Read the API docs' }).getAttribute('href')).resolves.toBe('/docs/api');
    await page.getByText('You have not registered an app yet.').waitFor();
    await screen(dana!, 'o01-developer-empty');

    // A redirect URI that is not a URL is caught before asking.
    const form = page.getByRole('form', { name: 'Register an app' });
    await form.getByLabel('Name', { exact: true }).fill(APP_NAME);
    await form.getByLabel('Redirect URIs').fill('not a url');
    await form.getByRole('button', { name: 'Register app' }).click();
    await form.getByText('“not a url” is not an absolute URL').waitFor();

    await form.getByLabel('Description').fill(APP_DESCRIPTION);
    await form.getByLabel('Redirect URIs').fill(`${echo!.redirectUri}\n`);
    await form.getByRole('radio', { name: /^Public/ }).check();
    await form.getByRole('button', { name: 'Register app' }).click();
    const registered = page.getByRole('region', { name: 'App registered' });
    const clientId = await registered.getByLabel('Client ID', { exact: true }).inputValue();
    expect(clientId.length).toBeGreaterThan(8);
    // A public app has no secret to show.
    expect(await registered.getByLabel('Client secret', { exact: true }).count()).toBe(0);
    echo!.clientId = clientId;
    const list = page.getByRole('list', { name: 'Your registered apps' });
    await list.getByText(clientId).waitFor();
    await list.getByText(echo!.redirectUri).waitFor();
    await screen(dana!, 'o02-developer-app-registered');
    await registered.getByRole('button', { name: 'Done' }).click();

    // A confidential app shows its secret once; deleting it (after confirming) takes it off the list.
    await form.getByLabel('Name', { exact: true }).fill('Server app');
    await form.getByLabel('Redirect URIs').fill(`${echo!.origin}/server-callback`);
    await form.getByRole('radio', { name: /^Confidential/ }).check();
    await form.getByRole('button', { name: 'Register app' }).click();
    const secret = await page.getByRole('region', { name: 'App registered' }).getByLabel('Client secret', { exact: true }).inputValue();
    expect(secret.length).toBeGreaterThan(16);
    await page.getByText('it is shown only this once').waitFor();
    await page.getByRole('button', { name: 'Delete Server app' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete Server app?' });
    await confirm.getByRole('button', { name: 'Delete app' }).click();
    await expect.poll(() => list.getByText('Server app').count()).toBe(0);
    await expect.poll(() => page.getByRole('region', { name: 'App registered' }).count()).toBe(0);
    await list.getByText(APP_NAME).waitFor();
    expect(await overflowAtPhoneWidth(page)).toEqual([]);
  });

  it('the user signs in from the app, sees the consent screen in words, allows it; the code becomes tokens that work within their scopes', async () => {
    const page = uma!.page;
    await page.goto(`${echo!.origin}/start`);
    // Signed out: the sign-in page first, coming back to the same request.
    await page.waitForURL((url) => url.pathname === '/signin' && (url.searchParams.get('next') ?? '').startsWith('/oauth/authorize?'));
    await page.getByLabel('Handle').fill(user.handle);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === '/oauth/authorize' && url.searchParams.get('client_id') === echo!.clientId);

    await page.getByRole('heading', { name: `Allow ${APP_NAME} to act for @${user.handle}?` }).waitFor();
    await page.getByText(APP_DESCRIPTION).waitFor();
    await page.getByRole('link', { name: `@${dev.handle}` }).waitFor();
    const scopes = page.getByRole('list', { name: `What ${APP_NAME} will be able to do` });
    await expect(scopes.getByRole('listitem').allTextContents()).resolves.toEqual([
      expect.stringContaining(SCOPE_WORDS.read),
      expect.stringContaining(SCOPE_WORDS['spaces:write']),
    ]);
    await screen(uma!, 'o03-consent');
    expect(await overflowAtPhoneWidth(page)).toEqual([]);

    const since = echo!.arrivals.length;
    await page.getByRole('button', { name: 'Allow' }).click();
    const callback = await arrivalAtCallback(page, since);
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(echo!.attempts.has(callback.searchParams.get('state') ?? '')).toBe(true);
    await page.getByRole('heading', { name: APP_NAME }).waitFor();

    const tokens = await exchange(callback);
    expect(tokens.access_token).toMatch(/^spaces_at_/);
    expect(tokens.refresh_token).toMatch(/^spaces_rt_/);
    // One hour (counted down to the second by the time it is answered).
    expect(tokens.expires_in).toBeGreaterThan(3590);
    expect(tokens.expires_in).toBeLessThanOrEqual(3600);
    expect(tokens.scope.split(' ').sort()).toEqual(['read', 'spaces:write']);
    // read: who it acts for. spaces:write: schedule a space for her.
    const viewer = await bearerGraphQL(tokens.access_token, VIEWER);
    expect(viewer.errors).toBeUndefined();
    expect(viewer.data?.viewer.handle).toBe(user.handle);
    const at = new Date(Date.now() + 86_400_000).toISOString();
    const created = await bearerGraphQL(tokens.access_token, CREATE_SPACE, {
      input: { title: 'Scheduled by Echo bot', speakerPolicy: 'EVERYONE', scheduledFor: at },
    });
    expect(created.errors).toBeUndefined();
    expect(created.data?.createSpace.title).toBe('Scheduled by Echo bot');
    // follow was not granted: FORBIDDEN, naming the scope.
    const devId = (await t!.gql<{ user: { id: string } }>('query($h: String!) { user(handle: $h) { id } }', { h: dev.handle })).data!.user.id;
    dev.id = devId;
    const followed = await bearerGraphQL(tokens.access_token, FOLLOW, { u: devId });
    expect(codeOf(followed)).toBe('FORBIDDEN');
    expect(followed.errors?.[0]?.extensions?.requiredScope).toBe('follow');
    expect(followed.errors?.[0]?.message).toBe('This token lacks the "follow" scope.');
    // A token can never manage tokens.
    const pats = await bearerGraphQL(tokens.access_token, '{ personalAccessTokens { id } }');
    expect(codeOf(pats)).toBe('FORBIDDEN');
    expect(pats.errors?.[0]?.extensions?.requiredScope).toBe('session');

    // Refresh: new tokens, the old refresh token no longer works (and its reuse ends the grant).
    const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: echo!.clientId });
    expect(refreshed.status).toBe(200);
    const fresh = refreshed.body as unknown as TokenAnswer;
    expect(fresh.access_token).toMatch(/^spaces_at_/);
    expect(fresh.access_token).not.toBe(tokens.access_token);
    expect(fresh.refresh_token).not.toBe(tokens.refresh_token);
    expect((await bearerGraphQL(fresh.access_token, VIEWER)).data?.viewer.handle).toBe(user.handle);
    const reused = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: echo!.clientId });
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');
    expect(codeOf(await bearerGraphQL(fresh.access_token, VIEWER))).toBe('UNAUTHENTICATED');
    // A code is single use (a replay also revokes whatever was issued from it).
    const again = await tokenRequest({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: echo!.redirectUri,
      client_id: echo!.clientId,
      code_verifier: echo!.attempts.get(callback.searchParams.get('state')!)!.verifier,
    });
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });

  it('the user revokes the app on Settings › Connected apps, and its token stops working', async () => {
    const page = uma!.page;
    // Allowed again (signed in now: straight to the consent screen).
    await openConsent(page);
    const since = echo!.arrivals.length;
    await page.getByRole('button', { name: 'Allow' }).click();
    const tokens = await exchange(await arrivalAtCallback(page, since));
    expect((await bearerGraphQL(tokens.access_token, VIEWER)).data?.viewer.handle).toBe(user.handle);

    await page.goto(`${base}/u/${user.handle}`);
    await page.getByRole('link', { name: 'Settings and connected apps' }).click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    const connected = page.getByRole('list', { name: 'Apps with access to your account' });
    const item = connected.getByRole('listitem').filter({ hasText: APP_NAME }).first();
    await item.waitFor();
    await item.getByText(`By @${dev.handle}`).waitFor();
    await item.getByText('last used').waitFor();
    const words = await item.getByRole('list', { name: `What ${APP_NAME} can do` }).getByRole('listitem').allTextContents();
    expect(words).toEqual([expect.stringContaining(SCOPE_WORDS.read), expect.stringContaining(SCOPE_WORDS['spaces:write'])]);
    await screen(uma!, 'o04-connected-apps');
    expect(await overflowAtPhoneWidth(page)).toEqual([]);

    await item.getByRole('button', { name: `Revoke access for ${APP_NAME}` }).click();
    await page.getByText('No app can use your account.').waitFor();
    await page.getByText(`${APP_NAME} can no longer use your account.`).waitFor();
    const after = await bearerGraphQL(tokens.access_token, VIEWER);
    expect(codeOf(after)).toBe('UNAUTHENTICATED');
    const refresh = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: echo!.clientId });
    expect(refresh.body.error).toBe('invalid_grant');
    // Still gone after a reload (the server's list, not only the page's).
    await page.reload();
    await page.getByText('No app can use your account.').waitFor();
    await screen(uma!, 'o05-connected-apps-empty');
  });

  it('Deny sends the browser back with error=access_denied and the state', async () => {
    const page = uma!.page;
    await openConsent(page);
    const state = new URL(page.url()).searchParams.get('state');
    const since = echo!.arrivals.length;
    await page.getByRole('button', { name: 'Deny' }).click();
    const callback = await arrivalAtCallback(page, since);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('a redirect URI that was not registered is explained on the page, and the browser goes nowhere', async () => {
    const page = uma!.page;
    const since = echo!.arrivals.length;
    await openConsent(page, '?tamper=1');
    await page.getByRole('heading', { name: "This request can't be used" }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'The redirect URI is not one of the app’s registered redirect URIs' }).waitFor();
    expect(await page.getByRole('button', { name: 'Allow' }).count()).toBe(0);
    await screen(uma!, 'o06-consent-invalid');
    await page.waitForTimeout(500);
    expect(new URL(page.url()).origin).toBe(base);
    expect(new URL(page.url()).pathname).toBe('/oauth/authorize');
    expect(echo!.arrivals.length).toBe(since);
  });

  it('a personal access token made on the developer page works as a bearer token, within its scopes, until revoked', async () => {
    const page = dana!.page;
    await page.goto(`${base}/developer`);
    const form = page.getByRole('form', { name: 'Create a token' });
    await form.getByLabel('Name', { exact: true }).fill('my script');
    // read is ticked to start with; add follow. Scopes are listed in words.
    const read = form.getByRole('checkbox', { name: SCOPE_WORDS.read });
    await read.waitFor();
    expect(await read.isChecked()).toBe(true);
    await form.getByRole('checkbox', { name: 'Follow and unfollow people' }).check();
    await form.getByLabel('Expires after').selectOption('7');
    await form.getByRole('button', { name: 'Create token' }).click();
    const token = await page.getByRole('region', { name: 'Token created' }).getByLabel('Token', { exact: true }).inputValue();
    expect(token).toMatch(/^spaces_pat_/);
    await screen(dana!, 'o07-developer-token-created');

    const viewer = await bearerGraphQL(token, VIEWER);
    expect(viewer.data?.viewer.handle).toBe(dev.handle);
    const followed = await bearerGraphQL(token, FOLLOW, { u: user.id });
    expect(followed.errors).toBeUndefined();
    const created = await bearerGraphQL(token, CREATE_SPACE, {
      input: { title: 'Not allowed', speakerPolicy: 'EVERYONE', scheduledFor: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(codeOf(created)).toBe('FORBIDDEN');
    expect(created.errors?.[0]?.extensions?.requiredScope).toBe('spaces:write');

    // The list says when it was used; a 7-day token expires in 7 days.
    await page.reload();
    const tokens = page.getByRole('list', { name: 'Your personal access tokens' });
    const row = tokens.getByRole('listitem').filter({ hasText: 'my script' });
    await row.getByText('read, follow').waitFor();
    await row.getByText(/last used/).waitFor();
    const expires = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric' }).format(new Date(Date.now() + 7 * 86_400_000));
    await row.getByText(`expires ${expires}`, { exact: false }).waitFor();
    await row.scrollIntoViewIfNeeded();
    await screen(dana!, 'o08-developer-tokens');
    expect(await overflowAtPhoneWidth(page)).toEqual([]);

    await row.getByRole('button', { name: 'Revoke my script' }).click();
    await page.getByText('You have no tokens.').waitFor();
    const after = await bearerGraphQL(token, VIEWER);
    expect(codeOf(after)).toBe('UNAUTHENTICATED');
  });

  it('has no serious or critical axe violations on the consent, developer and connected-apps pages, at 390 and 1280 px', () => {
    expect(a11y.length).toBeGreaterThanOrEqual(16);
    expect(new Set(a11y.map((s) => s.width))).toEqual(new Set([390, 1280]));
    expect(suite.blockingFindings()).toBe('');
    expect([...dana!.problems, ...uma!.problems]).toEqual([]);
  });
});
