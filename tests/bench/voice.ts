/**
 * Voice benchmark (`pnpm bench`, or `cd tests && npx tsx bench/voice.ts`): a private Janus
 * (Debian's 1.1.2, startJanus) and the Spaces API in this process, every participant a plain-RTP
 * endpoint on 127.0.0.1 (no WebRTC, so no ICE/DTLS in any figure).
 *
 * (1) Mixer delay. A speaker sends 20 ms Opus frames: silence, then a 1 kHz tone from a known
 *     frame, BENCH_VOICE_BURSTS times; a listener decodes what it receives and notes the arrival
 *     of each onset (Goertzel filter). Delay = arrival of the first frame with the tone − send of
 *     the first tone frame. Paths, one after the other:
 *       - baseline: a Node UDP relay (speaker → relay → listener), same sender, same detector;
 *       - Janus rooms made directly with the admin handle at each prebuffering of
 *         BENCH_VOICE_PREBUFFERING (1,2,3,4), to show the trade-off;
 *       - Janus through the API (the space's room, made by the mixer at the configured
 *         prebuffering, JANUS_PREBUFFERING, default 2; both joined with mixer.connectPlainRtp).
 *     Every 4 bursts the speaker joins anew (a new participant: a freshly filled prebuffer, the
 *     state the setting describes) and starts its clock at a random instant, so onsets meet the
 *     mixer's 20 ms tick at all phases: one fixed phase per run would make runs differ by up to
 *     20 ms. Bursts 240 ms silence + 160 ms tone; 0.5 s of silence before each segment.
 * (2) Janus CPU per listener. One room (configured prebuffering, the mixer's room options), made
 *     directly: idle, then 1 speaker sending a tone, then N = BENCH_VOICE_LISTENERS (10,50,100)
 *     listeners joined muted (as the API joins listeners), each sending silence (Janus sends
 *     nothing to a plain-RTP participant it has not heard from). Janus's utime+stime from
 *     /proc/<pid>/stat over a BENCH_VOICE_CPU_WINDOW_MS (5 s) window, after 2 s to settle.
 *     Listeners do not decode (one probe does, to check the tone is heard).
 * (3) API connect → first mixed packet: mixer.connectPlainRtp for a new listener in the live
 *     space (the plain-RTP path; WebRTC's connectAudio adds ICE and DTLS, ~1 s with werift), then
 *     its first silence packet at once; time to the first packet from Janus and to the first one
 *     carrying the speaker's tone. BENCH_VOICE_CONNECT_TRIES (10) listeners, one at a time.
 *
 * Bounded by BENCH_VOICE_TIMEOUT_MS (180000); everything (sockets, app, database, Janus) is
 * cleaned up on success, error, timeout and SIGINT/SIGTERM. BENCH_VOICE_JSON=<file> writes the
 * figures as JSON as well; BENCH_VOICE_DEBUG=1 logs every burst.
 *
 * On a shared machine other processes stall our 20 ms clock (and Janus's): we run at nice
 * BENCH_VOICE_NICE (-10 as root, for this process, its autogroup and Janus), and leave out the
 * bursts of a segment in which this process stalled > 4 ms or Janus's output to the listener
 * paused > 45 ms (see matchOnsets in bench/voice/peers.ts), sending more instead; the notes
 * count them and the tables say how busy the machine was.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, getPriority, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import {
  JanusSession,
  startJanus,
  type AudioBridgeHandle,
  type AudioBridgeRoomOptions,
  type PlainRtpAnswer,
  type PlainRtpOffer,
  type RunningJanus,
} from '@spaces/janus';
import { PlainRtpEndpoint } from '@spaces/janus/testing';
import {
  OnsetListener,
  SilentCrowd,
  SilentPeer,
  TONE_HZ,
  ToneBurstSender,
  UdpRelay,
  matchOnsets,
  type BurstPlan,
} from './voice/peers.ts';
import { distribution, fmt, machineBusySince, machineJiffies, measureCpu, table, type CpuWindow, type Distribution } from './voice/measure.ts';
import { graphqlClient, rawId, type BenchUser, type GraphqlClient } from './voice/api.ts';
import { boundRun } from './bounds.ts';

const env = process.env;
const list = (raw: string) => raw.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n >= 0);

const TIMEOUT_MS = Number(env.BENCH_VOICE_TIMEOUT_MS ?? 180_000);
/** What the API uses: api/src/config.ts reads JANUS_PREBUFFERING, default 2; passed to buildApp explicitly. */
const CONFIGURED_PREBUFFERING = Number(env.JANUS_PREBUFFERING ?? 2);
const SWEEP = list(env.BENCH_VOICE_PREBUFFERING ?? '1,2,3,4').filter((p) => p >= 1);
const LISTENERS = list(env.BENCH_VOICE_LISTENERS ?? '10,50,100').filter((n) => n >= 1).sort((a, b) => a - b);
const BURSTS = Math.max(1, Number(env.BENCH_VOICE_BURSTS ?? 20));
const CPU_WINDOW_MS = Number(env.BENCH_VOICE_CPU_WINDOW_MS ?? 5_000);
const SETTLE_MS = 2_000;
const CONNECT_TRIES = Number(env.BENCH_VOICE_CONNECT_TRIES ?? 10);
const TARGET_MS = 60;
/**
 * Priority of Janus and of this process (nice; root only): on a shared machine, other processes'
 * load otherwise stalls the 20 ms clocks (ours and the mixer's) and the delays stop being about
 * the mixer. Reported in the output; BENCH_VOICE_NICE=0 turns it off.
 */
