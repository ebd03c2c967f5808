import { beforeAll, describe, expect, it } from 'vitest';
import { handle } from '../support/app.ts';
import {
  countMicRequests,
  inboundAudio,
  micRequests,
  pageGraphQL,
  PASSWORD,
  receivedLoudness,
  signUpWithForm,
  type Person,
} from '../support/browser.ts';
import { browserSuite } from '../support/browser-suite.ts';

/**
 * Signed-out listening and sharing (issue 11) in headless Chromium, with real Janus and real
 * audio, through the built PWA. Runs in scripts/netns.sh's namespace.
 *
 * A host (fake microphone talking without pause) starts a space. A signed-out visitor opens its
 * link, chooses "Listen without an account" and hears the host as a guest (no microphone asked
 * for); the guest cannot raise a hand and is told why; the header offers Sign in / Create account
 * instead of a profile. The visitor signs in from there and lands back on the space, signed in
 * with their account. The share button copies the space's link (clipboard, as on desktop
 * Chromium without the Web Share API) and, where navigator.share exists, hands the link to it.
 * Screenshots and axe at phone and desktop widths in tests/artifacts/screenshots/.
 */
const suite = browserSuite({ name: 'guest-browser', voice: true, people: { host: { talks: true }, visitor: {} } });
const { a11y, screen } = suite;
let base = '';
let host: Person | undefined;
let visitor: Person | undefined;
let spaceUrl = '';
let spaceId = '';
const TITLE = 'Open mic for everyone';
const hostHandle = handle('gbh');
const member = { handle: handle('gbm'), name: 'Vi Visitor' };

beforeAll(async () => {
  ({ base } = suite);
  ({ host, visitor } = suite.people);
  // The visitor has an account already, used when they sign in from the space.
  await suite.t.signUp(member.handle, member.name);
  await countMicRequests(visitor!.context);
  await visitor!.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await signUpWithForm(host!.page, base, hostHandle, 'Gia Host');
}, 60_000);

