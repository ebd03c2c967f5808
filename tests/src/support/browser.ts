/**
 * Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) for the browser
 * suite and benchmark. No vitest here: tests/bench/browser.ts imports it too.
 *
 * Each person gets a persistent context of their own (own profile dir, own cookies): Chromium
 * reports "incognito" as an installability error for non-persistent contexts, and a person's
 * service worker should live in their own profile. Pages are opened on http://127.0.0.1:<port>,
 * a secure context (getUserMedia, service workers). An init script keeps every
 * RTCPeerConnection the page makes, so a test can read what it receives from getStats().
 *
 * Meant for scripts/netns.sh's namespace: Janus offers 10.99.0.1 only, and Chromium must not hide
 * its host candidates behind mDNS names (Janus cannot resolve them), hence
 * --disable-features=WebRtcHideLocalIpsWithMdns.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export const PHONE = { width: 390, height: 844 } as const;
export const DESKTOP = { width: 1280, height: 800 } as const;
export const PASSWORD = 'correct horse battery';

/** Keeps the page's peer connections (window.__spacesPeers) and the time of each click. */
const INIT_SCRIPT = `(() => {
  if (window.__spacesPeers) return;
  const peers = [];
  Object.defineProperty(window, '__spacesPeers', { value: peers });
  const Native = window.RTCPeerConnection;
  if (Native) {
    window.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args);
        peers.push(this);
        this.__createdAt = performance.now();
        this.addEventListener('track', (event) => {
          const track = event.track;
          const mark = () => { if (this.__trackUnmutedAt === undefined) this.__trackUnmutedAt = performance.now(); };
          if (!track.muted) mark();
          track.addEventListener('unmute', mark, { once: true });
        });
      }
    };
  }
  document.addEventListener('click', () => { window.__lastClickAt = performance.now(); }, true);
})();`;

export interface Person {
  name: string;
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and console errors, for the end of the test. */
  problems: string[];
  close(): Promise<void>;
}

export interface PersonOptions {
  viewport?: { width: number; height: number };
  /** A WAV file Chromium's fake microphone plays (looped) instead of its beep. */
  fakeAudioFile?: string;
  extraArgs?: string[];
  /** The IANA time zone the person's browser lives in (e.g. 'America/New_York'); default the machine's. */
  timezoneId?: string;
}