const NICE = Number(env.BENCH_VOICE_NICE ?? (process.getuid?.() === 0 ? -10 : 0));
const niceWorks = NICE === 0 || spawnSync('nice', ['-n', String(NICE), 'true']).status === 0;
const BURSTS_PER_SEGMENT = 4;
/** One segment: 0.5 s of silence to fill the prebuffer, bursts of 240 ms silence + 160 ms tone, 240 ms of silence. */
const SEGMENT: BurstPlan = { bursts: BURSTS_PER_SEGMENT, leadFrames: 25, silenceFrames: 12, toneFrames: 8, tailFrames: 12 };
const BURST_MS = (SEGMENT.silenceFrames + SEGMENT.toneFrames) * 20;
const SEGMENTS = Math.ceil(BURSTS / BURSTS_PER_SEGMENT);
const DELAY_RUN_MS = SEGMENTS * ((SEGMENT.leadFrames + SEGMENT.tailFrames) * 20 + 100) + BURSTS * BURST_MS + 500;

/** The room options api/src/services/mixer.ts createRoom uses (but the secret and the prebuffering). */
const MIXER_ROOM_OPTIONS: AudioBridgeRoomOptions = {
  description: 'space',
  sampling_rate: 48000,
  audiolevel_event: true,
  audio_active_packets: 25,
  audio_level_average: 55,
  allow_rtp_participants: true,
};

const startedAt = performance.now();
const remaining = () => TIMEOUT_MS - (performance.now() - startedAt);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...args: unknown[]) => console.error(`[voice ${((performance.now() - startedAt) / 1000).toFixed(1)}s]`, ...args);

// ------------------------------------------------------------------ results

interface DelayResult {
  path: string;
  prebuffering: number | null;
  bursts: number;
  missed: number;
  /** Bursts left out: this process stalled in their segment (see matchOnsets). */
  stalled: number;
  /** Bursts left out: the mixer's output stalled in their segment (see matchOnsets). */
  mixerStalled: number;
  delay: Distribution;
  /** Frames with the tone heard per burst (of SEGMENT.toneFrames sent; the codec tail may add one). */
  toneFrames: Distribution;
  /** % of all cores busy during the run (other processes share them with Janus and us). */
  machineBusy: number;
  /** Longest event-loop stall of this process during the run (ms). */
  loopDelayMaxMs: number;
}
interface CpuResult {
  label: string;
  listeners: number;
  window: CpuWindow;
  /** Packets per second each listener received from Janus. */
  rxPerListener?: number;
  /** Share of the probe listener's frames with the tone. */
  toneShare?: number;
}
interface ConnectResult {
  tries: number;
  failures: string[];
  api: Distribution;
  firstPacket: Distribution;
  firstTone: Distribution;
}

const results: { delay: DelayResult[]; cpu: CpuResult[]; connect?: ConnectResult } = { delay: [], cpu: [] };
const notes: string[] = [];
let janusInfo = '';

// ------------------------------------------------------------------ cleanup

