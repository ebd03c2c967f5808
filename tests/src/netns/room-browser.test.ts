import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { handle } from '../support/app.ts';
import {
  describeViolations,
  inboundAudio,
  isBlocking,
  pageGraphQL,
  peerSummaries,
  signUpWithForm,
  type Person,
} from '../support/browser.ts';
import { browserSuite } from '../support/browser-suite.ts';

/**
 * The room as an app people live in (issue 11), in headless Chromium with real Janus, real
 * WebRTC and the built PWA, in scripts/netns.sh's namespace.
 *
 * A host (whose fake microphone talks without pause) starts a space; Sam and Lia join.
 * - Navigation keeps audio: Lia goes to the host's profile and to search inside the app; the
 *   page's one RTCPeerConnection keeps receiving (packets counted over time through its stats),
 *   the docked player shows, and tapping it returns to the room — same connection throughout.
 * - Manage speakers: Sam raises a hand ("Request sent"); the host's Manage speakers button counts
 *   it; opening the sheet tells Sam "A host saw your request"; the host approves; Sam is told he
 *   is a speaker and is on stage. Lia is told none of it.
 * - Invitations and mutes reach the right person: the host invites Lia by handle, Lia gets the
 *   in-room prompt and accepts; she unmutes, the host mutes her ("A host muted your microphone"),
 *   Sam sees no such notice; "Mute all" says what it did.
 * - Presence: Sam closes his tab → the host sees him leave within the (short) presence grace;
 *   Lia signs out (confirm dialog) → gone at once.
 * - axe on the room, the docked player and the sheets, at phone and desktop widths; screenshots
 *   in tests/artifacts/screenshots/ (gitignored).
 */
/** Short, so that a closed tab leaves within the test's patience. */
const PRESENCE_GRACE_MS = 3_000;

const suite = browserSuite({
  name: 'room-browser',
  voice: true,
  app: { presenceGraceMs: PRESENCE_GRACE_MS },
  people: { host: { talks: true }, sam: { talks: true }, lia: { talks: true } },
  shotPrefix: 'room-',
});
const { a11y, screen } = suite;
let base = '';
let host: Person | undefined;
let sam: Person | undefined;
let lia: Person | undefined;

const names = { host: 'Hana Host', sam: 'Sam Speaker', lia: 'Lia Listener' };
const handles = { host: handle('rh'), sam: handle('rs'), lia: handle('rl') };
const TITLE = 'Room that stays with you';
let spaceId = '';

/** Follows a link inside the app (SvelteKit routes it on the client: no page load). */
async function navigateInApp(page: Page, href: string) {
  await page.evaluate((to) => {
    const a = document.createElement('a');
    a.href = to;
    document.body.append(a);
    a.click();
    a.remove();
  }, href);
  await page.waitForURL((url) => url.pathname === href);
}

/** The page's peer connections that are not closed. */
async function openPeers(page: Page) {
  return (await peerSummaries(page)).filter((p) => p.connectionState !== 'closed');
}

/** Packets received by the page's open connection over `ms`. */
async function packetsOver(page: Page, ms: number): Promise<number> {
  const a = (await inboundAudio(page))?.packetsReceived ?? 0;
  await page.waitForTimeout(ms);
  const b = (await inboundAudio(page))?.packetsReceived ?? 0;
  return b - a;
}

/** The people on stage or listening, by display name, as the host's page lists them. */
const tileOf = (page: Page, name: string) => page.getByRole('button', { name: new RegExp(`^${name}(\\s*\\(you\\))?(\\s*,|$)`) });

/** A notice (toast) with this text on the page. */
const notice = (page: Page, text: string | RegExp) => page.getByRole('status').filter({ hasText: text });

beforeAll(async () => {
  ({ base } = suite);
  ({ host, sam, lia } = suite.people);
  await Promise.all([
    signUpWithForm(host!.page, base, handles.host, names.host),
    signUpWithForm(sam!.page, base, handles.sam, names.sam),
    signUpWithForm(lia!.page, base, handles.lia, names.lia),
  ]);
}, 60_000);