describe('listening without an account', () => {
  it('a signed-out visitor opens the link and listens as a guest: hears the host, no microphone', async () => {
    const hostPage = host!.page;
    await hostPage.goto(base);
    await hostPage.getByRole('button', { name: 'Start a space' }).first().click();
    await hostPage.getByLabel('Title').fill(TITLE);
    await hostPage.getByRole('radio', { name: /^Everyone/ }).check();
    await hostPage.getByRole('button', { name: 'Start now' }).click();
    await hostPage.waitForURL(/\/s\/[^/]+$/);
    spaceUrl = hostPage.url();
    spaceId = new URL(spaceUrl).pathname.split('/').pop()!;
    await hostPage.getByText('Audio live').waitFor({ timeout: 15_000 });
    await hostPage.getByRole('button', { name: 'Unmute your microphone' }).click();
    await hostPage.getByRole('button', { name: 'Mute your microphone' }).waitFor();

    const page = visitor!.page;
    await page.goto(spaceUrl);
    const listen = page.getByRole('button', { name: 'Listen without an account' });
    await listen.waitFor({ timeout: 10_000 });
    // Sign in / create account from here come back to the space.
    const next = `next=${encodeURIComponent(`/s/${spaceId}`)}`;
    const prompt = page.getByRole('region', { name: 'Listen in' });
    expect(await prompt.getByRole('link', { name: 'Sign in' }).getAttribute('href')).toBe(`/signin?${next}`);
    expect(await prompt.getByRole('link', { name: 'Create account' }).getAttribute('href')).toBe(`/signup?${next}`);
    await screen(visitor!, 'guest-prompt');

    await listen.click();
    await page.getByText('Audio live').waitFor({ timeout: 15_000 });
    const me = await pageGraphQL<any>(page, `{ viewer { isGuest displayName } }`);
    expect(me.data?.viewer).toEqual({ isGuest: true, displayName: 'Guest' });
    const participant = await pageGraphQL<any>(page, `query($s: ID!) { space(id: $s) { viewerParticipant { role } } }`, { s: spaceId });
    expect(participant.data?.space.viewerParticipant).toEqual({ role: 'LISTENER' });
    // The host's voice reaches the guest; no microphone was asked for.
    await expect.poll(async () => (await inboundAudio(page))?.audioLevel ?? 0, { timeout: 10_000 }).toBeGreaterThan(0.02);
    const heard = await receivedLoudness(page, 1_000);
    expect(heard.packets).toBeGreaterThan(30);
    expect(heard.meanSquare).toBeGreaterThan(1e-3);
    expect(await micRequests(page)).toBe(0);
    // The host sees the guest in the audience, as "Guest".
    await hostPage.getByText('Guest', { exact: true }).first().waitFor({ timeout: 10_000 });
  }, 120_000); // a loaded machine: starting Chromium's audio and two connections took 38 s once

  it('a guest cannot raise a hand, and is told why; the header offers Sign in / Create account', async () => {
    const page = visitor!.page;
    const controls = page.getByRole('region', { name: 'Space controls' });
    await expect.poll(() => controls.getByRole('button', { name: 'Raise your hand to ask to speak' }).count()).toBe(0);
    await expect.poll(async () => (await controls.innerText()).toLowerCase(), { timeout: 5_000 }).toMatch(/sign in|account|guest/);
    // Nor react: no picker to offer what the API refuses.
    expect(await controls.getByRole('button', { name: 'React' }).count()).toBe(0);
    // The API refuses it too.
    const raised = await pageGraphQL(page, `mutation($s: ID!) { requestToSpeak(spaceId: $s, raised: true) { id } }`, { s: spaceId });
    expect(raised.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'GUEST' });

    const account = page.getByRole('navigation', { name: 'Account' });
    await account.getByRole('link', { name: 'Sign in' }).waitFor();
    await account.getByRole('link', { name: 'Create account' }).waitFor();
    expect(await account.getByRole('link', { name: /Your profile/ }).count()).toBe(0);
    await screen(visitor!, 'guest-listening');
  });

  it('the share button copies the link to the space', async () => {
    const page = visitor!.page;
    // Desktop Chromium on Linux has no Web Share API: the fallback copies the link.
    expect(await page.evaluate(() => typeof navigator.share)).toBe('undefined');
    await page.getByRole('button', { name: 'Share this space' }).click();
    await page.getByText('Link copied').waitFor({ timeout: 5_000 });
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${base}/s/${spaceId}`);

    // Where the browser has it (phones), the link goes to the system share sheet instead.
    await page.evaluate(() => {
      (window as any).__shared = [];
      (navigator as any).share = async (data: unknown) => void (window as any).__shared.push(data);
    });
    await page.getByRole('button', { name: 'Share this space' }).click();
    await expect.poll(() => page.evaluate(() => (window as any).__shared)).toEqual([
      { title: TITLE, text: TITLE, url: `${base}/s/${spaceId}` },
    ]);
    await page.evaluate(() => delete (navigator as any).share);
  });

  it('signing in from the space comes back to it, with the account (the guest session is over)', async () => {
    const page = visitor!.page;
    await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL(/\/signin\?next=/);
    await page.getByLabel('Handle').fill(member.handle);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/s/${spaceId}`, { timeout: 10_000 });
    await page.getByRole('link', { name: `Your profile, @${member.handle}` }).waitFor();
    const me = await pageGraphQL<any>(page, `{ viewer { handle isGuest } }`);
    expect(me.data?.viewer).toEqual({ handle: member.handle, isGuest: false });
    // The guest left the space when its session ended; the member may join as themself.
    await page.getByRole('button', { name: 'Join space' }).waitFor({ timeout: 10_000 });
    const audience = await pageGraphQL<any>(
      host!.page,
      `query($s: ID!) { space(id: $s) { participants(first: 50) { edges { node { user { isGuest } } } } } }`,
      { s: spaceId },
    );
    expect(audience.data?.space.participants.edges.filter((e: any) => e.node.user.isGuest)).toEqual([]);
  });

  it('has no serious or critical axe violations on the guest screens, at phone and desktop widths', () => {
    expect(a11y.length).toBe(4);
    expect(suite.blockingFindings()).toBe('');
  });

  it('the visitor\'s page had no errors: a guest never hits a refused subscription or mutation', () => {
    if (visitor!.problems.length > 0) console.log(`[guest-browser] visitor page problems:\n${visitor!.problems.join('\n')}`);
    expect(visitor!.problems.filter((p) => /page error|GUEST|FORBIDDEN/.test(p))).toEqual([]);
  });
});