interface Closable {
  close(): Promise<unknown> | unknown;
}
const open = new Set<Closable>();
function track<T extends Closable>(thing: T): T {
  open.add(thing);
  return thing;
}
async function release(...things: (Closable | undefined)[]) {
  for (const thing of things) {
    if (!thing) continue;
    open.delete(thing);
    await Promise.resolve(thing.close()).catch(() => {});
  }
}

let janus: RunningJanus | undefined;
let app: App | undefined;
let database: DbHandle | undefined;
let dataDir: string | undefined;
const sessions = new Set<JanusSession>();
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...open].map((thing) => release(thing)));
    await app?.stop().catch((e) => log('app.stop failed:', e));
    await database?.close().catch((e) => log('database close failed:', e));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await Promise.all([...sessions].map((s) => s.destroy().catch(() => {})));
    await janus?.stop().catch((e) => log('janus.stop failed:', e));
    restoreAutogroup();
  })();
  return cleaning;
}

const bound = boundRun({
  timeoutMs: TIMEOUT_MS,
  cleanup,
  log,
  cleanupMs: 15_000,
  onTimeout: () => {
    notes.push(`stopped at the time limit (BENCH_VOICE_TIMEOUT_MS=${TIMEOUT_MS}); figures are partial`);
    printReport(true);
  },
});

// ------------------------------------------------------------------ priority

let autogroupBefore: string | undefined;
/**
 * nice NICE for this thread (senders, receivers, relay, API) and for our autogroup: with
 * sched_autogroup (Debian's default) nice only ranks threads of one session, and each session
 * gets an equal share of the cores, so the autogroup's nice is what counts against other work on
 * the machine. Janus is in our session, and started under `nice` (its threads inherit it).
 * The autogroup's nice is put back at exit: it may be the caller's terminal session.
 */
function raisePriority() {
  try {
    setPriority(NICE);
  } catch (error) {
    notes.push(`could not renice this process to ${NICE}: ${error instanceof Error ? error.message : error}`);
  }
  try {
    const current = /nice (-?\d+)/.exec(readFileSync('/proc/self/autogroup', 'utf8'))?.[1];
    if (current !== undefined && Number(current) > NICE) {
      writeFileSync('/proc/self/autogroup', String(NICE));
      autogroupBefore = current;
      process.on('exit', restoreAutogroup);
    }
  } catch {
    // no autogroups (or not allowed): the process nice alone then
  }
}

function restoreAutogroup() {
  if (autogroupBefore === undefined) return;
  try {
    writeFileSync('/proc/self/autogroup', autogroupBefore);
  } catch {
    // the session is going away anyway
  }
  autogroupBefore = undefined;
}

function priorityLine() {
  let autogroup = '';
  try {
    autogroup = `, its autogroup ${/nice (-?\d+)/.exec(readFileSync('/proc/self/autogroup', 'utf8'))?.[1] ?? '?'}`;
  } catch {
    // no autogroups
  }
  return `Priority (BENCH_VOICE_NICE): nice ${getPriority()} for this process${autogroup}, ${NICE !== 0 && niceWorks ? NICE : 0} for Janus.`;
}

// ------------------------------------------------------------------ rooms made directly

interface DirectRoom {
  room: number;
  join(offer: PlainRtpOffer, options: { muted: boolean; display: string }): Promise<{ handle: AudioBridgeHandle; rtp: PlainRtpAnswer }>;
  destroy(): Promise<void>;
}

async function openSession(): Promise<{ session: JanusSession; admin: AudioBridgeHandle }> {
  // Joins into a busy room make Janus announce each newcomer to everyone: take events in big polls.
  const session = await JanusSession.create({ url: janus!.httpUrl, apiSecret: janus!.apiSecret, maxEventsPerPoll: 200 });
  sessions.add(session);
  const admin = await session.attachAudioBridge({ adminKey: janus!.adminKey });
  return { session, admin };
}

async function closeSession(session: JanusSession) {
  sessions.delete(session);
  await session.destroy().catch(() => {});
}

async function directRoom(session: JanusSession, admin: AudioBridgeHandle, prebuffering: number): Promise<DirectRoom> {
  const secret = randomBytes(12).toString('hex');
  const { room } = await admin.create({ ...MIXER_ROOM_OPTIONS, secret, default_prebuffering: prebuffering });
  return {
    room,
    async join(offer, { muted, display }) {
      const handle = await session.attachAudioBridge();
      const joined = await handle.join({ room, display, muted, rtp: offer });
      return { handle, rtp: joined.rtp };
    },
    destroy: () => admin.destroy(room, { secret }).catch(() => {}),
  };
}

