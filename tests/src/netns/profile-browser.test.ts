import { beforeAll, describe, expect, it } from 'vitest';
import { handle } from '../support/app.ts';
import { pageGraphQL, PHONE, signUpWithForm, solidPng, type Person } from '../support/browser.ts';
import { browserSuite } from '../support/browser-suite.ts';

/**
 * Profiles, search and suggested people in headless Chromium, through the built PWA served by
 * the API (no voice: nobody joins a space here).
 *
 * A brand-new account sees "People to follow" on home (the most followed accounts) and follows
 * one; edits their profile: a bio with an emoji (drawn with the app's own emoji font) and an
 * avatar uploaded from a generated PNG (the server's WebP rendition then shows on the profile and,
 * small, in search results), a file that is not an image is refused in words; search finds a
 * person and a space, pages people with "Show more", and says so when nothing matches. Every new
 * screen gets an axe-core pass and screenshots at phone and desktop widths in
 * tests/artifacts/screenshots/ (gitignored).
 */
const suite = browserSuite({ name: 'profile-browser', media: true, people: { newcomer: {} } });
const { a11y, screen } = suite;
let base = '';
let newcomer: Person | undefined;

const me = { handle: handle('pn'), name: 'Nia Newcomer' };
const popular = { name: 'Hana Popular' } as { name: string; handle: string; id: string };
const SPACE_TITLE = 'Late night jazz talk';
/** More people named alike than a page of search results holds (10). */
const QUILLS = 12;

beforeAll(async () => {
  const t = suite.t;
  ({ base } = suite);
  newcomer = suite.people.newcomer;

  // The most followed account is what a new account is offered first.
  const hana = await t.signUp(handle('hana'), popular.name);
  Object.assign(popular, { handle: hana.handle, id: hana.id });
  const fans = await Promise.all([1, 2, 3].map((n) => t.signUp(handle('fan'), `Fan ${n}`)));
  for (const fan of fans) {
    const r = await t.gql('mutation($u: ID!) { follow(userId: $u) { id } }', { u: hana.id }, { token: fan.token });
    expect(r.errors).toBeUndefined();
  }
  for (let n = 1; n <= QUILLS; n++) await t.signUp(handle('quill'), `Quill Writer ${n}`);
  // A scheduled space (no mixer needed) for search to find.
  const at = new Date(Date.now() + 3 * 86_400_000).toISOString();
  const space = await t.gql(
    'mutation($input: CreateSpaceInput!) { createSpace(input: $input) { id } }',
    { input: { title: SPACE_TITLE, speakerPolicy: 'EVERYONE', scheduledFor: at } },
    { token: hana.token },
  );
  expect(space.errors).toBeUndefined();
}, 60_000);

