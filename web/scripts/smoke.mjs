// A real run of the built app in headless Chromium against a running API (which serves it):
//   node scripts/smoke.mjs http://127.0.0.1:3123 /tmp/spaces-smoke
// Two people: a host signs up and starts a space; a listener joins, raises a hand and reacts;
// the host approves, and both pages follow live. Screenshots go to the output folder.
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const base = process.argv[2] ?? 'http://127.0.0.1:3123';
const out = process.argv[3] ?? '/tmp/spaces-smoke';
mkdirSync(out, { recursive: true });
const suffix = Date.now().toString(36).slice(-5);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
  ],
});

const problems = [];
async function person(name) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`[${name}] console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`[${name}] page error: ${e.message}`));
  return page;
}

async function signUp(page, handle, displayName) {
  await page.goto(`${base}/signup`);
  await page.getByLabel('Name').fill(displayName);
  await page.getByLabel('Handle').fill(handle);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('link', { name: `Your profile, @${handle}` }).waitFor();
}

const shot = (page, name) => page.screenshot({ path: `${out}/${name}.png`, fullPage: false });
const step = (text) => console.log(`- ${text}`);

try {
  const host = await person('host');
  await host.goto(base);
  await host.getByRole('heading', { name: 'Live now' }).waitFor();
  await shot(host, '01-home-signed-out');
  step('home renders signed out');

  await signUp(host, `host_${suffix}`, 'Ada Host');
  step('host signed up');
  await host.getByLabel('Title').fill('Friday standup for the open web');
  await host.getByRole('radio', { name: /^Everyone/ }).check();
  await shot(host, '02-home-signed-in');
  await host.getByRole('button', { name: 'Start now' }).click();
  await host.waitForURL(/\/s\//);
  await host.getByRole('heading', { name: 'Friday standup for the open web' }).waitFor();
  await host.getByRole('button', { name: /Ada Host \(you\) ?, Host/ }).waitFor();
  const spaceUrl = host.url();
  await shot(host, '03-space-host');
  step(`space created: ${spaceUrl}`);

  const guest = await person('guest');
  await signUp(guest, `guest_${suffix}`, 'Grace Guest');
  step('guest signed up');
  await guest.goto(base);
  await guest.getByRole('link', { name: /Friday standup/ }).first().waitFor();
  step('guest sees the space under Live now');
  await guest.goto(spaceUrl);
  await guest.getByRole('button', { name: 'Join space' }).click();
  await guest.getByRole('button', { name: /Raise your hand/ }).click();
  await host.getByRole('button', { name: 'Approve Grace Guest to speak' }).waitFor({ timeout: 10_000 });
  step('host sees the raised hand live');
  await guest.getByRole('button', { name: 'React' }).click();
  await guest.getByRole('button', { name: 'Fire' }).click();
  await host.locator('.float').first().waitFor({ timeout: 5_000 });
  step('reaction floats on the host page');
  await shot(host, '04-host-request-and-reaction');
  await host.getByRole('button', { name: 'Approve Grace Guest to speak' }).click();
  await guest.getByRole('button', { name: /Unmute your microphone/ }).waitFor({ timeout: 10_000 });
  step('guest is on stage (live, through events)');
  await host.getByRole('button', { name: /Grace Guest ?, Speaker/ }).waitFor();
  await guest.getByRole('button', { name: /Unmute your microphone/ }).click();
  await host.getByRole('button', { name: /Grace Guest ?, Speaker ?, mic on/ }).waitFor({ timeout: 10_000 });
  step('unmute shows on the host page');
  await shot(guest, '05-guest-on-stage');
  await host.getByRole('button', { name: 'Mute all' }).click();
  await guest.getByRole('button', { name: /Unmute your microphone/ }).waitFor({ timeout: 10_000 });
  step('mute all reaches the guest');
  await host.getByRole('button', { name: 'End space' }).click();
  await host.getByRole('dialog').getByRole('button', { name: 'End space' }).click();
  await guest.getByRole('heading', { name: 'This space has ended' }).waitFor({ timeout: 10_000 });
  step('ending reaches the guest');
  await shot(guest, '06-guest-ended');

  await host.goto(`${base}/u/guest_${suffix}`);
  await host.getByRole('button', { name: 'Follow' }).click();
  await host.getByRole('link', { name: /1 follower/ }).waitFor();
  step('follow updates the count');
  await shot(host, '07-profile');
  await host.getByRole('link', { name: /1 follower/ }).click();
  await host.getByRole('link', { name: /Ada Host/ }).waitFor();
  step('followers list lists the host');
  await host.getByRole('button', { name: 'Sign out' }).click();
  await host.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Sign in' }).waitFor();
  step('signed out');

  const swState = await host.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return reg.active?.state ?? 'none';
  });
  step(`service worker: ${swState}`);
  const manifest = await host.evaluate(async () => (await fetch('/manifest.webmanifest')).json());
  if (!manifest.icons.some((i) => i.sizes === '512x512')) throw new Error('manifest has no 512px icon');
  step('manifest served with icons');

  // Offline: a page load gets the cached offline page; the API is never served from a cache.
  await host.context().setOffline(true);
  await host.goto(`${base}/u/anyone`).catch(() => undefined);
  await host.getByRole('heading', { name: "You're offline" }).waitFor({ timeout: 10_000 });
  await shot(host, '08-offline');
  const graphqlOffline = await host.evaluate(async () =>
    fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{viewer{id}}"}' })
      .then(() => 'answered')
      .catch(() => 'network error'),
  );
  if (graphqlOffline !== 'network error') throw new Error('/graphql answered while offline (cached?)');
  step('offline page shown; /graphql not cached');
  await host.context().setOffline(false);
} catch (error) {
  problems.push(`failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await browser.close();
}

// The offline step fails one request on purpose.
const unexpected = problems.filter((p) => !/ERR_INTERNET_DISCONNECTED/.test(p));
if (unexpected.length > 0) {
  console.error(unexpected.join('\n'));
  process.exit(1);
}
console.log(`smoke: all steps passed; screenshots in ${out}`);