/** One person: a Chromium of their own (persistent profile in a temp dir, removed on close). */
export async function launchPerson(name: string, options: PersonOptions = {}): Promise<Person> {
  const userDataDir = mkdtempSync(path.join(tmpdir(), `spaces-chromium-${name}-`));
  const args = [...CHROMIUM_ARGS, ...(options.extraArgs ?? [])];
  if (options.fakeAudioFile) args.push(`--use-file-for-fake-audio-capture=${options.fakeAudioFile}`);
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args,
      viewport: options.viewport ?? DESKTOP,
      timeout: 30_000,
      ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  await context.addInitScript({ content: INIT_SCRIPT });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`[${name}] page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`[${name}] console error: ${m.text()}`);
  });
  let closed = false;
  return {
    name,
    context,
    page,
    problems,
    async close() {
      if (closed) return;
      closed = true;
      // Playwright kills the browser if it does not close in time; never wait forever.
      await Promise.race([context.close().catch(() => undefined), new Promise((r) => setTimeout(r, 15_000))]);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Closes whatever was launched, each on its own (one failing does not keep the others open). */
export async function closeAll(people: (Person | undefined)[]): Promise<void> {
  await Promise.allSettled(people.map((p) => p?.close()));
}

/** Signs up through the form and waits for the signed-in header. */
export async function signUpWithForm(page: Page, base: string, handle: string, displayName: string): Promise<void> {
  if (!page.url().startsWith(`${base}/signup`)) await page.goto(`${base}/signup`);
  await page.getByLabel('Name').fill(displayName);
  await page.getByLabel('Handle').fill(handle);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('link', { name: `Your profile, @${handle}` }).waitFor();
}

export interface InboundAudio {
  connectionState: string;
  packetsReceived: number;
  /** Current level, 0..1 (what the receiver decoded lately). */
  audioLevel: number;
  /** Sum of level² × duration: grows while sound is received. */
  totalAudioEnergy: number;
  totalSamplesDuration: number;
  /** performance.now() (page clock) of the pc's creation and its remote track's first unmute. */
  createdAt: number;
  trackUnmutedAt: number | null;
}

/** inbound-rtp audio of the page's newest open peer connection (null: none yet). */
export async function inboundAudio(page: Page): Promise<InboundAudio | null> {
  return page.evaluate(async () => {
    const all = ((window as any).__spacesPeers ?? []) as RTCPeerConnection[];
    const pc = all.filter((p) => p.connectionState !== 'closed').at(-1);
    if (!pc) return null;
    const result = {
      connectionState: pc.connectionState as string,
      packetsReceived: 0,
      audioLevel: 0,
      totalAudioEnergy: 0,
      totalSamplesDuration: 0,
      createdAt: (pc as any).__createdAt as number,
      trackUnmutedAt: ((pc as any).__trackUnmutedAt ?? null) as number | null,
    };
    const stats = await pc.getStats();
    stats.forEach((s: any) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        result.packetsReceived = s.packetsReceived ?? 0;
        result.audioLevel = s.audioLevel ?? 0;
        result.totalAudioEnergy = s.totalAudioEnergy ?? 0;
        result.totalSamplesDuration = s.totalSamplesDuration ?? 0;
      }
    });
    return result;
  });
}

/**
 * How loud what the page receives is over the next `ms`: the growth of totalAudioEnergy divided by
 * the growth of totalSamplesDuration (mean level², i.e. ~ RMS² of the played audio), plus the
 * packets that arrived meanwhile.
 */
export async function receivedLoudness(page: Page, ms: number): Promise<{ meanSquare: number; packets: number; seconds: number }> {
  const a = await inboundAudio(page);
  await page.waitForTimeout(ms);
  const b = await inboundAudio(page);
  if (!a || !b) return { meanSquare: 0, packets: 0, seconds: 0 };
  const seconds = b.totalSamplesDuration - a.totalSamplesDuration;
  return {
    meanSquare: seconds > 0 ? (b.totalAudioEnergy - a.totalAudioEnergy) / seconds : 0,
    packets: b.packetsReceived - a.packetsReceived,
    seconds,
  };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

/** axe-core on the page as it is now; every violation, worst first. */
export async function runAxe(page: Page): Promise<AxeViolation[]> {
  axeSource ??= (await import('node:fs')).readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Through DevTools' evaluate, not a <script> tag: the app's CSP (rightly) refuses inline scripts.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as any).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return (result.violations as any[]).map((v) => ({
      id: v.id as string,
      impact: (v.impact ?? null) as string | null,
      help: v.help as string,
      nodes: (v.nodes as any[]).slice(0, 5).map((n) => `${(n.target as string[]).join(' ')}: ${n.failureSummary ?? ''}`.slice(0, 300)),
    }));
  });
  const rank = { critical: 0, serious: 1, moderate: 2, minor: 3 } as Record<string, number>;
  return violations.sort((x, y) => (rank[x.impact ?? 'minor'] ?? 4) - (rank[y.impact ?? 'minor'] ?? 4));
}

export const isBlocking = (v: AxeViolation) => v.impact === 'serious' || v.impact === 'critical';

export const describeViolations = (vs: AxeViolation[]) =>
  vs.map((v) => `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n');

/**
 * Screenshots of the page at phone and desktop widths (`<dir>/<name>-phone.png`, `-desktop.png`)
 * and an axe pass at each width; the viewport is put back afterwards. Returns the violations.
 */
export async function captureScreen(page: Page, dir: string, name: string): Promise<{ width: number; violations: AxeViolation[] }[]> {
  mkdirSync(dir, { recursive: true });
  const before = page.viewportSize();
  const out: { width: number; violations: AxeViolation[] }[] = [];
  try {
    for (const [label, size] of [['phone', PHONE], ['desktop', DESKTOP]] as const) {
      await page.setViewportSize(size);
      // Let layout settle (and CSS transitions of notices finish) before the picture.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      await page.screenshot({ path: path.join(dir, `${name}-${label}.png`), animations: 'disabled' });
      out.push({ width: size.width, violations: await runAxe(page) });
    }
  } finally {
    if (before) await page.setViewportSize(before);
  }
  return out;
}

/** Chromium's own verdict on installing the page as an app (CDP): empty when installable. */
export async function installabilityErrors(page: Page): Promise<{ errorId: string; errorArguments: unknown[] }[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
      installabilityErrors: { errorId: string; errorArguments: unknown[] }[];
    };
    return installabilityErrors;
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}

