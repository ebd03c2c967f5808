import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handle, startTestApp, type TestApp } from '../support/app.ts';
import { closeAll, launchPerson, PASSWORD, type Person } from '../support/browser.ts';
import { must, Q } from '../support/spaces.ts';

/**
 * GraphiQL at /graphql in headless Chromium, as a developer uses it: the page loads with no
 * network but the app's origin and under its Content-Security-Policy (no violation reported),
 * shows the schema's descriptions, signs in with a mutation (the session cookie it sets is then
 * what authenticates), answers `{ viewer { handle } }`, and runs a subscription over the
 * WebSocket, authenticated by that cookie: a followed account opening a space arrives live.
 * A screenshot goes to tests/artifacts/screenshots/ (gitignored).
 */
const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../artifacts/screenshots');

let t: TestApp | undefined;
let base = '';
let developer: Person | undefined;
const me = { handle: handle('gq') };
/** Accounts the developer follows; each opens one space (a host has one live space at a time). */
const hosts: { id: string; token: string; handle: string }[] = [];
/** Every request the page made that did not go to the app's origin. */
const offOrigin: string[] = [];

/** Replaces the query editor's text (typed as one insertion: no auto-closed brackets). */
async function setQuery(page: Page, query: string) {
  const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(query);
}

/** The response pane's text (Monaco renders its lines as separate elements; whitespace varies). */
async function responseText(page: Page): Promise<string> {
  const text = await page.locator('.graphiql-response .view-lines').first().innerText();
  return text.replace(/\s+/g, ' ');
}

async function run(page: Page) {
  await page.getByRole('button', { name: /Execute query/ }).first().click();
}

beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.start();
  const mine = await t.signUp(me.handle, 'Dev Eloper');
  for (let n = 1; n <= 5; n++) {
    const host = await t.signUp(handle('gh'), `Host ${n}`);
    await must(t, Q.follow, { u: host.id }, mine);
    hosts.push(host);
  }
  developer = await launchPerson('graphiql');
  const page = developer.page;
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(base) && !url.startsWith('data:') && !url.startsWith('blob:')) offOrigin.push(url);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __cspViolations: string[] }).__cspViolations ??= [];
      (window as unknown as { __cspViolations: string[] }).__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
}, 90_000);

afterAll(async () => {
  await closeAll([developer]);
  await t?.close().catch((e) => console.error('[graphiql-browser] app close failed', e));
}, 60_000);

describe('GraphiQL in the browser', () => {
  it('loads from our origin alone under the CSP and shows the schema with its descriptions', async () => {
    const page = developer!.page;
    const startedAt = performance.now();
    const response = await page.goto(`${base}/graphql`, { waitUntil: 'commit' });
    const answeredAt = performance.now();
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'sha256-/);
    // The first request renders and compresses the 9 MB page; then the browser compiles 5 MB of
    // script (seconds each on a busy 2-core machine).
    await page.locator('.graphiql-query-editor .monaco-editor').first().waitFor({ timeout: 45_000 });
    console.log(
      `[graphiql-browser] first answer in ${Math.round(answeredAt - startedAt)} ms, editor ready after ${Math.round(performance.now() - startedAt)} ms`,
    );
    expect(await page.title()).toBe('Spaces API');

    // The documentation explorer: Query.viewer and its description from the schema.
    await page.getByRole('button', { name: /Show Documentation Explorer/i }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.getByText('Query', { exact: true }).first().click();
    await docs.getByText('liveSpaces', { exact: true }).first().click();
    await docs.getByText(/Live spaces, most listened first/).first().waitFor();
  });

  it('signs in with a mutation, then runs { viewer { handle } } as that user (the session cookie)', async () => {
    const page = developer!.page;
    await setQuery(page, '{ viewer { handle } }');
    await run(page);
    await expect.poll(() => responseText(page), { timeout: 10_000 }).toContain('"viewer": null');

    await setQuery(page, `mutation { signIn(input: { handle: "${me.handle}", password: "${PASSWORD}" }) { user { handle } } }`);
    await run(page);
    await expect.poll(() => responseText(page), { timeout: 10_000 }).toContain(`"handle": "${me.handle}"`);
    const cookies = await developer!.context.cookies(base);
    expect(cookies.find((c) => c.name === 'spaces_session')?.httpOnly).toBe(true);

    await setQuery(page, '{ viewer { handle } }');
    await run(page);
    await expect.poll(() => responseText(page), { timeout: 10_000 }).toMatch(new RegExp(`"viewer": \\{ "handle": "${me.handle}" \\}`));
  });

  it('runs a subscription over the WebSocket, authenticated by the cookie', async () => {
    const page = developer!.page;
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await setQuery(page, 'subscription { notifications { kind actor { handle } space { title } } }');
    await run(page);
    await expect.poll(() => sockets.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(sockets[0]).toBe(`${base.replace(/^http/, 'ws')}/graphql`);
    // Someone the developer follows opens a space: the notification arrives in the page. Opened
    // a few times until one lands after the subscription started (a moment after the socket).
    const arrived = expect.poll(() => responseText(page), { timeout: 15_000 }).toContain('"kind": "SPACE_STARTED"');
    const opened: string[] = [];
    const opening = setInterval(() => {
      const host = hosts[opened.length];
      if (!host) return;
      opened.push(host.handle);
      void t!.gql(Q.create, { input: { title: `Open mic ${opened.length}`, speakerPolicy: 'EVERYONE' } }, { token: host.token });
    }, 1000);
    try {
      await arrived;
    } finally {
      clearInterval(opening);
    }
    const shown = await responseText(page);
    expect(opened.some((h) => shown.includes(`"handle": "${h}"`))).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'graphiql-subscription.png') });
  });

  it('needed nothing from another origin and broke no CSP rule', async () => {
    const page = developer!.page;
    expect(offOrigin).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? [])).toEqual([]);
    expect(developer!.problems.filter((p) => /Content Security Policy|Refused to/i.test(p))).toEqual([]);
  });
});
