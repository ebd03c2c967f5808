import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { handle } from '../support/app.ts';
import { pageGraphQL, signUpWithForm, solidPng, type Person } from '../support/browser.ts';
import { browserSuite } from '../support/browser-suite.ts';

/**
 * Fleets in headless Chromium, through the built PWA served by the API (no voice).
 *
 * Ava posts a photo fleet (a generated PNG, uploaded to /media/fleet-photo) with a caption and a
 * text fleet that only people she follows may reply to. Finn (whom Ava follows) sees her unseen
 * ring on the bar, opens it, sees both (the arrow key moves on), replies, and the ring turns seen.
 * Sam (who follows Ava, but whom she does not follow) reads "Only people @ava follows can reply"
 * instead of the reply box. Ava sees "2 views", who viewed it, the reply, and the FLEET_REPLY
 * notification badge. axe-core on the bar, the composer and the viewer (both sides) at phone and
 * desktop widths; screenshots in tests/artifacts/screenshots/ (gitignored).
 */
const suite = browserSuite({ name: 'fleets-browser', media: true, people: { ava: {}, finn: {}, sam: {} } });
const { a11y, screen } = suite;
let base = '';
let ava: Person | undefined;
let finn: Person | undefined;
let sam: Person | undefined;

const names = { ava: 'Ava Author', finn: 'Finn Friend', sam: 'Sam Stranger' };
const handles = { ava: handle('fa'), finn: handle('ff'), sam: handle('fs') };
const CAPTION = 'Sunset over the bay';
const TEXT = 'Who is coming to the jam tonight?';
const REPLY = 'Count me in!';

/** Pauses the fleets (the Pause toggle): nothing moves on while screenshots and axe run. */
async function hold(page: Page) {
  const pause = page.getByRole('button', { name: 'Pause', exact: true });
  await pause.click();
  await expect.poll(() => pause.getAttribute('aria-pressed')).toBe('true');
  await page.getByText('Paused').waitFor();
}

async function userId(page: Page, h: string): Promise<string> {
  const r = await pageGraphQL<{ user: { id: string } }>(page, 'query($h: String!) { user(handle: $h) { id } }', { h });
  return r.data!.user.id;
}
async function follow(page: Page, h: string) {
  const r = await pageGraphQL(page, 'mutation($u: ID!) { follow(userId: $u) { id } }', { u: await userId(page, h) });
  expect(r.errors).toBeUndefined();
}

beforeAll(() => {
  ({ base } = suite);
  ({ ava, finn, sam } = suite.people);
});

