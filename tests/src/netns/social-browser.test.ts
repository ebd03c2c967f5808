import { beforeAll, describe, expect, it } from 'vitest';
import { handle } from '../support/app.ts';
import { DESKTOP, pageGraphQL, PHONE, signUpWithForm, type Person } from '../support/browser.ts';
import { browserSuite } from '../support/browser-suite.ts';

/**
 * Home, scheduled spaces, reminders and notifications in headless Chromium, through the built PWA
 * served by the API, with a real Janus (the host starts the space). Runs in scripts/netns.sh's
 * namespace.
 *
 * Hana (Berlin) schedules a space from the "Start a space" sheet; Finn (New York, a follower)
 * sees it on home in his own clock and zone, in the spaces bar ("soon") and under Upcoming, and
 * sets a reminder. Hana edits the title (Finn sees the new one), then starts it: Finn's unread
 * badge goes up without a reload, the notifications page says "Hana started …: you set a reminder"
 * and he opens the space from there. The bar shows Hana's live ring,
 * and so does her profile. Hana cancels another scheduled space and Finn, who had a reminder, is
 * told. The navigation is a rail at 1280 px and a bottom bar at 390 px. axe-core on home, the
 * start sheet, notifications and a profile at phone and desktop widths; screenshots in
 * tests/artifacts/screenshots/ (gitignored).
 */
const HANA_ZONE = 'Europe/Berlin';
const FINN_ZONE = 'America/New_York';

const suite = browserSuite({ name: 'social-browser', voice: true, people: { hana: { timezoneId: HANA_ZONE }, finn: { timezoneId: FINN_ZONE } } });
const { a11y, screen } = suite;
let base = '';
let hana: Person | undefined;
let finn: Person | undefined;

const names = { hana: 'Hana Host', finn: 'Finn Follower' };
const handles = { hana: handle('sh'), finn: handle('sf') };
const TITLE = 'Jazz at night';
const NEW_TITLE = 'Jazz at midnight';
const OTHER_TITLE = 'Sunday brunch chat';
/** The scheduled space's start, 3 hours from now (within the bar's 24 hours). */
const startsAt = new Date(Date.now() + 3 * 3_600_000);
startsAt.setSeconds(0, 0);
let spaceId = '';
let otherId = '';

