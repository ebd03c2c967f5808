/**
 * Browser benchmark (`pnpm bench`, or from tests/: `bash ../scripts/netns.sh npx tsx bench/browser.ts`).
 * Runs inside scripts/netns.sh's private network namespace (real WebRTC needs a non-loopback
 * address; Janus offers 10.99.0.1 on spaces0 and nothing leaves the namespace). Its own
 * PostgreSQL (startCluster), a private Janus (startJanus), and the API serving the built PWA
 * (web/build; `pnpm build` in web/ first) in this process; Debian's Chromium through playwright-core.
 *
 * (1) Join time. A host (a Chromium whose fake microphone talks without pause) signs up and starts
 *     a space through the UI and stays unmuted. A listener (another Chromium, signed up through
 *     the UI) then, BENCH_BROWSER_RUNS (10) times: opens the space page (a full page load, so no
 *     state carries over; HTTP cache and service worker warm, as for a returning person), clicks
 *     "Join space", and the page itself polls its RTCPeerConnection's inbound-rtp stats every
 *     5 ms. Measured on the page's clock from the click (a capture-phase listener) to:
 *       - pc: the RTCPeerConnection is created (join mutation done, the room moved on),
 *       - packet: first audio packet received (inbound-rtp packetsReceived > 0),
 *       - sound: first packet with sound in it (inbound-rtp audioLevel > 0; the host is talking),
 *     and the remote track's first `unmute` (Chromium fires it on the first packet) as a
 *     cross-check of `packet` without stats polling. Then "Leave", for the next run.
 *     Target: p95 of click -> first audio <= 1.0 s.
 * (2) JavaScript shipped on first load: a fresh Chromium profile (empty cache, no service worker)
 *     loads the home page signed out; every JavaScript response the page received (by resource
 *     type script or a JavaScript content type), its body gzip-compressed here (zlib level 6, what
 *     servers commonly use) and summed. For context, also every .js file of the build, which the
 *     service worker downloads after the first load (precache), not counted as shipped on load.
 *
 * Bounded by BENCH_BROWSER_TIMEOUT_MS (180000): everything (Chromiums, app, database, PostgreSQL,
 * Janus) is cleaned up on success, error, time-out and SIGINT/SIGTERM. BENCH_BROWSER_JSON=<file>
 * writes the figures as JSON as well.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { startJanus, type RunningJanus } from '@spaces/janus';
import { startCluster, type Cluster } from '../src/support/postgres-cluster.ts';
import { CHROMIUM, launchPerson, signUpWithForm, writeVoiceWav, type Person } from '../src/support/browser.ts';
import { distribution, fmt, table, type Distribution } from './voice/measure.ts';
import { boundRun } from './bounds.ts';

const env = process.env;
const RUNS = Number(env.BENCH_BROWSER_RUNS ?? 10);
const TIMEOUT_MS = Number(env.BENCH_BROWSER_TIMEOUT_MS ?? 180_000);
const JSON_OUT = env.BENCH_BROWSER_JSON;
const TARGET_P95_MS = 1000;
const WEB_BUILD = fileURLToPath(new URL('../../web/build', import.meta.url));

const startedAt = performance.now();
const log = (...args: unknown[]) => console.error(`[browser ${((performance.now() - startedAt) / 1000).toFixed(1)}s]`, ...args);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ results

interface JoinRun {
  pcMs: number;
  packetMs: number;
  soundMs: number | null;
  unmuteMs: number | null;
}
interface JsFile {
  url: string;
  bytes: number;
  gzip: number;
}
const results: { joins: JoinRun[]; failures: string[]; js: JsFile[]; buildJs?: { files: number; bytes: number; gzip: number } } = {
  joins: [],
  failures: [],
  js: [],
};
const notes: string[] = [];

// ------------------------------------------------------------------ cleanup

let cluster: Cluster | undefined;
let database: DbHandle | undefined;
let janus: RunningJanus | undefined;
let app: App | undefined;
const people = new Set<Person>();
/** Chromiums being launched: cleanup waits for them, then closes them too. */
const launching = new Set<Promise<Person>>();
const workDirs = new Set<string>();
let stopping = false;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  stopping = true;
  cleaning ??= (async () => {
    await Promise.allSettled([...launching]);
    await Promise.allSettled([...people].map((p) => p.close()));
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
    await app?.stop().catch((e) => log('app.stop failed:', e));
    await database?.close().catch((e) => log('database close failed:', e));
    await janus?.stop().catch((e) => log('janus.stop failed:', e));
    await cluster?.stop().catch((e) => log('postgres stop failed:', e));
  })();
  return cleaning;
}