describe('fleets in the browser', () => {
  it('Ava posts a photo fleet with a caption and a text fleet only people she follows may reply to', async () => {
    await Promise.all([
      signUpWithForm(ava!.page, base, handles.ava, names.ava),
      signUpWithForm(finn!.page, base, handles.finn, names.finn),
      signUpWithForm(sam!.page, base, handles.sam, names.sam),
    ]);
    await follow(finn!.page, handles.ava);
    await follow(sam!.page, handles.ava);
    await follow(ava!.page, handles.finn);

    const page = ava!.page;
    await page.goto(base);
    const main = page.getByRole('main');
    await main.getByRole('button', { name: 'Add a fleet' }).click();
    const sheet = page.getByRole('dialog', { name: 'Add a fleet' });
    await sheet.waitFor();
    // Text first: the counter counts down.
    await sheet.getByRole('textbox', { name: 'Your fleet’s text' }).fill('Hi');
    await sheet.getByText('278 of 280 characters left').waitFor();
    await screen(ava!, 'f01-composer-text');

    await sheet.getByRole('radio', { name: 'Photo' }).check();
    // Not an image: the server says so in words, nothing is posted.
    await sheet.getByLabel('Choose a photo').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not pixels') });
    await sheet.getByLabel('Caption (optional)').fill(CAPTION);
    await sheet.getByRole('button', { name: 'Post fleet' }).click();
    await sheet.getByText(/isn't a photo Spaces can read/).waitFor({ timeout: 15_000 });

    await sheet.getByLabel(/Choose (a|another) photo/).setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: solidPng(900, 600, [230, 120, 40]) });
    await sheet.getByRole('img', { name: 'Your choice, as it will be posted' }).waitFor();
    await screen(ava!, 'f02-composer-photo');
    await sheet.getByRole('button', { name: 'Post fleet' }).click();
    await expect.poll(() => sheet.count(), { timeout: 15_000 }).toBe(0);

    // Her own bubble now opens her fleets; "Add a fleet" is its own button beside it.
    await main.getByRole('link', { name: /Your fleets/ }).waitFor({ timeout: 15_000 });
    await main.getByRole('button', { name: 'Add a fleet' }).click();
    await sheet.waitFor();
    await sheet.getByRole('textbox', { name: 'Your fleet’s text' }).fill(TEXT);
    await sheet.getByRole('radio', { name: 'Green' }).check();
    await sheet.getByRole('radio', { name: /People I follow/ }).check();
    await sheet.getByRole('checkbox', { name: 'Make this my default' }).waitFor();
    await sheet.getByRole('button', { name: 'Post fleet' }).click();
    await expect.poll(() => sheet.count(), { timeout: 15_000 }).toBe(0);

    const mine = await pageGraphQL<{ viewer: { fleets: { kind: string; caption: string | null; text: string | null; replyPolicy: string; background: string; photoUrl: string | null }[] } }>(
      page,
      '{ viewer { fleets { kind caption text replyPolicy background photoUrl } } }',
    );
    expect(mine.data?.viewer.fleets).toMatchObject([
      { kind: 'PHOTO', caption: CAPTION, replyPolicy: 'EVERYONE' },
      { kind: 'TEXT', text: TEXT, replyPolicy: 'FOLLOWING', background: 'GREEN' },
    ]);
    expect(mine.data?.viewer.fleets[0]!.photoUrl).toMatch(/\.webp$/);
  });

  it('Finn sees the unseen ring, opens it, moves on with the arrow key, replies; the ring turns seen', async () => {
    const page = finn!.page;
    await page.goto(base);
    const bubble = page.getByRole('main').getByRole('link', { name: new RegExp(`fleets by ${names.ava}, new`) });
    await bubble.waitFor({ timeout: 15_000 });
    await screen(finn!, 'f03-bar-unseen');
    await bubble.click();
    await page.waitForURL(new RegExp(`/fleets/${handles.ava}$`));
    const viewer = page.getByRole('dialog', { name: `Fleets by ${names.ava}` });
    await viewer.waitFor();
    await hold(page);
    await viewer.getByText('Fleet 1 of 2').first().waitFor();
    await viewer.getByText(CAPTION).waitFor();
    const photo = viewer.getByRole('img', { name: `Fleet by ${names.ava}` });
    await expect.poll(() => photo.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 15_000 }).toBeGreaterThan(0);
    await screen(finn!, 'f04-viewer-photo');

    await page.keyboard.press('ArrowRight');
    await viewer.getByText('Fleet 2 of 2').first().waitFor();
    await viewer.getByText(TEXT).waitFor();
    const box = viewer.getByLabel(`Reply privately to @${handles.ava}`);
    await box.fill(REPLY);
    await viewer.getByRole('button', { name: 'Send' }).click();
    await viewer.getByRole('status').filter({ hasText: `Sent to @${handles.ava}` }).waitFor();
    await screen(finn!, 'f05-viewer-replied');

    // Escape closes the viewer; home's ring is grey now (all seen).
    await page.keyboard.press('Escape');
    await expect.poll(() => viewer.count(), { timeout: 10_000 }).toBe(0);
    await page.getByRole('main').getByRole('link', { name: new RegExp(`fleets by ${names.ava}, seen`) }).waitFor({ timeout: 15_000 });
    const bar = await pageGraphQL<{ fleetsBar: { hasUnseen: boolean; user: { handle: string } }[] }>(page, '{ fleetsBar { hasUnseen user { handle } } }');
    expect(bar.data?.fleetsBar).toEqual([{ hasUnseen: false, user: { handle: handles.ava } }]);
  });

  it('Sam, whom Ava does not follow, reads why he cannot reply to the second fleet', async () => {
    const page = sam!.page;
    await page.goto(`${base}/fleets/${handles.ava}`);
    const viewer = page.getByRole('dialog', { name: `Fleets by ${names.ava}` });
    await viewer.waitFor();
    await hold(page);
    // The first (everyone may reply) has the box.
    await viewer.getByLabel(`Reply privately to @${handles.ava}`).waitFor();
    await page.keyboard.press('ArrowRight');
    await viewer.getByText('Fleet 2 of 2').first().waitFor();
    await viewer.getByText(`Only people @${handles.ava} follows can reply.`).waitFor();
    await expect(viewer.getByLabel(`Reply privately to @${handles.ava}`).count()).resolves.toBe(0);
    await screen(sam!, 'f06-viewer-refused');
    // The server says the same.
    const fleets = await pageGraphQL<{ user: { fleets: { id: string }[] } }>(page, 'query($h: String!) { user(handle: $h) { fleets { id } } }', { h: handles.ava });
    const refused = await pageGraphQL(page, 'mutation($f: ID!) { replyToFleet(fleetId: $f, input: { text: "hi" }) { id } }', { f: fleets.data!.user.fleets[1]!.id });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_FOLLOWED' });
  });

  it('Ava sees the notification badge, "2 views" with who viewed, and the reply', async () => {
    const page = ava!.page;
    await page.goto(base);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: /^Notifications\s*,\s*1 unread$/ }).waitFor({ timeout: 15_000 });

    await page.getByRole('main').getByRole('link', { name: /Your fleets/ }).click();
    const viewer = page.getByRole('dialog', { name: `Fleets by ${names.ava}` });
    await viewer.waitFor();
    await hold(page);
    await viewer.getByRole('button', { name: '2 views' }).click();
    const viewers = viewer.getByRole('list', { name: 'People who viewed this fleet' });
    await viewers.getByRole('link', { name: names.finn }).waitFor();
    await viewers.getByRole('link', { name: names.sam }).waitFor();
    await screen(ava!, 'f07-viewer-author-views');
    await viewer.getByRole('button', { name: 'Back to the fleet' }).click();
    await viewer.getByRole('button', { name: 'Delete' }).waitFor();
    await screen(ava!, 'f08-viewer-author');

    // The notification says who replied and opens that fleet with its replies.
    await page.keyboard.press('Escape');
    await expect.poll(() => viewer.count(), { timeout: 10_000 }).toBe(0);
    await nav.getByRole('link', { name: /^Notifications/ }).click();
    const notice = page.getByRole('list', { name: 'Your notifications' }).getByRole('link', { name: `@${handles.finn} replied to your fleet` });
    await notice.waitFor();
    await notice.click();
    await viewer.waitFor();
    const replies = viewer.getByRole('list', { name: 'Replies to this fleet' });
    await replies.getByText(REPLY).waitFor();
    await viewer.getByText('Fleet 2 of 2').first().waitFor();
    await screen(ava!, 'f09-viewer-replies');
  });

  it('has no serious or critical axe violations on the bar, the composer and the viewer, at phone and desktop widths', () => {
    expect(a11y.length).toBeGreaterThanOrEqual(18);
    expect(suite.blockingFindings()).toBe('');
    const problems = [ava, finn, sam].flatMap((p) => p!.problems).filter((p) => !/Failed to load resource.*(400|415|422)/.test(p));
    expect(problems).toEqual([]);
  });
});