// ------------------------------------------------------------------ (1) delay

/** One delay measurement: connect a burst sender and an onset listener, play the plan, match. */
interface DelayHooks {
  /** Connects the listener (it starts sending silence). */
  listen(listener: OnsetListener): Promise<void>;
  /** (Re)joins the speaker and connects it; called before each segment. */
  speak(sender: ToneBurstSender): Promise<void>;
}

/**
 * One delay measurement: BURSTS bursts in segments of BURSTS_PER_SEGMENT; before each segment the
 * speaker joins anew and its clock starts at a random instant, so that onsets meet the mixer's
 * 20 ms tick at many phases and each segment starts from a freshly filled prebuffer.
 */
async function measureDelay(path: string, prebuffering: number | null, hooks: DelayHooks, keepSender = false): Promise<ToneBurstSender | undefined> {
  if (remaining() < DELAY_RUN_MS + 15_000) {
    notes.push(`delay "${path}" skipped (time budget)`);
    return undefined;
  }
  const sender = track(await ToneBurstSender.open());
  const listener = track(await OnsetListener.open());
  try {
    await hooks.listen(listener);
    const machine0 = machineJiffies();
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    // Bursts left out for a stall of this process are made up for, by up to 3 more segments.
    for (let segment = 0, valid = 0; valid < BURSTS && segment < SEGMENTS + 3; segment++) {
      if (segment >= SEGMENTS && remaining() < DELAY_RUN_MS + 30_000) break;
      sender.stop();
      await hooks.speak(sender);
      await sleep(Math.random() * 20);
      await sender.play({ ...SEGMENT, bursts: Math.min(BURSTS_PER_SEGMENT, BURSTS - valid) });
      valid = matchOnsets(sender, listener, BURST_MS).delays.length;
    }
    await sleep(200); // the last burst's tail
    const machineBusy = machineBusySince(machine0);
    loop.disable();
    if (keepSender) sender.after = 'tone';
    const { delays, missed, stalled, mixerStalled, details, toneFrames } = matchOnsets(sender, listener, BURST_MS);
    const result: DelayResult = {
      path,
      prebuffering,
      bursts: sender.onsetSentAt.length,
      missed,
      stalled,
      mixerStalled,
      delay: distribution(delays),
      toneFrames: distribution(toneFrames),
      machineBusy,
      loopDelayMaxMs: loop.max / 1e6,
    };
    results.delay.push(result);
    if (env.BENCH_VOICE_DEBUG)
      log(details.map((d) => `#${d.burst} late ${fmt(d.lateMs)} gap ${fmt(d.gapMs)} delay ${fmt(d.delayMs)}`).join('; '));
    log(
      `delay ${path}${prebuffering === null ? '' : ` (prebuffering ${prebuffering})`}: p50 ${fmt(result.delay.p50)} ms, ` +
        `p95 ${fmt(result.delay.p95)} ms; ${delays.length} of ${result.bursts - stalled - mixerStalled} onsets heard ` +
        `(${stalled} + ${mixerStalled} left out); ` +
        `onset frames' ${TONE_HZ} Hz amplitude ${amplitudes(listener)} (a whole tone frame ≈ 9800, detection ≥ 1500); ` +
        `event loop stalls up to ${fmt(result.loopDelayMaxMs, 0)} ms`,
    );
    const label = `delay "${path}"${prebuffering === null ? '' : ` p${prebuffering}`}`;
    if (stalled + mixerStalled > 0)
      notes.push(
        `${label}: ${stalled + mixerStalled} of ${result.bursts} bursts left out, more sent instead ` +
          `(a stall in their segment: ${stalled} of this process > 4 ms late, ${mixerStalled} of Janus's output > 45 ms between packets)`,
      );
    if (missed > 0) notes.push(`${label}: ${missed} of ${result.bursts - stalled - mixerStalled} onsets not heard within ${BURST_MS} ms`);
  } finally {
    await release(listener);
    if (!keepSender) await release(sender);
  }
  return keepSender ? sender : undefined;
}

function amplitudes(listener: OnsetListener) {
  const d = distribution(listener.onsets.map((o) => o.amplitude));
  return `min ${fmt(d.min, 0)}, median ${fmt(d.p50, 0)}`;
}

// ------------------------------------------------------------------ (2) CPU