async function person(name: string, options?: Parameters<typeof launchPerson>[1]): Promise<Person> {
  if (stopping) throw new Error('stopping');
  const launch = launchPerson(name, options);
  launching.add(launch);
  try {
    const p = await launch;
    people.add(p);
    return p;
  } finally {
    launching.delete(launch);
  }
}

const bound = boundRun({
  timeoutMs: TIMEOUT_MS,
  cleanup,
  log,
  onTimeout: () => {
    notes.push(`stopped at the time limit (BENCH_BROWSER_TIMEOUT_MS=${TIMEOUT_MS}); figures are partial`);
    report();
  },
});
process.on('unhandledRejection', (error) => log('unhandled rejection (ignored):', error));
process.once('uncaughtException', async (error) => {
  log('uncaught exception: cleaning up', error);
  await Promise.race([cleanup(), sleep(20_000)]);
  process.exit(1);
});

// ------------------------------------------------------------------ checks

function inNamespace(): boolean {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === 'IPv4' && !i.internal)
    .map((i) => i!.address);
  return addresses.includes('10.99.0.1') && addresses.every((a) => a === '10.99.0.1' || a === '10.99.0.2');
}

// ------------------------------------------------------------------ (1) join time

/**
 * In the page: waits for the click, then for the page's RTCPeerConnection and its first audio.
 * Runs while the bench clicks; returns times relative to the click, on the page's clock. Source
 * text, not a function: tsx would add helpers (__name) the page does not have.
 */
const WATCH_JOIN = `async (timeoutMs) => {
  const w = window;
  const peersBefore = w.__spacesPeers.length;
  const clickBefore = w.__lastClickAt;
  const deadline = performance.now() + timeoutMs;
  const tick = () => new Promise((r) => setTimeout(r, 5));
  while (w.__lastClickAt === clickBefore) {
    if (performance.now() > deadline) throw new Error('no click');
    await tick();
  }
  const clickAt = w.__lastClickAt;
  let pc;
  while (!(pc = w.__spacesPeers[peersBefore])) {
    if (performance.now() > deadline) throw new Error('no RTCPeerConnection');
    await tick();
  }
  let packetAt = null;
  let soundAt = null;
  while (soundAt === null && performance.now() < deadline) {
    const stats = await pc.getStats();
    const now = performance.now();
    stats.forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
      if (packetAt === null && (s.packetsReceived ?? 0) > 0) packetAt = now;
      if (soundAt === null && (s.audioLevel ?? 0) > 0) soundAt = now;
    });
    if (packetAt === null && soundAt !== null) packetAt = soundAt;
    if (packetAt !== null && soundAt === null && now - packetAt > 3000) break; // packets, but silent
    await tick();
  }
  if (packetAt === null) throw new Error('no audio packet in ' + timeoutMs + ' ms (connection ' + pc.connectionState + ')');
  return {
    pcMs: pc.__createdAt - clickAt,
    packetMs: packetAt - clickAt,
    soundMs: soundAt === null ? null : soundAt - clickAt,
    unmuteMs: pc.__trackUnmutedAt === undefined ? null : pc.__trackUnmutedAt - clickAt,
  };
}`;

