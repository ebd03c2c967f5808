import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { startJanus, type RunningJanus } from '@spaces/janus';
import { startTestApp, type TestApp } from './app.ts';
import {
  captureScreen,
  closeAll,
  describeViolations,
  isBlocking,
  launchPerson,
  writeVoiceWav,
  type AxeViolation,
  type Person,
  type PersonOptions,
} from './browser.ts';

/** Where every browser suite's screenshots go (gitignored). */
export const SCREENSHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../artifacts/screenshots');

/** One screen at one width, and what axe found there. */
export interface ScreenFindings {
  screen: string;
  width: number;
  violations: AxeViolation[];
}

export interface BrowserSuiteOptions<Name extends string> {
  /** The suite's name, for log lines and temp folders. */
  name: string;
  /** Who takes part, each in a Chromium of their own. `talks`: a fake microphone that talks without pause (the default beep is too short to count as talking). */
  people: Record<Name, PersonOptions & { talks?: boolean }>;
  /** A private Janus on spaces0 (scripts/netns.sh) mixing the app's spaces. */
  voice?: boolean;
  /** A folder for uploaded media (photos), removed afterwards. */
  media?: boolean;
  /** More options for the app (the built PWA is always served). */
  app?: Parameters<typeof startTestApp>[0];
  /** Put before each screenshot's name. */
  shotPrefix?: string;
}

export interface BrowserSuite<Name extends string> {
  readonly t: TestApp;
  /** The app's origin. */
  readonly base: string;
  readonly janus: RunningJanus;
  readonly people: Record<Name, Person>;
  /** Every screen captured so far, with its axe findings. */
  readonly a11y: ScreenFindings[];
  /** Screenshots of what `person` sees at phone and desktop widths, and an axe pass at each. */
  screen(person: Person, name: string): Promise<void>;
  /** The serious and critical findings, a line per screen and width ('' when there are none). */
  blockingFindings(): string;
}

/**
 * What every browser suite starts with, and closes however it ends: the built PWA served by a
 * test app (with a private Janus when the suite has voice), one Chromium per person, and
 * screenshots with an axe pass per screen. Call it at the top of a suite file: it registers the
 * suite's beforeAll/afterAll. A person whose Chromium did start is closed even if another's failed.
 */
export function browserSuite<Name extends string>(options: BrowserSuiteOptions<Name>): BrowserSuite<Name> {
  let t: TestApp | undefined;
  let janus: RunningJanus | undefined;
  let base = '';
  let workDir = '';
  const people = {} as Record<Name, Person>;
  const a11y: ScreenFindings[] = [];
  const log = (what: string, error: unknown) => console.error(`[${options.name}] ${what}`, error);

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), `spaces-${options.name}-`));
    if (options.voice) janus = await startJanus({ ice: { enforceList: 'spaces0' } });
    t = await startTestApp({
      serveWeb: true,
      ...(janus ? { mixers: [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }] } : {}),
      ...(options.media ? { mediaDir: path.join(workDir, 'media') } : {}),
      ...options.app,
    });
    base = await t.app.start();
    const entries = Object.entries(options.people) as [Name, PersonOptions & { talks?: boolean }][];
    const voice = entries.some(([, o]) => o.talks) ? writeVoiceWav(path.join(workDir, 'voice.wav')) : undefined;
    const launched = await Promise.allSettled(
      entries.map(([name, { talks, ...personOptions }]) => launchPerson(name, talks ? { ...personOptions, fakeAudioFile: voice } : personOptions)),
    );
    launched.forEach((r, i) => {
      if (r.status === 'fulfilled') people[entries[i]![0]] = r.value;
    });
    const failed = launched.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }, 90_000);

  afterAll(async () => {
    await closeAll(Object.values<Person>(people));
    await t?.close().catch((e) => log('app close failed', e));
    await janus?.stop().catch((e) => log('janus stop failed', e));
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }, 60_000);

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`[${options.name}] ${what} is not started (did beforeAll fail?)`);
    return value;
  };
  return {
    get t() {
      return started(t, 'the app');
    },
    get base() {
      return base;
    },
    get janus() {
      return started(janus, 'Janus');
    },
    people,
    a11y,
    async screen(person, name) {
      for (const { width, violations } of await captureScreen(person.page, SCREENSHOTS, `${options.shotPrefix ?? ''}${name}`))
        a11y.push({ screen: name, width, violations });
    },
    blockingFindings() {
      return a11y
        .map((s) => ({ ...s, violations: s.violations.filter(isBlocking) }))
        .filter((s) => s.violations.length > 0)
        .map((s) => `${s.screen} @${s.width}px\n  ${describeViolations(s.violations)}`)
        .join('\n');
    },
  };
}