async function measureJanusCpu() {
  const { session, admin } = await openSession();
  const room = await directRoom(session, admin, CONFIGURED_PREBUFFERING);
  const crowd = track(new SilentCrowd());
  let speaker: PlainRtpEndpoint | undefined;
  let probe: OnsetListener | undefined;
  try {
    await sleep(SETTLE_MS);
    results.cpu.push({ label: 'idle room', listeners: 0, window: await measureCpu(janus!.pid, CPU_WINDOW_MS) });
    log(`CPU idle room: Janus ${fmt(results.cpu.at(-1)!.window.janusPct)} % of a core`);

    speaker = track(await PlainRtpEndpoint.open({ decode: false }));
    speaker.setTone(TONE_HZ);
    speaker.connect((await room.join(speaker.offer, { muted: false, display: 'speaker' })).rtp);
    speaker.start();
    await sleep(SETTLE_MS);
    results.cpu.push({ label: 'speaker only', listeners: 0, window: await measureCpu(janus!.pid, CPU_WINDOW_MS) });
    log(`CPU speaker only: Janus ${fmt(results.cpu.at(-1)!.window.janusPct)} % of a core`);

    // The first listener decodes (to check the tone is heard); the others only count packets.
    probe = track(await OnsetListener.open());
    probe.connect((await room.join(probe.offer, { muted: true, display: 'probe' })).rtp);
    crowd.start();
    for (const n of LISTENERS) {
      if (remaining() < CPU_WINDOW_MS + SETTLE_MS + 60_000) {
        notes.push(`CPU N=${n} skipped (time budget)`);
        continue;
      }
      const joinStarted = performance.now();
      while (crowd.peers.length + 1 < n) {
        const batch = Math.min(10, n - 1 - crowd.peers.length);
        await Promise.all(
          Array.from({ length: batch }, async () => {
            const peer = await SilentPeer.open();
            crowd.peers.push(peer);
            peer.remote = (await room.join(peer.offer, { muted: true, display: `listener-${crowd.peers.length}` })).rtp;
          }),
        );
      }
      log(`CPU N=${n}: listeners joined in ${fmt(performance.now() - joinStarted, 0)} ms`);
      await sleep(SETTLE_MS);
      const packets0 = crowd.packets() + probe.packets;
      const frames0 = probe.frames;
      const tone0 = probe.toneFrames;
      const window = await measureCpu(janus!.pid, CPU_WINDOW_MS);
      const rxPerListener = (crowd.packets() + probe.packets - packets0) / n / (window.wallMs / 1000);
      const toneShare = (probe.toneFrames - tone0) / Math.max(1, probe.frames - frames0);
      results.cpu.push({ label: `${n} listeners`, listeners: n, window, rxPerListener, toneShare });
      log(
        `CPU N=${n}: Janus ${fmt(window.janusPct)} % of a core; ${fmt(rxPerListener)} packets/s per listener; ` +
          `tone in ${fmt(100 * toneShare, 0)} % of the probe's frames; this process ${fmt(window.nodePct)} %, machine ${fmt(window.machinePct)} %`,
      );
    }
  } finally {
    await release(speaker, probe, crowd);
    await room.destroy();
    await closeSession(session);
  }
}

// ------------------------------------------------------------------ the API

/** The API's GraphQL endpoint, in process (users, the space, participants). */
let graphql: GraphqlClient | undefined;

// ------------------------------------------------------------------ (3) connect

async function measureConnect(space: string, spaceRawId: string, users: BenchUser[]) {
  const api: number[] = [];
  const firstPacket: number[] = [];
  const firstTone: number[] = [];
  const failures: string[] = [];
  for (const user of users) {
    if (remaining() < 20_000) {
      notes.push(`connect: stopped after ${api.length} tries (time budget)`);
      break;
    }
    user.participantId ??= await graphql!.participantIdOf(space, user);
    const endpoint = track(await OnsetListener.open());
    try {
      const t0 = performance.now();
      const answer = await app!.services.mixer.connectPlainRtp(user.participantId, endpoint.offer);
      const t1 = performance.now();
      endpoint.connect(answer); // its first silence packet goes out now
      await endpoint.until(() => endpoint.firstPacketAt !== undefined, 5_000, 'first mixed packet');
      await endpoint.until(() => endpoint.firstToneAt !== undefined, 5_000, "first packet with the speaker's tone");
      api.push(t1 - t0);
      firstPacket.push(endpoint.firstPacketAt! - t0);
      firstTone.push(endpoint.firstToneAt! - t0);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    } finally {
      await release(endpoint);
      await app!.services.mixer.disconnect(user.userId, spaceRawId).catch((e) => failures.push(`disconnect: ${e}`));
    }
    await sleep(100);
  }
  results.connect = {
    tries: users.length,
    failures,
    api: distribution(api),
    firstPacket: distribution(firstPacket),
    firstTone: distribution(firstTone),
  };
  log(
    `connect: connectPlainRtp p50 ${fmt(results.connect.api.p50)} ms; first mixed packet p50 ${fmt(results.connect.firstPacket.p50)} ms, ` +
      `p95 ${fmt(results.connect.firstPacket.p95)} ms; ${failures.length} failures`,
  );
}