async function measureJoins(listener: Person, spaceUrl: string) {
  const page = listener.page;
  for (let run = 1; run <= RUNS; run++) {
    if (TIMEOUT_MS - (performance.now() - startedAt) < 20_000) {
      notes.push(`join runs stopped after ${run - 1}: close to the time limit`);
      break;
    }
    try {
      await page.goto(spaceUrl);
      const join = page.getByRole('button', { name: 'Join space' });
      await join.waitFor({ timeout: 10_000 });
      // Let the page settle (its event subscription starts) so the click is all that is timed.
      await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => undefined);
      const watching = page.evaluate(`(${WATCH_JOIN})(10000)`) as Promise<JoinRun>;
      watching.catch(() => undefined); // awaited below; not unhandled meanwhile
      await join.click();
      const result = await watching;
      results.joins.push(result);
      log(`join ${run}: pc ${fmt(result.pcMs, 0)} ms, first packet ${fmt(result.packetMs, 0)} ms, first sound ${fmt(result.soundMs ?? NaN, 0)} ms`);
      await page.getByRole('button', { name: 'Leave', exact: true }).click();
      await page.getByRole('button', { name: 'Join space' }).waitFor({ timeout: 10_000 });
      await sleep(300);
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
      results.failures.push(`run ${run}: ${message}`);
      log(`join ${run} failed: ${message}`);
    }
  }
}

// ------------------------------------------------------------------ (2) JavaScript on first load

async function measureFirstLoadJs(base: string) {
  const fresh = await person('cold');
  const page = fresh.page;
  const pending: Promise<void>[] = [];
  page.on('response', (response) => {
    const type = response.request().resourceType();
    const contentType = response.headers()['content-type'] ?? '';
    if (type !== 'script' && !/javascript|ecmascript/.test(contentType)) return;
    if (response.status() !== 200) return;
    pending.push(
      response.body().then(
        (body) => void results.js.push({ url: new URL(response.url()).pathname, bytes: body.length, gzip: gzipSync(body, { level: 6 }).length }),
        (error) => void notes.push(`could not read ${response.url()}: ${error}`),
      ),
    );
  });
  await page.goto(base, { waitUntil: 'load' });
  await page.getByRole('heading', { name: 'Live now' }).waitFor({ timeout: 15_000 });
  await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => undefined);
  await Promise.all(pending);
  await fresh.close();
  people.delete(fresh);

  // Every .js of the build (what the service worker precaches after the first load).
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.js')) files.push(full);
    }
  };
  walk(path.join(WEB_BUILD, 'client'));
  let bytes = 0;
  let gzip = 0;
  for (const file of files) {
    const body = readFileSync(file);
    bytes += body.length;
    gzip += gzipSync(body, { level: 6 }).length;
  }
  results.buildJs = { files: files.length, bytes, gzip };
}

// ------------------------------------------------------------------ report

let reported = false;
function report() {
  if (reported) return;
  reported = true;
  const kb = (n: number) => (n / 1024).toFixed(1);
  const lines: string[] = [];
  lines.push('');
  lines.push('Browser benchmark: cd tests && bash ../scripts/netns.sh npx tsx bench/browser.ts');
  let chromium = '?';
  try {
    chromium = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // leave '?'
  }
  lines.push(`${chromium}; ${availableParallelism()} cores; Node ${process.version}; ${RUNS} join runs`);
  lines.push('');
  const joins = results.joins;
  const dist = (values: number[]): Distribution => distribution(values);
  const row = (label: string, d: Distribution) => [label, String(d.n), fmt(d.min, 0), fmt(d.p50, 0), fmt(d.p95, 0), fmt(d.max, 0)];
  const packet = dist(joins.map((j) => j.packetMs));
  lines.push('(1) Join: click "Join space" -> ... (ms, page clock)');
  lines.push(
    ...table([
      ['milestone', 'n', 'min', 'p50', 'p95', 'max'],
      row('RTCPeerConnection created', dist(joins.map((j) => j.pcMs))),
      row('first audio packet (packetsReceived > 0)', packet),
      row('first sound (audioLevel > 0)', dist(joins.flatMap((j) => (j.soundMs === null ? [] : [j.soundMs])))),
      row('remote track unmuted (cross-check)', dist(joins.flatMap((j) => (j.unmuteMs === null ? [] : [j.unmuteMs])))),
    ]),
  );
  if (joins.length > 0)
    lines.push(
      `target: p95 click -> first audio <= ${TARGET_P95_MS} ms: ${packet.p95 <= TARGET_P95_MS ? 'met' : 'NOT met'} (p95 ${fmt(packet.p95, 0)} ms)`,
    );
  for (const f of results.failures) lines.push(`failed: ${f}`);
  lines.push('');
  lines.push('(2) JavaScript shipped on a cold load of the home page (bodies gzip -6 here)');
  const js = [...results.js].sort((a, b) => b.gzip - a.gzip);
  const total = js.reduce((s, f) => ({ bytes: s.bytes + f.bytes, gzip: s.gzip + f.gzip }), { bytes: 0, gzip: 0 });
  lines.push(
    ...table([
      ['file', 'raw KiB', 'gzip KiB'],
      ...js.map((f) => [f.url.replace(/^\/_app\/immutable\//, '…/'), kb(f.bytes), kb(f.gzip)]),
      [`total (${js.length} files)`, kb(total.bytes), kb(total.gzip)],
    ]),
  );
  if (results.buildJs)
    lines.push(
      `for context: all ${results.buildJs.files} .js files of the build (service worker precache, after load): ` +
        `${kb(results.buildJs.bytes)} KiB raw, ${kb(results.buildJs.gzip)} KiB gzip`,
    );
  for (const n of notes) lines.push(`note: ${n}`);
  console.log(lines.join('\n'));
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ ...results, notes, firstLoadJs: total }, null, 2));
}