describe('profiles, search and suggested people in the browser', () => {
  it('a new account sees people to follow on home and follows one', async () => {
    const page = newcomer!.page;
    await signUpWithForm(page, base, me.handle, me.name);
    await page.goto(base);
    const suggestions = page.getByRole('region', { name: 'People to follow' });
    await suggestions.getByRole('link', { name: new RegExp(popular.name) }).waitFor();
    // The most followed account comes first.
    await expect(suggestions.getByRole('listitem').first().textContent()).resolves.toContain(popular.name);
    await screen(newcomer!, 'p01-home-suggested');

    const follow = suggestions.getByRole('button', { name: `Follow ${popular.name}` });
    await follow.click();
    await suggestions.getByRole('button', { name: `Following ${popular.name}` }).waitFor();
    expect(await suggestions.getByRole('button', { name: `Following ${popular.name}` }).getAttribute('aria-pressed')).toBe('true');
    // The server has it too (the button turns at once; the mutation may still be on its way).
    const following = () =>
      pageGraphQL<{ viewer: { followingCount: number; following: { edges: { node: { handle: string } }[] } } }>(
        page,
        '{ viewer { followingCount following(first: 5) { edges { node { handle } } } } }',
      );
    await expect.poll(async () => (await following()).data?.viewer.followingCount, { timeout: 10_000 }).toBe(1);
    const r = await following();
    expect(r.data?.viewer.following.edges.map((e) => e.node.handle)).toEqual([popular.handle]);

    // From Hana's followers: her fans are listed, and one is followed from the list itself.
    await page.goto(`${base}/u/${popular.handle}/followers`);
    const list = page.getByRole('main').getByRole('list');
    await list.getByRole('link', { name: /Fan 1/ }).waitFor();
    // The newcomer is listed too, without a button of their own.
    await list.getByRole('link', { name: new RegExp(me.name) }).waitFor();
    await expect(list.getByRole('button', { name: new RegExp(me.name) }).count()).resolves.toBe(0);
    await screen(newcomer!, 'p01b-followers-list');
    await list.getByRole('button', { name: 'Follow Fan 1' }).click();
    await expect.poll(() => list.getByRole('button', { name: 'Following Fan 1' }).getAttribute('aria-pressed')).toBe('true');
    await expect.poll(async () => (await following()).data?.viewer.followingCount, { timeout: 10_000 }).toBe(2);
  });

  it('edits the profile: a bio with an emoji, an avatar upload; a file that is not an image is refused in words', async () => {
    const page = newcomer!.page;
    await page.getByRole('link', { name: `Your profile, @${me.handle}` }).click();
    await page.getByRole('heading', { name: me.name }).waitFor();
    await page.getByRole('button', { name: 'Edit profile' }).click();
    const editor = page.getByRole('form', { name: 'Edit profile' });
    await editor.waitFor();
    await screen(newcomer!, 'p02-profile-editor');

    // Not an image (but claiming to be one): the server refuses it, the form says what to do.
    await editor.getByLabel('Add a picture').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are not pixels') });
    await editor.getByRole('alert').filter({ hasText: /isn't a picture/ }).waitFor();

    // A real picture: uploaded at once, then shown from the server's rendition.
    await editor.getByLabel('Add a picture').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: solidPng(640, 480, [30, 140, 200]) });
    const large = page.locator('section.profile img.face').first();
    await expect.poll(async () => (await large.getAttribute('src')) ?? '', { timeout: 15_000 }).toMatch(/^\/media\/avatars\/[0-9a-f]+-400\.webp$/);
    await expect.poll(() => large.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(400);
    await editor.getByRole('button', { name: 'Remove picture' }).waitFor();

    const bio = 'Talks about radio and late night jazz 🎷🎙️';
    await editor.getByLabel('Bio').fill(bio);
    await editor.getByText(`${160 - [...bio].length} of 160 characters left`).waitFor();
    await editor.getByRole('button', { name: 'Save' }).click();
    await page.getByText(bio).waitFor();
    await expect(editor.count()).resolves.toBe(0);

    // Kept by the server: after a reload, the bio and the avatar are still there.
    await page.reload();
    await page.getByText(bio).waitFor();
    await expect.poll(async () => (await large.getAttribute('src')) ?? '').toMatch(/-400\.webp$/);
    // The emoji are drawn with the app's emoji face (Noto Color Emoji it ships; this machine has
    // no emoji font of its own, so without it they would be empty boxes).
    const emoji = await page.evaluate(async () => {
      await document.fonts.ready;
      const faces = [...document.fonts].filter((f) => f.family.replace(/["']/g, '') === 'Spaces Emoji');
      return { statuses: faces.map((f) => f.status), covers: document.fonts.check('16px "Spaces Emoji"', '🎷') };
    });
    expect(emoji.statuses).toEqual(['loaded']);
    expect(emoji.covers).toBe(true);
    await screen(newcomer!, 'p03-profile');
  });

  it('search finds people (paged with Show more) and spaces, and helps when nothing matches', async () => {
    const page = newcomer!.page;
    await page.getByRole('link', { name: 'Search' }).click();
    await page.waitForURL(/\/search/);
    await page.getByRole('heading', { name: 'Find people and spaces' }).waitFor();
    await screen(newcomer!, 'p04-search-start');

    const box = page.getByRole('searchbox', { name: 'Search people and spaces' });
    await box.fill('hana pop');
    const people = page.getByRole('region', { name: 'People' });
    await people.getByRole('link', { name: new RegExp(popular.name) }).waitFor();
    // Followed from home: the button says so here too.
    await people.getByRole('button', { name: `Following ${popular.name}` }).waitFor();

    await box.fill('jazz');
    const spaces = page.getByRole('region', { name: 'Spaces' });
    await spaces.getByRole('link', { name: new RegExp(SPACE_TITLE) }).waitFor();
    // The person whose bio mentions jazz is not a name match: people search is by name and handle.
    await expect.poll(() => page.url()).toMatch(/[?&]q=jazz/);

    await box.fill('quill writer');
    await people.getByRole('link', { name: /Quill Writer/ }).nth(9).waitFor();
    expect(await people.getByRole('link', { name: /Quill Writer/ }).count()).toBe(10);
    await people.getByRole('button', { name: 'Show more people' }).click();
    await people.getByRole('link', { name: /Quill Writer/ }).nth(QUILLS - 1).waitFor();
    expect(await people.getByRole('button', { name: 'Show more people' }).count()).toBe(0);
    await screen(newcomer!, 'p05-search-results');

    // Their own avatar shows, small, where they appear in a list.
    await box.fill(me.handle);
    const mine = people.getByRole('link', { name: new RegExp(me.name) });
    await mine.waitFor();
    await expect.poll(async () => (await mine.locator('img').getAttribute('src')) ?? '').toMatch(/-96\.webp$/);

    await box.fill('zzqxv nobody');
    await page.getByText('No one matches “zzqxv nobody”', { exact: false }).waitFor();
    await page.getByText('No live or upcoming space matches', { exact: false }).waitFor();
    await screen(newcomer!, 'p06-search-empty');
  });

  it('works at phone width too: the search link and the editor fit', async () => {
    const page = newcomer!.page;
    await page.setViewportSize(PHONE);
    await page.goto(`${base}/u/${me.handle}`);
    await page.getByRole('button', { name: 'Edit profile' }).click();
    const editor = page.getByRole('form', { name: 'Edit profile' });
    await editor.waitFor();
    // Nothing sticks out sideways (which element does, if one does).
    const wider = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      return [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > width + 0.5)
        .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} right=${Math.round(e.getBoundingClientRect().right)}`)
        .slice(0, 5);
    });
    expect(wider).toEqual([]);
    await editor.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('link', { name: 'Search' }).waitFor();
  });

  it('has no serious or critical axe violations on the new screens, at phone and desktop widths', () => {
    expect(a11y.length).toBeGreaterThanOrEqual(12);
    expect(suite.blockingFindings()).toBe('');
    expect(newcomer!.problems.filter((p) => !/Failed to load resource.*(415|422)/.test(p))).toEqual([]);
  });
});