// ------------------------------------------------------------------ the run

async function main() {
  log(
    `configured prebuffering ${CONFIGURED_PREBUFFERING}; sweep ${SWEEP.join(',')}; ${BURSTS} bursts per path; ` +
      `listeners ${LISTENERS.join(',')}; CPU window ${CPU_WINDOW_MS} ms; ${CONNECT_TRIES} connects; limit ${TIMEOUT_MS} ms`,
  );
  if (NICE !== 0) raisePriority();
  // `nice` execs Janus, so every thread Janus makes inherits the priority and the PID stays its own.
  janus = await startJanus(NICE !== 0 && niceWorks ? { spawnPrefix: ['nice', '-n', String(NICE)] } : {});
  const version = spawnSync('/usr/bin/env', ['sh', '-c', 'janus --version 2>/dev/null | head -1'], { encoding: 'utf8' }).stdout.trim();
  janusInfo = `${version || 'Janus'} (pid ${janus.pid}, ready in ${janus.readyAfterMs} ms)`;
  log(`Janus at ${janus.httpUrl}: ${janusInfo}`);

  // (2) first, on a Janus with nothing else going on.
  await measureJanusCpu();
  await sleep(1_000);

  // (1) baseline, then the trade-off, then the API's own room.
  let relay: UdpRelay | undefined;
  await measureDelay('Node UDP relay (baseline)', null, {
    async listen(listener) {
      relay = track(await UdpRelay.open());
      relay.forwardTo(listener.offer);
      listener.connect(relay.address);
    },
    async speak(sender) {
      sender.connect(relay!.address);
    },
  }).finally(() => release(relay));
  if (SWEEP.length > 0) {
    const { session, admin } = await openSession();
    try {
      for (const prebuffering of SWEEP) {
        const room = await directRoom(session, admin, prebuffering);
        let speaker: AudioBridgeHandle | undefined;
        await measureDelay('Janus room, admin handle', prebuffering, {
          async listen(listener) {
            listener.connect((await room.join(listener.offer, { muted: true, display: 'listener' })).rtp);
          },
          async speak(sender) {
            await speaker?.detach().catch(() => {}); // leaves the room
            const joined = await room.join(sender.offer, { muted: false, display: 'speaker' });
            speaker = joined.handle;
            sender.connect(joined.rtp);
          },
        }).finally(() => room.destroy());
      }
    } finally {
      await closeSession(session);
    }
  }

  dataDir = mkdtempSync(join(tmpdir(), 'spaces-bench-voice-'));
  database = await createDb({ dataDir });
  app = await buildApp({
    database,
    serveWeb: false,
    port: 0,
    host: '127.0.0.1',
    pubsub: 'memory',
    mixers: [{ name: 'bench', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }],
    mixerPlainRtp: true,
    mixerPrebuffering: CONFIGURED_PREBUFFERING,
    rateLimits: { signInPerMinutePerClient: 10_000, signInPerMinutePerHandle: 10, signUpPerHourPerClient: 10_000 },
    // Participants here are HTTP-only (plain RTP, no subscription): none leaves for going unseen during a run.
    presenceGraceMs: 3_600_000,
  });
  await app.start();
  graphql = graphqlClient(app);
  const host = await graphql.signUp('vh');
  const ear = await graphql.signUp('ve');
  const others = await Promise.all(Array.from({ length: CONNECT_TRIES }, () => graphql!.signUp('vc')));
  const created = await graphql.gql(`mutation { createSpace(input: { title: "Voice bench", speakerPolicy: EVERYONE }) { id } }`, {}, host.token);
  const space = created.createSpace.id as string;
  // The host starts muted (issue 11); the host is the speaker measured here.
  await graphql.gql(`mutation($s: ID!) { setMuted(spaceId: $s, muted: false) { id } }`, { s: space }, host.token);
  for (const u of [ear, ...others]) await graphql.gql(`mutation($s: ID!) { joinSpace(spaceId: $s) { id } }`, { s: space }, u.token);
  host.participantId = await graphql.participantIdOf(space, host);
  ear.participantId = await graphql.participantIdOf(space, ear);
  log('API up: space live, host (speaker) and listeners joined');

  const speaker = await measureDelay(
    'Janus via API (mixer room)',
    CONFIGURED_PREBUFFERING,
    {
      async listen(listener) {
        listener.connect(await app!.services.mixer.connectPlainRtp(ear.participantId!, listener.offer));
      },
      async speak(sender) {
        // Connecting again replaces the host's previous connection (a new participant in the room).
        sender.connect(await app!.services.mixer.connectPlainRtp(host.participantId!, sender.offer));
      },
    },
    true, // the host stays on air (a steady tone) for (3)
  );

  // (3) the host is still on air.
  if (speaker && CONNECT_TRIES > 0) await measureConnect(space, rawId(space), others);
  else if (CONNECT_TRIES > 0) notes.push('connect: skipped (no speaker on air)');
  await release(speaker);
}