// ------------------------------------------------------------------ main

let failed = false;
try {
  if (!inNamespace()) throw new Error('run me inside the test network namespace: cd tests && bash ../scripts/netns.sh npx tsx bench/browser.ts');
  if (!existsSync(path.join(WEB_BUILD, 'handler.js'))) throw new Error('web/build is missing: run `pnpm build` in web/ first');

  log('starting PostgreSQL, Janus and the app');
  cluster = await startCluster();
  [database, janus] = await Promise.all([createDb({ url: cluster.url, maxConnections: 20 }), startJanus({ ice: { enforceList: 'spaces0' } })]);
  app = await buildApp({
    database,
    serveWeb: true,
    port: 0,
    host: '127.0.0.1',
    mixers: [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }],
    rateLimits: { signInPerMinutePerClient: 10_000, signInPerMinutePerHandle: 100, signUpPerHourPerClient: 10_000 },
  });
  const base = await app.start();
  log(`app at ${base}`);

  // (2) first, while nothing else runs in a browser.
  await measureFirstLoadJs(base);
  log(`first load: ${results.js.length} JavaScript files`);

  const workDir = mkdtempSync(path.join(tmpdir(), 'spaces-bench-browser-'));
  workDirs.add(workDir);
  try {
    const [host, listener] = await Promise.all([
      person('host', { fakeAudioFile: writeVoiceWav(path.join(workDir, 'voice.wav')) }),
      person('listener'),
    ]);
    const suffix = Date.now().toString(36).slice(-5);
    await Promise.all([
      signUpWithForm(host.page, base, `bh_${suffix}`, 'Bench Host'),
      signUpWithForm(listener.page, base, `bl_${suffix}`, 'Bench Listener'),
    ]);
    await host.page.getByLabel('Title').fill('Join time');
    await host.page.getByRole('radio', { name: /^Everyone/ }).check();
    await host.page.getByRole('button', { name: 'Start now' }).click();
    await host.page.waitForURL(/\/s\/[^/]+$/);
    await host.page.getByText('Audio live').waitFor({ timeout: 15_000 });
    const spaceUrl = host.page.url();
    log(`space ${spaceUrl}: the host is live and talking`);
    await measureJoins(listener, spaceUrl);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
} catch (error) {
  failed = true;
  notes.push(`error: ${error instanceof Error ? error.message : String(error)}`);
  log(error);
} finally {
  bound.finish();
  report();
  await Promise.race([cleanup(), sleep(30_000)]);
}
if (results.failures.length > 0 || results.joins.length === 0) failed = true;
process.exit(failed ? 1 : 0);