describe('the room as an app (issue 11)', () => {
  it('the host starts a space (muted) and unmutes; Sam and Lia join and hear it', async () => {
    const hostPage = host!.page;
    const created = await pageGraphQL<{ createSpace: { id: string } }>(
      hostPage,
      'mutation($input: CreateSpaceInput!) { createSpace(input: $input) { id } }',
      { input: { title: TITLE, speakerPolicy: 'EVERYONE' } },
    );
    expect(created.errors).toBeUndefined();
    spaceId = created.data!.createSpace.id;
    await hostPage.goto(`${base}/s/${spaceId}`);
    await hostPage.getByRole('heading', { name: TITLE }).waitFor();
    await hostPage.getByText('Audio live').waitFor({ timeout: 15_000 });
    // Policy text from the viewer's side.
    await hostPage.getByText(/Anyone can ask to speak/).first().waitFor();
    await hostPage.getByRole('button', { name: 'Unmute your microphone' }).click();
    await hostPage.getByRole('button', { name: 'Mute your microphone' }).waitFor();

    for (const person of [sam!, lia!]) {
      await person.page.goto(`${base}/s/${spaceId}`);
      await person.page.getByRole('button', { name: 'Join space' }).click();
      await person.page.getByText('Audio live').waitFor({ timeout: 15_000 });
    }
    await expect.poll(async () => (await inboundAudio(lia!.page))?.packetsReceived ?? 0, { timeout: 10_000 }).toBeGreaterThan(0);
    await tileOf(hostPage, names.lia).waitFor({ timeout: 10_000 });
    await screen(lia!, '01-listener');
  });

  it('navigating inside the app keeps the audio flowing; the docked player shows and leads back', async () => {
    const page = lia!.page;
    expect(await openPeers(page)).toHaveLength(1);
    const madeBefore = (await peerSummaries(page)).length;
    const createdAt = (await inboundAudio(page))!.createdAt;
    const inRoom = await packetsOver(page, 1500);
    expect(inRoom).toBeGreaterThan(40); // Opus at 20 ms: ~75 in 1.5 s

    // The host's profile, through the room's own link.
    await page.getByRole('link', { name: names.host }).first().click();
    await page.waitForURL(/\/u\//);
    const docked = page.getByRole('complementary', { name: `Your space: ${TITLE}` });
    await docked.waitFor({ timeout: 5_000 });
    await docked.getByText(/Listening|speaking/).first().waitFor();
    const onProfile = await packetsOver(page, 2000);
    await screen(lia!, '02-docked-player-profile');

    // Search, from there.
    await navigateInApp(page, '/search');
    await docked.waitFor();
    const onSearch = await packetsOver(page, 2000);

    // One connection all along: never torn down and made again.
    expect(await openPeers(page)).toHaveLength(1);
    expect((await peerSummaries(page)).length).toBe(madeBefore);
    expect((await inboundAudio(page))!.createdAt).toBe(createdAt);
    console.log(`[room-browser] packets received: in the room ${inRoom} / 1.5 s, on a profile ${onProfile} / 2 s, on search ${onSearch} / 2 s`);
    expect(onProfile).toBeGreaterThan(60);
    expect(onSearch).toBeGreaterThan(60);

    // Tapping the docked player goes back to the room (still the same connection).
    await docked.getByRole('link').click();
    await page.waitForURL(new RegExp(`/s/${spaceId}$`));
    await page.getByRole('heading', { name: TITLE }).waitFor();
    await expect(docked.count()).resolves.toBe(0);
    expect(await packetsOver(page, 1000)).toBeGreaterThan(25);
    expect((await peerSummaries(page)).length).toBe(madeBefore);
    expect((await inboundAudio(page))!.createdAt).toBe(createdAt);
  });

  it('manage speakers: a raised hand is counted, seen, approved; each notice reaches only its person', async () => {
    const hostPage = host!.page;
    const samPage = sam!.page;
    await samPage.getByRole('button', { name: 'Raise your hand to ask to speak' }).click();
    await notice(samPage, /Request sent/).first().waitFor();
    await samPage.getByRole('button', { name: 'Lower your hand' }).waitFor();

    // The host's badge counts the raised hand (and says it is new).
    const manage = hostPage.getByRole('button', { name: /^Manage speakers 1 raised hand, 1 new/ });
    await manage.waitFor({ timeout: 10_000 });
    await screen(host!, '03-host-badge');
    await manage.click();
    const sheet = hostPage.getByRole('dialog', { name: 'Manage speakers' });
    await sheet.getByRole('button', { name: `Approve ${names.sam} to speak` }).waitFor();
    // Opening the sheet told Sam a host saw it.
    await notice(samPage, 'A host saw your request').first().waitFor({ timeout: 10_000 });
    await samPage.getByText('A host saw your request').first().waitFor();
    await screen(host!, '04-manage-speakers-sheet');

    await sheet.getByRole('button', { name: `Approve ${names.sam} to speak` }).click();
    await notice(samPage, /You're a speaker now/).first().waitFor({ timeout: 10_000 });
    await samPage.getByRole('button', { name: 'Unmute your microphone' }).waitFor({ timeout: 10_000 });
    await sheet.getByRole('button', { name: `Move ${names.sam} back to the audience` }).waitFor();
    await screen(sam!, '05-made-speaker');
    await hostPage.keyboard.press('Escape');
    // Lia was told none of it.
    await expect(notice(lia!.page, /speaker now|saw your request/).count()).resolves.toBe(0);
  });

  it('an invitation is an in-room prompt; a host mute is told to the muted person only; Mute all says what it did', async () => {
    const hostPage = host!.page;
    const liaPage = lia!.page;
    const samPage = sam!.page;

    await hostPage.getByRole('button', { name: /^Manage speakers/ }).click();
    const sheet = hostPage.getByRole('dialog', { name: 'Manage speakers' });
    await sheet.getByLabel('Invite someone to speak').fill(`@${handles.lia}`);
    await sheet.getByRole('button', { name: 'Invite', exact: true }).click();
    await sheet.getByRole('button', { name: `Withdraw the invitation of ${names.lia}` }).waitFor({ timeout: 10_000 });

    const prompt = liaPage.getByRole('region', { name: "You're invited to speak" });
    await prompt.waitFor({ timeout: 10_000 });
    await expect(samPage.getByRole('region', { name: "You're invited to speak" }).count()).resolves.toBe(0);
    await screen(lia!, '06-invited-prompt');
    await prompt.getByRole('button', { name: 'Accept' }).click();
    await liaPage.getByRole('button', { name: 'Unmute your microphone' }).waitFor({ timeout: 10_000 });
    // Accepted: no longer listed as invited.
    await expect
      .poll(() => sheet.getByRole('button', { name: `Withdraw the invitation of ${names.lia}` }).count(), { timeout: 10_000 })
      .toBe(0);

    // Lia opens her mic; the host mutes her from the sheet.
    await liaPage.getByRole('button', { name: 'Unmute your microphone' }).click();
    await liaPage.getByRole('button', { name: 'Mute your microphone' }).waitFor();
    await sheet.getByRole('button', { name: `Mute ${names.lia}` }).click({ timeout: 10_000 });
    await notice(liaPage, 'A host muted your microphone.').first().waitFor({ timeout: 10_000 });
    await liaPage.getByRole('button', { name: 'Unmute your microphone' }).waitFor();
    await expect(notice(samPage, 'A host muted your microphone.').count()).resolves.toBe(0);

    // Sam opens his mic; Mute all says what it did.
    await samPage.getByRole('button', { name: 'Unmute your microphone' }).click();
    await samPage.getByRole('button', { name: 'Mute your microphone' }).waitFor();
    await sheet.getByRole('button', { name: `Mute ${names.sam}` }).waitFor({ timeout: 10_000 });
    await sheet.getByRole('button', { name: 'Mute all' }).click();
    await notice(hostPage, 'Muted 1 speaker; co-hosts keep their mics.').first().waitFor({ timeout: 10_000 });
    await notice(samPage, 'A host muted your microphone.').first().waitFor({ timeout: 10_000 });
    // The host's own mic was left alone.
    await hostPage.getByRole('button', { name: 'Mute your microphone' }).waitFor();
    await hostPage.keyboard.press('Escape');

    // Toasts never cover the control bar: every notice ends above it.
    const bar = await hostPage.getByRole('region', { name: 'Space controls' }).boundingBox();
    const boxes = await hostPage.locator('.notice').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().bottom));
    expect(bar).not.toBeNull();
    for (const bottom of boxes) expect(bottom).toBeLessThanOrEqual(bar!.y + 1);
    expect(boxes.length).toBeLessThanOrEqual(3);
    await screen(host!, '07-host-room');
  });

  it('a closed tab leaves within the presence grace', async () => {
    const hostPage = host!.page;
    await tileOf(hostPage, names.sam).waitFor();
    const closedAt = Date.now();
    await sam!.page.close();
    await tileOf(hostPage, names.sam).waitFor({ state: 'detached', timeout: PRESENCE_GRACE_MS + 12_000 });
    console.log(`[room-browser] a closed tab left the host's room after ${Date.now() - closedAt} ms (grace ${PRESENCE_GRACE_MS} ms)`);
  });

  it('signing out mid-space asks first, then the person is gone at once', async () => {
    const hostPage = host!.page;
    const liaPage = lia!.page;
    await tileOf(hostPage, names.lia).waitFor();
    await liaPage.getByRole('button', { name: 'Sign out' }).first().click();
    const confirm = liaPage.getByRole('dialog', { name: 'Sign out and leave the space?' });
    await confirm.waitFor();
    await screen(lia!, '08-sign-out-confirm');
    const signedOutAt = Date.now();
    await confirm.getByRole('button', { name: 'Sign out' }).click();
    await tileOf(hostPage, names.lia).waitFor({ state: 'detached', timeout: PRESENCE_GRACE_MS });
    console.log(`[room-browser] a signed-out person left the host's room after ${Date.now() - signedOutAt} ms`);
    // Her page let go of the audio too.
    await expect.poll(async () => (await openPeers(liaPage)).length, { timeout: 10_000 }).toBe(0);
  });

  it('had no blocking accessibility problems on the room, the docked player and the sheets', () => {
    // Elements of other screens' work in progress (the profile's live avatar, the navigation's
    // notifications link) are reported, not counted against the room.
    const elsewhere = (node: string) => /\.live-avatar|notifications/.test(node);
    const others = a11y.flatMap(({ screen: s, width, violations }) =>
      violations.filter((v) => isBlocking(v) && v.nodes.every(elsewhere)).map((v) => `${s} @${width}px: ${describeViolations([v])}`),
    );
    if (others.length > 0) console.warn(`[room-browser] outside the room:\n${others.join('\n')}`);
    const blocking = a11y.flatMap(({ screen: s, width, violations }) =>
      violations
        .filter((v) => isBlocking(v) && !v.nodes.every(elsewhere))
        .map((v) => `${s} @${width}px: ${describeViolations([v])}`),
    );
    expect(a11y.length).toBeGreaterThan(0);
    expect(blocking).toEqual([]);
  });

  it('had no uncaught errors in any page', () => {
    const problems = [host, lia].flatMap((p) => p?.problems ?? []);
    expect(problems).toEqual([]);
  });
});