// ------------------------------------------------------------------ report

let reported = false;
function printReport(partial = false) {
  if (reported) return;
  reported = true;
  const out: string[] = [];
  const say = (...lines: string[]) => out.push(...lines);
  say(
    '',
    `Voice benchmark${partial ? ' (PARTIAL)' : ''} — \`cd tests && npx tsx bench/voice.ts\` (part of \`pnpm bench\`)`,
    `${janusInfo}; AudioBridge 48 kHz, Opus 20 ms frames; plain RTP, all on 127.0.0.1; ` +
      `${availableParallelism()} cores; Node ${process.version}; run took ${fmt((performance.now() - startedAt) / 1000, 0)} s.`,
    `Configured prebuffering (JANUS_PREBUFFERING, default 2): ${CONFIGURED_PREBUFFERING} packets of 20 ms. ` +
      priorityLine(),
    '',
    `(1) Mixer delay: speaker send → listener receive of a tone onset (ms). ${BURSTS} bursts per path, each ` +
      `${SEGMENT.silenceFrames * 20} ms silence then ${SEGMENT.toneFrames * 20} ms of ${TONE_HZ} Hz; the speaker joins anew every ` +
      `${BURSTS_PER_SEGMENT} bursts, its clock started at a random instant (onsets at all phases of the mixer's 20 ms tick).`,
  );
  const relay = results.delay.find((d) => d.prebuffering === null);
  const delayRows = [['path', 'prebuf', 'heard', 'min', 'p50', 'p95', 'max', 'p50 − relay', 'p50 ÷ relay', 'tone frames/burst', 'machine busy %']];
  for (const d of results.delay)
    delayRows.push([
      d.path,
      d.prebuffering === null ? '—' : String(d.prebuffering),
      `${d.delay.n}/${d.bursts - d.stalled - d.mixerStalled}`,
      fmt(d.delay.min),
      fmt(d.delay.p50),
      fmt(d.delay.p95),
      fmt(d.delay.max),
      relay && d !== relay ? fmt(d.delay.p50 - relay.delay.p50) : '—',
      relay && d !== relay ? `${fmt(d.delay.p50 / relay.delay.p50, 0)}x` : '—',
      d.toneFrames.min === d.toneFrames.max ? String(d.toneFrames.min) : `${d.toneFrames.min}–${d.toneFrames.max}`,
      fmt(d.machineBusy, 0),
    ]);
  say(...table(delayRows));
  say(
    `heard: onsets matched / bursts counted (a burst is left out when this process or Janus's output stalled in its segment, see notes). ` +
      `tone frames/burst: ${SEGMENT.toneFrames} sent, +1 from the codec tail; fewer means frames dropped on the way.`,
  );
  const viaApi = results.delay.find((d) => d.path.startsWith('Janus via API'));
  if (viaApi)
    say(
      `Target ≤ ${TARGET_MS} ms at the configured prebuffering (${CONFIGURED_PREBUFFERING}): ` +
        `${viaApi.delay.p95 <= TARGET_MS ? 'MET' : viaApi.delay.p50 <= TARGET_MS ? 'met at p50, NOT at p95' : 'NOT MET'} ` +
        `(p50 ${fmt(viaApi.delay.p50)} ms, p95 ${fmt(viaApi.delay.p95)} ms).`,
    );
  const meeting = results.delay.filter((d) => d.prebuffering !== null && d.path.includes('admin') && d.delay.p95 <= TARGET_MS);
  if (results.delay.some((d) => d.path.includes('admin')))
    say(`Prebuffering with p95 ≤ ${TARGET_MS} ms in the sweep: ${meeting.map((d) => d.prebuffering).join(', ') || 'none'}.`);

  say(
    '',
    `(2) Janus CPU (% of one core, utime+stime from /proc over ${fmt(CPU_WINDOW_MS / 1000, 0)} s): one room, prebuffering ${CONFIGURED_PREBUFFERING}, ` +
      `1 speaker sending a tone, N muted plain-RTP listeners each sending silence.`,
  );
  const idle = results.cpu.find((c) => c.label === 'idle room');
  const cores = availableParallelism();
  const cpuRows = [['room', 'Janus %', 'over idle', 'per listener', 'rx pkt/s/listener', 'tone heard', 'load gen %', 'other procs %', 'machine busy %']];
  for (const c of results.cpu)
    cpuRows.push([
      c.label,
      fmt(c.window.janusPct),
      idle && c !== idle ? fmt(c.window.janusPct - idle.window.janusPct) : '—',
      idle && c.listeners > 0 ? fmt((c.window.janusPct - idle.window.janusPct) / c.listeners, 2) : '—',
      fmt(c.rxPerListener),
      c.toneShare === undefined ? '—' : `${fmt(100 * c.toneShare, 0)} %`,
      fmt(c.window.nodePct),
      fmt(Math.max(0, (c.window.machinePct * cores) - c.window.janusPct - c.window.nodePct)),
      fmt(c.window.machinePct),
    ]);
  say(...table(cpuRows));
  const speakerOnly = results.cpu.find((c) => c.label === 'speaker only');
  const largest = results.cpu.filter((c) => c.listeners > 0).at(-1);
  if (speakerOnly && largest)
    say(
      `Marginal cost per listener (N=${largest.listeners} vs speaker only): ` +
        `${fmt((largest.window.janusPct - speakerOnly.window.janusPct) / largest.listeners, 2)} % of a core. ` +
        `"load gen" is this Node process (senders, receivers), "other procs" everything else on the machine ` +
        `(% of one core); "machine busy" is all ${cores} cores together.`,
    );

  const c = results.connect;
  if (c) {
    say(
      '',
      `(3) API connect → first mixed packet (ms): mixer.connectPlainRtp for a new listener (plain-RTP path: no ICE/DTLS), ` +
        `${c.tries} tries, the speaker on air.`,
    );
    const row = (label: string, d: Distribution) => [label, String(d.n), fmt(d.min), fmt(d.p50), fmt(d.p95), fmt(d.max)];
    say(
      ...table([
        ['from calling connectPlainRtp to', 'n', 'min', 'p50', 'p95', 'max'],
        row('its answer (join + mute rules)', c.api),
        row('first mixed packet received', c.firstPacket),
        row("first packet with the speaker's tone", c.firstTone),
      ]),
    );
    for (const f of c.failures.slice(0, 5)) say(`  failure: ${f}`);
  }
  if (notes.length) say('', ...notes.map((n) => `Note: ${n}`));
  console.log(out.join('\n'));
  if (env.BENCH_VOICE_JSON) {
    writeFileSync(
      env.BENCH_VOICE_JSON,
      JSON.stringify({ partial, janus: janusInfo, configuredPrebuffering: CONFIGURED_PREBUFFERING, targetMs: TARGET_MS, ...results, notes }, null, 2),
    );
  }
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  log('failed:', error);
  notes.push(`run failed: ${error instanceof Error ? error.message : String(error)}`);
  if (janus?.exited) log(`Janus exited; its last lines:\n${janus.logTail()}`);
} finally {
  bound.finish();
  printReport(failed);
  await Promise.race([cleanup(), sleep(15_000)]);
}
process.exit(failed ? 1 : 0);