/** "20:00" and the zone's short name ("CET", "EST"), as a clock in `timeZone` shows `at`. */
function clockIn(at: Date, timeZone: string): { time: string; zone: string } {
  const parts = (locale: string) =>
    new Intl.DateTimeFormat(locale, { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' }).formatToParts(at);
  const part = (locale: string, type: string) => parts(locale).find((p) => p.type === type)?.value ?? '';
  const british = part('en-GB', 'timeZoneName');
  const zone = /^GMT[+-]/.test(british) ? part('en-US', 'timeZoneName') : british;
  return { time: `${part('en-GB', 'hour')}:${part('en-GB', 'minute')}`, zone };
}

beforeAll(() => {
  ({ base } = suite);
  ({ hana, finn } = suite.people);
});

describe('home, scheduled spaces, reminders and notifications in the browser', () => {
  it('Finn follows Hana; Hana schedules a space from the start sheet', async () => {
    await Promise.all([signUpWithForm(hana!.page, base, handles.hana, names.hana), signUpWithForm(finn!.page, base, handles.finn, names.finn)]);
    const who = await pageGraphQL<{ user: { id: string } }>(finn!.page, 'query($h: String!) { user(handle: $h) { id } }', { h: handles.hana });
    const follow = await pageGraphQL(finn!.page, 'mutation($u: ID!) { follow(userId: $u) { id } }', { u: who.data!.user.id });
    expect(follow.errors).toBeUndefined();

    const page = hana!.page;
    await page.goto(base);
    // Home has no form on every visit: a button opens the sheet.
    await expect(page.getByLabel('Title').count()).resolves.toBe(0);
    await page.getByRole('main').getByRole('button', { name: 'Start a space' }).click();
    const sheet = page.getByRole('dialog', { name: 'Start a space' });
    await sheet.getByLabel('Title').fill(TITLE);
    await sheet.getByRole('checkbox', { name: 'Schedule for later' }).check();
    await screen(hana!, 's01-start-sheet');
    // The datetime-local field takes Hana's own wall clock (Berlin).
    const local = await page.evaluate((iso) => {
      const d = new Date(iso);
      const pad = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    }, startsAt.toISOString());
    await sheet.getByLabel('Starts at').fill(local);
    await sheet.getByRole('button', { name: 'Schedule space' }).click();
    await page.waitForURL(/\/s\/[^/]+$/);
    spaceId = page.url().split('/s/')[1]!;
    await expect(sheet.count()).resolves.toBe(0);

    const stored = await pageGraphQL<{ space: { state: string; scheduledFor: string } }>(page, 'query($id: ID!) { space(id: $id) { state scheduledFor } }', { id: spaceId });
    expect(stored.data?.space.state).toBe('SCHEDULED');
    expect(new Date(stored.data!.space.scheduledFor).getTime()).toBe(startsAt.getTime());

    // A second one (to cancel later), through the API.
    const other = await pageGraphQL<{ createSpace: { id: string } }>(
      page,
      'mutation($input: CreateSpaceInput!) { createSpace(input: $input) { id } }',
      { input: { title: OTHER_TITLE, speakerPolicy: 'EVERYONE', scheduledFor: new Date(Date.now() + 2 * 86_400_000).toISOString() } },
    );
    expect(other.errors).toBeUndefined();
    otherId = other.data!.createSpace.id;
  });

  it("Finn sees it on home in his own zone, in the bar and under Upcoming, and sets reminders", async () => {
    const page = finn!.page;
    await page.goto(base);
    const upcoming = page.getByRole('region', { name: 'Upcoming' });
    const card = upcoming.getByRole('link', { name: new RegExp(TITLE) });
    await card.waitFor();
    // New York's clock and zone, not Berlin's.
    const ny = clockIn(startsAt, FINN_ZONE);
    const berlin = clockIn(startsAt, HANA_ZONE);
    expect(ny.time).not.toBe(berlin.time);
    await expect(card.locator('time').textContent()).resolves.toMatch(new RegExp(`(Today|Tomorrow) at ${ny.time} ${ny.zone}`));

    // The spaces bar: Hana's bubble, "soon", with the time.
    const bubble = page.getByRole('link', { name: new RegExp(`^Hana\\s*Soon · ${ny.time}\\s*: ${TITLE}, hosted by ${names.hana}, starts`) });
    await bubble.waitFor();

    await upcoming.getByRole('button', { name: `Set reminder for ${TITLE}` }).click();
    await upcoming.getByRole('button', { name: `Reminder set for ${TITLE}` }).waitFor();
    await upcoming.getByRole('button', { name: `Set reminder for ${OTHER_TITLE}` }).click();
    await upcoming.getByRole('button', { name: `Reminder set for ${OTHER_TITLE}` }).waitFor();
    expect(await upcoming.getByRole('button', { name: `Reminder set for ${TITLE}` }).getAttribute('aria-pressed')).toBe('true');
    const server = await pageGraphQL<{ space: { viewerHasReminder: boolean; reminderCount: number } }>(
      page,
      'query($id: ID!) { space(id: $id) { viewerHasReminder reminderCount } }',
      { id: spaceId },
    );
    expect(server.data?.space).toEqual({ viewerHasReminder: true, reminderCount: 1 });
    await screen(finn!, 's02-home-upcoming');

    // Hana reads the same start on her own clock.
    await hana!.page.goto(`${base}/u/${handles.hana}`);
    const own = hana!.page.getByRole('region', { name: 'Upcoming spaces' }).getByRole('link', { name: new RegExp(TITLE) });
    await expect(own.locator('time').textContent()).resolves.toMatch(new RegExp(`at ${berlin.time} ${berlin.zone}`));
  });

  it('Hana edits the title; Finn sees the new one', async () => {
    const page = hana!.page;
    await page.goto(`${base}/s/${spaceId}`);
    await page.getByRole('button', { name: 'Edit space' }).waitFor();
    await screen(hana!, 's06-scheduled-host');
    await page.getByRole('button', { name: 'Edit space' }).click();
    const form = page.getByRole('form', { name: 'Edit scheduled space' });
    await form.getByLabel('Title').fill(NEW_TITLE);
    await form.getByRole('button', { name: 'Save changes' }).click();
    await form.waitFor({ state: 'detached' });
    await page.getByRole('heading', { name: NEW_TITLE }).first().waitFor();

    await finn!.page.reload();
    await finn!.page.getByRole('region', { name: 'Upcoming' }).getByRole('link', { name: new RegExp(NEW_TITLE) }).waitFor();
    // The space's own page: for Finn, his reminder (set from home) and the count.
    await finn!.page.goto(`${base}/s/${spaceId}`);
    await finn!.page.getByRole('button', { name: `Reminder set for ${NEW_TITLE}` }).waitFor();
    await finn!.page.getByText('1 reminder', { exact: true }).waitFor();
    await screen(finn!, 's07-scheduled-follower');
    await finn!.page.goto(base);
  });

  it('Hana starts it: Finn is told live, reads it on the notifications page and opens the space from there', async () => {
    const page = finn!.page;
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Notifications', exact: true }).waitFor();

    await hana!.page.getByRole('button', { name: 'Start now' }).click();
    // SPACE_REMINDER (a reminder holder is told by that, not also by SPACE_STARTED), without a reload.
    await nav.getByRole('link', { name: /^Notifications\s*,\s*1 unread$/ }).waitFor({ timeout: 15_000 });
    await screen(finn!, 's08-unread-badge');

    await nav.getByRole('link', { name: /^Notifications/ }).click();
    await page.waitForURL(/\/notifications$/);
    const list = page.getByRole('list', { name: 'Your notifications' });
    const reminder = list.getByRole('link', { name: `${names.hana} started “${NEW_TITLE}”: you set a reminder` });
    await reminder.waitFor();
    await expect(list.getByRole('listitem').count()).resolves.toBe(1);
    // Viewing the page marks them read: the badge goes.
    await nav.getByRole('link', { name: 'Notifications', exact: true }).waitFor();
    const unread = await pageGraphQL<{ unreadNotificationCount: number }>(page, '{ unreadNotificationCount }');
    expect(unread.data?.unreadNotificationCount).toBe(0);
    // Permission is asked for only from this button (never on its own).
    const permission = await page.evaluate(() => Notification.permission);
    if (permission === 'default') await page.getByRole('button', { name: 'Turn on notifications' }).waitFor();
    await screen(finn!, 's03-notifications');

    await reminder.click();
    await page.waitForURL(new RegExp(`/s/${spaceId}$`));
    await page.getByRole('heading', { name: NEW_TITLE }).first().waitFor();

    // Home: Hana's bubble has the live ring and the audio mark.
    await page.goto(base);
    const bubble = page.getByRole('link', { name: new RegExp(`^Hana\\s*Live\\s*: ${NEW_TITLE}, hosted by ${names.hana}`) });
    await bubble.waitFor();
    await expect(bubble.locator('.audio-mark').count()).resolves.toBe(1);
    await screen(finn!, 's04-home-live');

    // Her profile: the live ring links to the space.
    await page.goto(`${base}/u/${handles.hana}`);
    const ring = page.getByRole('link', { name: new RegExp(`Live\\s*: ${names.hana} is in “${NEW_TITLE}”`) });
    await ring.waitFor();
    expect(await ring.getAttribute('href')).toBe(`/s/${spaceId}`);
    await page.getByRole('region', { name: 'Upcoming spaces' }).getByRole('button', { name: `Reminder set for ${OTHER_TITLE}` }).waitFor();
    await screen(finn!, 's05-profile-live');
  });

  it('Hana cancels the other scheduled space; Finn, who had a reminder, is told', async () => {
    const page = hana!.page;
    await page.goto(`${base}/s/${otherId}`);
    await page.getByRole('button', { name: 'Cancel space' }).click();
    const confirm = page.getByRole('dialog', { name: 'Cancel this space?' });
    await confirm.getByText('will be told').waitFor();
    await confirm.getByRole('button', { name: 'Cancel space' }).click();
    await page.getByText('Your space is cancelled').waitFor({ timeout: 10_000 });
    const stored = await pageGraphQL<{ space: { state: string; cancelled: boolean } }>(page, 'query($id: ID!) { space(id: $id) { state cancelled } }', { id: otherId });
    expect(stored.data?.space).toEqual({ state: 'ENDED', cancelled: true });

    const nav = finn!.page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: /^Notifications\s*,\s*1 unread$/ }).waitFor({ timeout: 15_000 });
    await nav.getByRole('link', { name: /^Notifications/ }).click();
    await finn!.page.getByRole('link', { name: `${names.hana} cancelled “${OTHER_TITLE}”` }).waitFor();
  });

  it('is a rail on desktop and a bottom bar on a phone', async () => {
    const page = finn!.page;
    await page.goto(base);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await page.setViewportSize(DESKTOP);
    const rail = (await nav.boundingBox())!;
    expect(rail.x).toBe(0);
    expect(rail.height).toBeGreaterThanOrEqual(DESKTOP.height - 1);
    expect(rail.width).toBeLessThan(400);
    // The feed sits right of the rail.
    const feed = (await page.getByRole('heading', { name: 'Live now' }).boundingBox())!;
    expect(feed.x).toBeGreaterThan(rail.width);

    await page.setViewportSize(PHONE);
    const bar = (await nav.boundingBox())!;
    expect(bar.y + bar.height).toBeCloseTo(PHONE.height, 0);
    expect(bar.width).toBeGreaterThanOrEqual(PHONE.width - 20);
    for (const name of ['Home', 'Search', 'Notifications', 'Profile', 'Start a space']) {
      const item = name === 'Start a space' ? nav.getByRole('button', { name }) : nav.getByRole('link', { name: new RegExp(`^${name}`) });
      await expect(item.isVisible()).resolves.toBe(true);
    }
    // Nothing sticks out sideways.
    const wider = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      return [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > width + 0.5)
        .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`)
        .slice(0, 5);
    });
    expect(wider).toEqual([]);
    await page.setViewportSize(DESKTOP);
  });

  it('has no serious or critical axe violations, and no page errors', () => {
    expect(a11y.length).toBeGreaterThanOrEqual(10);
    expect(suite.blockingFindings()).toBe('');
    expect([...hana!.problems, ...finn!.problems]).toEqual([]);
  });
});