/** The manifest as Chromium parsed it (CDP Page.getAppManifest): its URL, errors and parsed fields. */
export async function appManifest(page: Page): Promise<{ url: string; errors: { message: string; critical: number }[]; data?: string }> {
  const cdp = await page.context().newCDPSession(page);
  try {
    return (await cdp.send('Page.getAppManifest')) as { url: string; errors: { message: string; critical: number }[]; data?: string };
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}

/**
 * A mono 48 kHz 16-bit WAV that sounds like someone talking without pause, for
 * --use-file-for-fake-audio-capture: a voiced 180–260 Hz tone with harmonics, vibrato and a
 * syllable-rate swell (never silent, never stationary, so the browser's noise suppression keeps
 * it and the mixer's level average stays above its "talking" threshold). Chromium's own fake
 * microphone beeps for 20 ms every 500 ms, too little to count as talking.
 */
export function writeVoiceWav(file: string, seconds = 6): string {
  const rate = 48_000;
  const n = rate * seconds;
  const data = Buffer.alloc(n * 2);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const f = 220 + 40 * Math.sin(2 * Math.PI * 1.3 * t) + 12 * Math.sin(2 * Math.PI * 5.1 * t);
    phase += (2 * Math.PI * f) / rate;
    const voiced = 0.55 * Math.sin(phase) + 0.25 * Math.sin(2 * phase + 0.3) + 0.12 * Math.sin(3 * phase + 1.1) + 0.06 * Math.sin(5 * phase);
    const swell = 0.65 + 0.35 * Math.sin(2 * Math.PI * 3.7 * t);
    const sample = Math.max(-1, Math.min(1, 0.6 * voiced * swell));
    data.writeInt16LE(Math.round(sample * 32767), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([header, data]));
  return file;
}

// ------------------------------------------------------------------ audience tier (issue 10)

/** A GraphQL request from the page, as the person signed in there (their session cookie). */
export async function pageGraphQL<T = Record<string, any>>(
  page: Page,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ data?: T | null; errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[] }> {
  return page.evaluate(
    async ({ query, variables }) => {
      const response = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return response.json();
    },
    { query, variables },
  );
}

/** Counts the page's getUserMedia calls (window.__spacesMicRequests): an audience listener makes none. */
export async function countMicRequests(context: BrowserContext): Promise<void> {
  await context.addInitScript({
    content: `(() => {
      if (window.__spacesMicRequests !== undefined || !navigator.mediaDevices) return;
      window.__spacesMicRequests = 0;
      const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = (constraints) => {
        window.__spacesMicRequests++;
        return original(constraints);
      };
    })();`,
  });
}

export const micRequests = (page: Page): Promise<number> => page.evaluate(() => (window as any).__spacesMicRequests ?? -1);

export interface PeerSummary {
  connectionState: string;
  /** Directions of the transceivers ('recvonly', 'sendrecv', …; current if negotiated). */
  directions: string[];
  /** Whether a track is being sent. */
  sending: boolean;
  packetsReceived: number;
}

/** Every RTCPeerConnection the page made, oldest first, closed ones included. */
export async function peerSummaries(page: Page): Promise<PeerSummary[]> {
  return page.evaluate(async () => {
    const all = ((window as any).__spacesPeers ?? []) as RTCPeerConnection[];
    return Promise.all(
      all.map(async (pc) => {
        let packetsReceived = 0;
        if (pc.connectionState !== 'closed')
          (await pc.getStats()).forEach((s: any) => {
            if (s.type === 'inbound-rtp' && s.kind === 'audio') packetsReceived += s.packetsReceived ?? 0;
          });
        const transceivers = pc.connectionState === 'closed' ? [] : pc.getTransceivers();
        return {
          connectionState: pc.connectionState as string,
          directions: transceivers.map((t) => (t.currentDirection ?? t.direction) as string),
          sending: transceivers.some((t) => !!t.sender.track),
          packetsReceived,
        };
      }),
    );
  });
}

/**
 * Starts sampling, in the page, the audio packets received on all its open peer connections
 * together every `everyMs`; `stop()` returns the longest time without a new packet (ms) and how
 * many peer connections were open at once at most. A switch of tiers is seamless when the gap
 * stays near the packet interval (20 ms) plus jitter.
 */
export async function watchAudioGaps(page: Page, everyMs = 10): Promise<{ stop(): Promise<{ longestGapMs: number; maxOpen: number; samples: number }> }> {
  // Source text, not a function: tsx (the bench) would add helpers (__name) the page does not have.
  await page.evaluate(`((every) => {
    const w = window;
    const state = { lastTotal: -1, lastChangeAt: performance.now(), longestGapMs: 0, maxOpen: 0, samples: 0, running: true };
    w.__spacesGapWatch = state;
    const tick = async () => {
      if (!state.running) return;
      const open = (w.__spacesPeers || []).filter((p) => p.connectionState !== 'closed');
      let total = 0;
      for (const pc of open)
        (await pc.getStats()).forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'audio') total += s.packetsReceived || 0;
        });
      const now = performance.now();
      state.samples++;
      state.maxOpen = Math.max(state.maxOpen, open.length);
      // Counters restart with a new connection: any change (up or down) is a new packet somewhere.
      if (total !== state.lastTotal) {
        state.longestGapMs = Math.max(state.longestGapMs, now - state.lastChangeAt);
        state.lastChangeAt = now;
        state.lastTotal = total;
      }
      setTimeout(tick, every);
    };
    void tick();
  })(${everyMs})`);
  return {
    async stop() {
      return page.evaluate(() => {
        const state = (window as any).__spacesGapWatch;
        state.running = false;
        const gap = Math.max(state.longestGapMs, performance.now() - state.lastChangeAt);
        return { longestGapMs: gap, maxOpen: state.maxOpen, samples: state.samples };
      });
    },
  };
}

// ------------------------------------------------------------------ profiles (issue 11)

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A PNG of `width`×`height` in one colour, with a darker diagonal band (so a crop or resize is
 * visible): a real image for avatar uploads, made without an image library.
 */
export function solidPng(width: number, height: number, rgb: [number, number, number]): Buffer {
  const { deflateSync } = createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
  const row = 1 + width * 3;
  const raw = Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) {
    raw[y * row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const band = Math.abs(x - y) < width / 10 ? 0.5 : 1;
      raw.set(rgb.map((v) => Math.round(v * band)), y * row + 1 + x * 3);
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
