/**
 * Convergence benchmark (`pnpm bench`, or `cd tests && npx tsx bench/convergence.ts`): how fast the
 * API's voice reconciler (api/src/services/mixer/reconciler.ts) makes Janus match the database.
 * A private Janus (startJanus), a real PostgreSQL (a throwaway cluster, or a temporary database
 * in BENCH_DATABASE_URL / TEST_DATABASE_URL, as bench/fanout.ts does) and the API in this process;
 * every participant is a plain-RTP endpoint on 127.0.0.1 joined with mixer.connectPlainRtp.
 *
 * (1) Janus restart with BENCH_CONVERGENCE_ROOMS (50) live rooms. Each space has its host and a
 *     listener (the "ear"); every 5th one a speaker too. Rules differ per room: the host is muted
 *     in odd rooms, the speaker unmuted in every 10th. Each participant sends silence every 20 ms
 *     (SilentCrowd), as a client does. Janus is killed (SIGKILL) and started again on the same
 *     port with the same admin key and api secret; each client connects again when its space's
 *     subscription (graphql-ws, over the API's socket) delivers AUDIO_RECONNECT. Measured from the
 *     new Janus answering /info: the API reconnected, every room existing again, and every room's
 *     listparticipants equal to the rules (each connected participant listed once, muted ===
 *     !isHeardAtMixer), checked with our own Janus session as fast as 50 listparticipants allow.
 *     Baseline, same run: the same participants connecting at once into the running rooms (before
 *     the kill), until the same check holds.
 * (2) Drift repair. A participant muted (or unmuted) directly at Janus, behind the API's back
 *     (our own session, the room's secret), at a random phase of the sweep; listparticipants every
 *     10 ms until the reconciler has put it back. BENCH_CONVERGENCE_DRIFT_REPS (10) times with the
 *     sweep at its default (3000 ms; BENCH_CONVERGENCE_SWEEP_MS sets the first API's mixerSweepMs,
 *     for (1)-(3)), then again with an API built with mixerSweepMs
 *     BENCH_CONVERGENCE_FAST_SWEEP_MS (500). Baseline: the sweep period itself. Beside it, how long
 *     one reconciler.sweep() of all rooms takes (waited for at most 4 s).
 * (3) Moderator mute → silence (bench/voice.ts does not measure it). In a space of its own a
 *     speaker sends a 1 kHz tone; the ear decodes the mix frame by frame (Goertzel). The host's
 *     muteParticipant through GraphQL (app.yoga.fetch); time from the mutation's response to the
 *     first frame without the tone (that stays without it). BENCH_CONVERGENCE_MUTE_REPS (20)
 *     times; target p95 ≤ 150 ms. Baselines: the mixer's prebuffering delay (JANUS_PREBUFFERING,
 *     default 2, x 20 ms), and, interleaved in the same run, the same mute sent straight to Janus
 *     (BENCH_CONVERGENCE_DIRECT_REPS, 10). The speaker is unmuted again for the next repetition
 *     through setMuted and straight at Janus (not to wait for the reconciler). A repetition in
 *     which this process stalled > 50 ms is left out (the speaker's sending stalls with it, and
 *     the mixer's silence would not be the mute's) and made up for; the notes count them.
 *
 * Bounded by BENCH_CONVERGENCE_TIMEOUT_MS (180000); everything (sockets, apps, database, Janus) is
 * cleaned up on success, error, timeout and SIGINT/SIGTERM. BENCH_CONVERGENCE_PUBSUB: the API's
 * event bus, postgres (default: LISTEN/NOTIFY, as deployed) or memory. BENCH_CONVERGENCE_JSON=<file> writes
 * the figures as JSON as well; BENCH_CONVERGENCE_TRACE=1 logs the reconciler's sweeps of an
 * instance that came back and the AUDIO_RECONNECT it publishes (wrapping the API's objects).
 *
 * The machine is shared by Janus (about 1 % of a core per participant), PostgreSQL and this
 * process: the notes say how busy it was and how long this process's event loop stalled.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { and, inArray, isNotNull } from 'drizzle-orm';
import postgres from 'postgres';
import type { Client } from 'graphql-ws';
import { buildApp, type App } from '@spaces/api';
import { createDb, participants, type DbHandle } from '@spaces/db';
import { JanusError, JanusSession, startJanus, type AudioBridgeHandle, type AudioBridgeParticipant, type RunningJanus } from '@spaces/janus';
import { OPUS_SAMPLE_RATE, PlainRtpEndpoint, ToneDetector } from '@spaces/janus/testing';
// The single source of "who is heard" (not exported by @spaces/api's index).
import { isHeardAtMixer, type Role } from '../../api/src/domain/rules.ts';
import { startCluster, type Cluster } from '../src/support/postgres-cluster.ts';
import { subscribe, wsClient, type Subscription } from '../src/support/ws.ts';
import { boundRun } from './bounds.ts';
import { graphqlClient, rawId, type BenchUser, type GraphqlClient } from './voice/api.ts';
import { distribution, fmt, machineBusySince, machineJiffies, measureCpu, table, type Distribution } from './voice/measure.ts';
import { SilentCrowd, SilentPeer, TONE_HZ } from './voice/peers.ts';

const env = process.env;
const TIMEOUT_MS = Number(env.BENCH_CONVERGENCE_TIMEOUT_MS ?? 180_000);
const ROOMS = Math.max(1, Number(env.BENCH_CONVERGENCE_ROOMS ?? 50));
const DRIFT_REPS = Math.max(0, Number(env.BENCH_CONVERGENCE_DRIFT_REPS ?? 10));
const FAST_SWEEP_MS = Number(env.BENCH_CONVERGENCE_FAST_SWEEP_MS ?? 500);
/** The first API's mixerSweepMs (the restart, the first drift part, the mutes); unset: the API's default. */
const SWEEP_MS = env.BENCH_CONVERGENCE_SWEEP_MS ? Number(env.BENCH_CONVERGENCE_SWEEP_MS) : undefined;
const PUBSUB = (env.BENCH_CONVERGENCE_PUBSUB ?? 'postgres') as 'postgres' | 'memory';
const MUTE_REPS = Math.max(0, Number(env.BENCH_CONVERGENCE_MUTE_REPS ?? 20));
const DIRECT_REPS = Math.max(0, Number(env.BENCH_CONVERGENCE_DIRECT_REPS ?? 10));
/** What the API uses: api/src/config.ts reads JANUS_PREBUFFERING, default 2; passed to buildApp explicitly. */
const PREBUFFERING = Number(env.JANUS_PREBUFFERING ?? 2);
/** The mixer's defaults (api/src/services/mixer/mixer.ts DEFAULTS), for the report. */
const DEFAULT_SWEEP_MS = 3_000;
const RECONNECT_INTERVAL_MS = 500;
const MUTE_TARGET_MS = 150;
/** Silence must last this many frames to count (a lone frame without the tone is a glitch). */
const SILENT_HOLD_FRAMES = 5;
/** A mute measurement during which this process stalled longer than this is left out. */
const STALL_MS = 50;
const POLL_MS = 10;
/** How long a client waits for AUDIO_RECONNECT after the kill before it connects again anyway. */
const RECONNECT_EVENT_WAIT_MS = 30_000;
/** How long to wait for reconciler.sweep() to resolve. */
const SWEEP_WAIT_MS = 4_000;
const TRACE = env.BENCH_CONVERGENCE_TRACE === '1';

const startedAt = performance.now();
const now = () => performance.now();
const remaining = () => TIMEOUT_MS - (now() - startedAt);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...args: unknown[]) => console.error(`[convergence ${((now() - startedAt) / 1000).toFixed(1)}s]`, ...args);
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function until(ready: () => boolean, timeoutMs: number, what: string, stepMs = 5): Promise<number> {
  const deadline = now() + timeoutMs;
  while (!ready()) {
    if (now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
  return now();
}

/** Runs `work` on every item, `concurrency` at a time. */
async function pool<T>(items: T[], concurrency: number, work: (item: T, index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

// ------------------------------------------------------------------ results

interface RestartResult {
  rooms: number;
  participants: number;
  /** Baseline: the same participants connecting at once into running rooms, until Janus matched. */
  baseline: { connectedMs: number; convergedMs: number; polls: number };
  /** Times from the kill (ms). */
  fromKill: Record<string, number | undefined>;
  /** Times from the new Janus answering /info (ms). */
  fromReady: Record<string, number | undefined>;
  janusStartMs: number;
  /** Janus's CPU (% of one core) with every participant connected, before the kill. */
  janusCpuPct: number;
  reconnectEvents: number;
  /** Mean time of one check of all rooms (the resolution of the convergence times). */
  pollMs: number;
  reconcile: { runs: number; operations: number; repairs: number; failures: number };
  lastFailure: string | null;
  failures: string[];
}
interface DriftResult {
  sweepMs: number;
  label: string;
  repair: Distribution;
  failures: string[];
  repairsCounted: number;
  /** reconciler.sweep() of every live room, called directly (ms; Infinity: not resolved within SWEEP_WAIT_MS). */
  fullSweep: Distribution;
}
interface MuteResult {
  api: Distribution;
  apiFromSend: Distribution;
  mutationMs: Distribution;
  direct: Distribution;
  /** API mutes slower than the target: their delay and the room runs the reconciler did meanwhile. */
  slow: { ms: number; runs: number }[];
  /** Room runs during the mutes within the target. */
  fastRuns: Distribution;
  failures: string[];
}

const results: { restart?: RestartResult; drift: DriftResult[]; mute?: MuteResult } = { drift: [] };
const notes: string[] = [];
let janusInfo = '';

// ------------------------------------------------------------------ state and cleanup

let cluster: Cluster | undefined;
let dropDatabase: (() => Promise<void>) | undefined;
let database: DbHandle | undefined;
let janus: RunningJanus | undefined;
let app: App | undefined;
let api: GraphqlClient | undefined;
const crowd = new SilentCrowd();
const endpoints = new Set<PlainRtpEndpoint>();
const sessions = new Set<JanusSession>();
const wsClients = new Set<Client>();
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const client of wsClients) await Promise.resolve(client.dispose()).catch(() => {});
    await crowd.close().catch(() => {});
    await Promise.all([...endpoints].map((e) => e.close().catch(() => {})));
    await app?.stop().catch((e) => log('app.stop failed:', e));
    await Promise.all([...sessions].map((s) => s.destroy().catch(() => {})));
    await janus?.stop().catch((e) => log('janus.stop failed:', e));
    await database?.close().catch((e) => log('database close failed:', e));
    await dropDatabase?.().catch((e) => log('drop database failed:', e));
    await cluster?.stop().catch((e) => log('stopping PostgreSQL failed:', e));
  })();
  return cleaning;
}

const bound = boundRun({
  timeoutMs: TIMEOUT_MS,
  cleanup,
  log,
  cleanupMs: 20_000,
  onTimeout: () => {
    notes.push(`stopped at the time limit (BENCH_CONVERGENCE_TIMEOUT_MS=${TIMEOUT_MS}); figures are partial`);
    printReport(true);
  },
});

// ------------------------------------------------------------------ database, Janus, API

/** A temporary database in an existing server, or a throwaway cluster (as bench/fanout.ts). */
async function openDatabase(): Promise<string> {
  const serverUrl = env.BENCH_DATABASE_URL ?? env.TEST_DATABASE_URL;
  if (!serverUrl) {
    cluster = await startCluster();
    return cluster.url;
  }
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  const name = `bench_${randomBytes(5).toString('hex')}`;
  await admin.unsafe(`create database ${name}`);
  dropDatabase = async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  };
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function startApi(sweepMs: number | undefined): Promise<App> {
  const built = await buildApp({
    database: database!,
    serveWeb: false,
    port: 0,
    host: '127.0.0.1',
    pubsub: PUBSUB,
    mixers: [{ name: 'bench', url: janus!.httpUrl, adminKey: janus!.adminKey, apiSecret: janus!.apiSecret }],
    mixerPlainRtp: true,
    mixerPrebuffering: PREBUFFERING,
    ...(sweepMs === undefined ? {} : { mixerSweepMs: sweepMs }),
    rateLimits: { signInPerMinutePerClient: 10_000, signInPerMinutePerHandle: 10, signUpPerHourPerClient: 10_000 },
    // Participants here are HTTP-only (plain RTP, no subscription): none leaves for going unseen during a run.
    presenceGraceMs: 3_600_000,
  });
  app = built;
  api = graphqlClient(built);
  if (TRACE) trace(built);
  await built.start();
  return built;
}

/**
 * BENCH_CONVERGENCE_TRACE=1: logs each reconciler.sweep() of one instance (=_ALL=1: the periodic ones too; what asked, how long, whether a
 * connection was missing: the mixer then waits the grace period and sweeps again) and each
 * AUDIO_RECONNECT the API publishes. Wraps the API's objects; diagnostics only.
 */
function trace(target: App) {
  const reconciler = target.services.mixer.reconciler;
  const sweep = reconciler.sweep.bind(reconciler);
  reconciler.sweep = async (...args: Parameters<typeof sweep>) => {
    const t0 = now();
    const missing = await sweep(...args);
    if (args[0] || env.BENCH_CONVERGENCE_TRACE_ALL === '1') log(`trace: sweep(${args[0] ? 'instance' : 'all'}, ${args[1] ?? 'sweep'}) ${fmt(t0 - startedAt, 0)}–${fmt(now() - startedAt, 0)} ms: missing=${missing}`);
    return missing;
  };
  const pubsub = target.services.events.pubsub;
  const publish = pubsub.publish.bind(pubsub) as (...args: unknown[]) => void;
  let published = 0;
  (pubsub as { publish: (...args: unknown[]) => void }).publish = (...args: unknown[]) => {
    const payload = args[2] as { kind?: string } | undefined;
    if (payload?.kind === 'AUDIO_RECONNECT' && (published++ === 0 || published === rooms.length)) log(`trace: AUDIO_RECONNECT #${published} published`);
    publish(...args);
  };
}

/** Our own Janus session (not the API's): to look at rooms and to poke them behind the API's back. */
async function observer(): Promise<AudioBridgeHandle> {
  const session = await JanusSession.create({ url: janus!.httpUrl, apiSecret: janus!.apiSecret, requestTimeoutMs: 5_000 });
  sessions.add(session);
  return session.attachAudioBridge({ adminKey: janus!.adminKey });
}

async function closeObserver(handle: AudioBridgeHandle | undefined) {
  const session = handle?.session;
  if (!session) return;
  sessions.delete(session);
  await session.destroy().catch(() => {});
}

const mixerUp = () => app!.services.mixer.status().instances.every((i) => i.up);

// ------------------------------------------------------------------ the population

interface Member {
  role: 'host' | 'ear' | 'speaker';
  user: BenchUser;
  /** Participant id (database). */
  pid: string;
  peer: SilentPeer;
}
interface Room {
  index: number;
  /** Global id. */
  space: string;
  spaceId: string;
  members: Member[];
  host: Member;
  events?: Subscription<{ kind: string }>;
}

const rooms: Room[] = [];

async function signUpMany(prefix: string, n: number): Promise<BenchUser[]> {
  const users: BenchUser[] = [];
  await pool(Array.from({ length: n }, (_, i) => i), 8, async () => {
    users.push(await api!.signUp(prefix));
  });
  return users;
}

async function setupRooms() {
  const speakerRooms = Array.from({ length: ROOMS }, (_, i) => i).filter((i) => i % 5 === 0).length;
  const t0 = now();
  const users = await signUpMany('cv', 2 * ROOMS + speakerRooms);
  log(`${users.length} users signed up in ${fmt(now() - t0, 0)} ms`);
  const gql = api!.gql;
  const t1 = now();
  await pool(Array.from({ length: ROOMS }, (_, i) => i), 8, async (index) => {
    const hostUser = users.pop()!;
    const earUser = users.pop()!;
    const created = await gql(`mutation { createSpace(input: { title: "Convergence ${index}", speakerPolicy: EVERYONE }) { id } }`, {}, hostUser.token);
    const space = created.createSpace.id as string;
    const member = async (role: Member['role'], user: BenchUser, pid: string): Promise<Member> => {
      const peer = await SilentPeer.open();
      crowd.peers.push(peer);
      return { role, user, pid, peer };
    };
    const host = await member('host', hostUser, await api!.participantIdOf(space, hostUser));
    const joined = await gql(`mutation($s: ID!) { joinSpace(spaceId: $s) { id } }`, { s: space }, earUser.token);
    const ear = await member('ear', earUser, rawId(joined.joinSpace.id));
    const members = [host, ear];
    // The host starts muted (issue 11): every other room's host opens the mic.
    if (index % 2 === 0) await gql(`mutation($s: ID!) { setMuted(spaceId: $s, muted: false) { id } }`, { s: space }, hostUser.token);
    if (index % 5 === 0) {
      const speakerUser = users.pop()!;
      const j = await gql(`mutation($s: ID!) { joinSpace(spaceId: $s) { id } }`, { s: space }, speakerUser.token);
      await gql(`mutation($s: ID!, $u: ID!) { inviteSpeaker(spaceId: $s, userId: $u) { id } }`, { s: space, u: speakerUser.id }, hostUser.token);
      await gql(`mutation($s: ID!) { acceptSpeakerInvite(spaceId: $s) { id } }`, { s: space }, speakerUser.token);
      if (index % 10 === 0) await gql(`mutation($s: ID!) { setMuted(spaceId: $s, muted: false) { id } }`, { s: space }, speakerUser.token);
      members.push(await member('speaker', speakerUser, rawId(j.joinSpace.id)));
    }
    rooms.push({ index, space, spaceId: rawId(space), members, host });
  });
  rooms.sort((a, b) => a.index - b.index);
  log(`${ROOMS} spaces made (${participantCount()} participants) in ${fmt(now() - t1, 0)} ms`);
}

const participantCount = () => rooms.reduce((n, r) => n + r.members.length, 0);

/** What a client does: connect (again); Janus sends the mix to the same local port. */
async function connect(m: Member) {
  m.peer.remote = await app!.services.mixer.connectPlainRtp(m.pid, m.peer.offer);
}

/** Subscribes to every room's events (AUDIO_RECONNECT), 10 spaces per socket. */
function subscribeRooms() {
  let client: Client | undefined;
  for (const [i, room] of rooms.entries()) {
    if (i % 10 === 0) {
      client = wsClient(app!.url!);
      wsClients.add(client);
    }
    room.events = subscribe(client!, `subscription($s: ID!) { spaceEvents(spaceId: $s) { kind } }`, { s: room.space }, (d) => d.spaceEvents);
  }
}

async function closeSubscriptions() {
  for (const client of wsClients) await Promise.resolve(client.dispose()).catch(() => {});
  wsClients.clear();
  for (const room of rooms) room.events = undefined;
}

// ------------------------------------------------------------------ is Janus as the rules say?

interface RoomState {
  exists: boolean;
  /** Why it does not match the rules (empty when it does). */
  problems: string[];
}

/** Rooms' listparticipants against the database and the rules (one query, one request per room). */
async function checkRooms(admin: AudioBridgeHandle, which: Room[], roomNumbers: Map<string, number>): Promise<Map<Room, RoomState>> {
  const rows = await app!.services.db
    .select({ id: participants.id, role: participants.role, muted: participants.muted, leftAt: participants.leftAt })
    .from(participants)
    .where(inArray(participants.spaceId, which.map((r) => r.spaceId)));
  const byId = new Map(rows.map((r) => [r.id, r]));
  const states = new Map<Room, RoomState>();
  await Promise.all(
    which.map(async (room) => {
      let listed: AudioBridgeParticipant[];
      try {
        listed = await admin.listParticipants(roomNumbers.get(room.spaceId)!);
      } catch (error) {
        if (error instanceof JanusError && error.kind === 'no-such-room') {
          states.set(room, { exists: false, problems: ['no room'] });
          return;
        }
        throw error;
      }
      const problems: string[] = [];
      const ours = new Set(room.members.map((m) => m.pid));
      for (const p of listed) if (!ours.has(String(p.display))) problems.push(`unknown participant ${p.id} "${p.display}"`);
      for (const m of room.members) {
        const row = byId.get(m.pid);
        const entries = listed.filter((p) => p.display === m.pid);
        if (!row || row.leftAt !== null) problems.push(`${m.role}: no present participant row`);
        else if (entries.length !== 1) problems.push(`${m.role}: listed ${entries.length} times`);
        else if (entries[0]!.muted !== !isHeardAtMixer({ role: row.role as Role, muted: row.muted, present: true }))
          problems.push(`${m.role}: muted=${entries[0]!.muted} at Janus, role ${row.role} muted ${row.muted} in the database`);
      }
      states.set(room, { exists: true, problems });
    }),
  );
  return states;
}

/**
 * Polls the rooms that do not match yet (fewer requests competing with the API's own) until each
 * has matched once, then checks all of them again: converged when that pass finds every room as
 * the rules say (else it goes on with those that do not). Notes when every room first existed.
 */
async function waitConverged(
  admin: AudioBridgeHandle,
  which: Room[],
  roomNumbers: Map<string, number>,
  timeoutMs: number,
): Promise<{ at?: number; allExistAt?: number; polls: number; pollMs: number; problem?: string }> {
  const deadline = now() + timeoutMs;
  const since = now();
  let polls = 0;
  const pending = new Set(which);
  const existing = new Set<Room>();
  let allExistAt: number | undefined;
  let lastMatchAt = now();
  let problems: string[] = [];
  for (;;) {
    const confirming = pending.size === 0;
    const states = await checkRooms(admin, confirming ? which : [...pending], roomNumbers).catch((error) => {
      problems = [message(error)];
      return new Map<Room, RoomState>();
    });
    const at = now();
    polls++;
    for (const [room, state] of states) {
      if (state.exists) existing.add(room);
      if (state.problems.length === 0 && !confirming && pending.delete(room)) lastMatchAt = at;
      if (state.problems.length > 0 && confirming) pending.add(room);
    }
    if (existing.size === which.length) allExistAt ??= at;
    if (confirming && pending.size === 0 && states.size === which.length) return { at: lastMatchAt, allExistAt, polls, pollMs: (at - since) / polls };
    if (at > deadline) {
      const bad = [...states].filter(([, s]) => s.problems.length > 0).slice(0, 3);
      problems = [...problems, ...bad.map(([room, s]) => `room ${room.index}: ${s.problems.join('; ')}`)];
      return {
        allExistAt,
        polls,
        pollMs: (at - since) / polls,
        problem: `Janus did not match the rules within ${timeoutMs} ms: ${existing.size}/${which.length} rooms exist, ${which.length - pending.size} matched; ${problems.join(' | ')}`,
      };
    }
    await sleep(2);
  }
}

async function roomNumbersOf(which: Room[]): Promise<Map<string, number>> {
  const spaces = await app!.services.spaces.byIds(which.map((r) => r.spaceId));
  const numbers = new Map<string, number>();
  for (const s of spaces) if (s?.mixerRoom != null) numbers.set(s.id, s.mixerRoom);
  const missing = which.filter((r) => !numbers.has(r.spaceId));
  if (missing.length) throw new Error(`${missing.length} spaces have no room yet`);
  return numbers;
}

// ------------------------------------------------------------------ (1) Janus restart

async function measureRestart() {
  const all = rooms.flatMap((r) => r.members);
  subscribeRooms();
  crowd.start();
  let admin = await observer();
  const failures: string[] = [];

  // Baseline: everyone connects at once into the running rooms.
  const numbers = await roomNumbersOfWhenPlaced();
  const b0 = now();
  await Promise.all(all.map(connect));
  const connectedMs = now() - b0;
  const baseline = await waitConverged(admin, rooms, numbers, 20_000);
  if (baseline.at === undefined) throw new Error(`baseline: ${baseline.problem}`);
  log(`baseline: ${all.length} participants connected in ${fmt(connectedMs, 0)} ms; Janus matched the rules after ${fmt(baseline.at - b0, 0)} ms`);
  const cpu = await measureCpu(janus!.pid, 2_000);
  // Every subscription is live (it delivered the participants' audio updates).
  await Promise.all(rooms.map((r) => r.events!.waitFor(() => true, 5_000))).catch(() => notes.push('some space subscriptions delivered nothing before the restart'));
  await sleep(1_000);
  for (const room of rooms) if (room.events!.events.some((e) => e.kind === 'AUDIO_RECONNECT')) notes.push(`room ${room.index}: AUDIO_RECONNECT before the restart`);

  // Kill Janus; start it again on the same port with the same keys.
  const stats0 = { ...app!.services.mixer.reconciler.stats };
  const port = Number(new URL(janus!.httpUrl).port);
  const { adminKey, apiSecret } = janus!;
  const old = janus!;
  const exited = new Promise<void>((resolve) => old.onExit(() => resolve()));
  const marks: Record<string, number | undefined> = {};
  const tKill = now();
  process.kill(old.pid, 'SIGKILL');
  await exited;
  marks['Janus exited'] = now();
  await closeObserver(admin);
  marks['API saw Janus down'] = await until(() => !mixerUp(), 10_000, 'the API noticing Janus is gone', 1);
  const reconnectAt: number[] = [];
  const connectedAt: number[] = [];
  let missedEvents = 0;
  // When the API has recorded every connection on the lost Janus as gone (Mixer.#instanceDown).
  const forgotten = (async () => {
    // Until the first client connects again (its new connection is recorded).
    while (reconnectAt.length === 0) {
      const held = await app!.services.db
        .select({ id: participants.id })
        .from(participants)
        .where(and(inArray(participants.spaceId, rooms.map((r) => r.spaceId)), isNotNull(participants.mixerParticipantId)))
        .catch(() => [{ id: '?' }]);
      if (held.length === 0) return now();
      await sleep(10);
    }
    return undefined;
  })();

  // Clients: each space's subscription says AUDIO_RECONNECT; each of its members connects again.
  const clients = Promise.all(
    rooms.map(async (room) => {
      const sub = room.events!;
      try {
        await sub.waitFor((e) => e.kind === 'AUDIO_RECONNECT', RECONNECT_EVENT_WAIT_MS);
      } catch {
        missedEvents++;
      }
      reconnectAt.push(now());
      await Promise.all(
        room.members.map(async (m) => {
          // A client retries a CONFLICT (voice reconnecting) a moment later, as the API asks.
          for (let attempt = 0; ; attempt++) {
            try {
              await connect(m);
              connectedAt.push(now());
              return;
            } catch (error) {
              if (attempt >= 20) {
                failures.push(`room ${room.index} ${m.role}: ${message(error)}`);
                return;
              }
              await sleep(250);
            }
          }
        }),
      );
    }),
  );

  let upAt: number | undefined;
  const tStart = now();
  janus = await startJanus({ httpPort: port, adminKey, apiSecret });
  const tReady = now();
  janusInfo = `Janus pid ${janus.pid} after the restart (ready in ${janus.readyAfterMs} ms)`;
  const watchUp = (async () => {
    upAt = await until(mixerUp, 20_000, 'the API reconnecting to Janus', 1).catch(() => undefined);
  })();
  admin = await observer();
  const converged = await waitConverged(admin, rooms, numbers, RECONNECT_EVENT_WAIT_MS + 20_000);
  if (converged.problem) failures.push(converged.problem);
  if (missedEvents) failures.unshift(`${missedEvents} rooms: no AUDIO_RECONNECT within ${RECONNECT_EVENT_WAIT_MS} ms of the kill (their clients connected again anyway then)`);
  await watchUp;
  await Promise.race([clients, sleep(5_000)]);
  const stats1 = app!.services.mixer.reconciler.stats;

  marks['new Janus started (spawn)'] = tStart;
  marks['new Janus ready (/info answers)'] = tReady;
  marks['API reconnected (mixer status up)'] = upAt;
  marks['API recorded every connection gone (database)'] = await forgotten;
  marks['every room exists again'] = converged.allExistAt;
  marks['first AUDIO_RECONNECT received'] = reconnectAt.length > missedEvents ? Math.min(...reconnectAt) : undefined;
  marks['last AUDIO_RECONNECT received'] = missedEvents === 0 && reconnectAt.length === rooms.length ? Math.max(...reconnectAt) : undefined;
  marks['every client connected again'] = connectedAt.length === all.length ? Math.max(...connectedAt) : undefined;
  marks['Janus = rules in every room (converged)'] = converged.at;
  const fromKill: Record<string, number | undefined> = {};
  const fromReady: Record<string, number | undefined> = {};
  for (const [label, at] of Object.entries(marks).sort((a, b) => (a[1] ?? Infinity) - (b[1] ?? Infinity))) {
    fromKill[label] = at === undefined ? undefined : at - tKill;
    fromReady[label] = at === undefined ? undefined : at - tReady;
  }
  results.restart = {
    rooms: rooms.length,
    participants: all.length,
    baseline: { connectedMs, convergedMs: baseline.at - b0, polls: baseline.polls },
    fromKill,
    fromReady,
    janusStartMs: tReady - tStart,
    janusCpuPct: cpu.janusPct,
    reconnectEvents: reconnectAt.length - missedEvents,
    pollMs: converged.pollMs,
    reconcile: {
      runs: stats1.runs - stats0.runs,
      operations: stats1.operations - stats0.operations,
      repairs: stats1.repairs - stats0.repairs,
      failures: stats1.failures - stats0.failures,
    },
    lastFailure: stats1.failures > stats0.failures ? stats1.lastFailure : null,
    failures,
  };
  log(
    `restart: converged ${fmt(fromReady['Janus = rules in every room (converged)'], 0)} ms after the new Janus was ready ` +
      `(rooms existed after ${fmt(fromReady['every room exists again'], 0)} ms); ${failures.length} failures`,
  );
  return admin;

  async function roomNumbersOfWhenPlaced() {
    // A new space's room is made by the reconciler right after createSpace: wait for all.
    const deadline = now() + 10_000;
    for (;;) {
      try {
        return await roomNumbersOf(rooms);
      } catch (error) {
        if (now() > deadline) throw error;
        await sleep(50);
      }
    }
  }
}

// ------------------------------------------------------------------ (2) drift repair

/** Pokes until DRIFT_REPS are done or `deadline` (performance.now()) is near. */
async function measureDrift(admin: AudioBridgeHandle, sweepMs: number, label: string, deadline: number) {
  const repair: number[] = [];
  const failures: string[] = [];
  const reconciler = app!.services.mixer.reconciler;
  // How long one full sweep of every live room takes (the reconciler runs 2 rooms at a time).
  // Bounded: a sweep resolves only once none of its rooms is queued any more, which need not
  // happen while periodic sweeps keep queuing them again.
  const sweepStart = now();
  const done = await Promise.race([reconciler.sweep().then(() => true), sleep(SWEEP_WAIT_MS).then(() => false)]);
  const sweeps = [done ? now() - sweepStart : Infinity];
  const repairs0 = reconciler.stats.repairs;
  // In the results from the start, so that a report at the time limit has what was measured.
  const result: DriftResult = { sweepMs, label, repair: distribution([]), failures, repairsCounted: 0, fullSweep: distribution(sweeps) };
  results.drift.push(result);
  for (let rep = 0; rep < DRIFT_REPS; rep++) {
    if (now() + Math.max(sweepMs, 2_000) > deadline) {
      notes.push(`drift (${label}): stopped after ${rep} of ${DRIFT_REPS} (time budget)`);
      break;
    }
    const room = rooms[(rep * 7 + 3) % rooms.length]!;
    const target = room.host;
    try {
      // A random phase of the sweep: right after a repair the next sweep is a whole period away.
      await sleep(randomInt(0, sweepMs));
      const [space] = await app!.services.spaces.byIds([room.spaceId]);
      const at = space && app!.services.mixer.roomOf(space);
      if (!at) throw new Error('no room for the space');
      const secret = at.instance.roomSecret(at.room);
      const entry = (await admin.listParticipants(at.room)).find((p) => p.display === target.pid);
      if (!entry) throw new Error('the host is not in the room');
      const wanted = entry.muted; // what the rules say (the room has converged)
      if (wanted) await admin.unmute(at.room, entry.id, { secret });
      else await admin.mute(at.room, entry.id, { secret });
      const t0 = now();
      // A sweep period and a whole pass over the rooms (which can take longer than the period).
      const giveUp = t0 + Math.max(2 * sweepMs + 3_000, 8_000);
      let flipped = false;
      for (;;) {
        const current = (await admin.listParticipants(at.room)).find((p) => p.id === entry.id);
        if (!current) throw new Error('the host left the room');
        if (current.muted !== wanted) flipped = true;
        else {
          if (!flipped) failures.push(`rep ${rep}: the first look after the poke already showed it repaired`);
          repair.push(now() - t0);
          result.repair = distribution(repair);
          break;
        }
        if (now() > giveUp) throw new Error(`not repaired within ${giveUp - t0} ms`);
        await sleep(POLL_MS);
      }
    } catch (error) {
      failures.push(`rep ${rep} (room ${room.index}): ${message(error)}`);
    }
  }
  // A repair is counted when its run ends, just after Janus answered (not reconciler.settled():
  // it need not resolve while periodic sweeps keep queuing the room again).
  await sleep(500);
  result.repairsCounted = reconciler.stats.repairs - repairs0;
  log(
    `drift (${label}): repaired p50 ${fmt(result.repair.p50, 0)} ms, p95 ${fmt(result.repair.p95, 0)} ms, max ${fmt(result.repair.max, 0)} ms ` +
      `over ${result.repair.n} pokes; reconciler counted ${result.repairsCounted} repairs; sweep() took ${fmt(result.fullSweep.max, 0)} ms`,
  );
}

// ------------------------------------------------------------------ (3) mute → silence

interface Frame {
  at: number;
  tone: boolean;
}

/** The ear: decodes the mix and keeps, per 20 ms frame, its arrival and whether the tone is in it. */
class Ear {
  readonly frames: Frame[] = [];
  readonly #detector = new ToneDetector({ sampleRate: OPUS_SAMPLE_RATE, frequency: TONE_HZ, referenceFrequency: 1950 });
  #waiters: (() => void)[] = [];

  constructor(readonly endpoint: PlainRtpEndpoint) {
    endpoint.on('audio', (pcm) => {
      this.frames.push({ at: now(), tone: this.#detector.process(pcm).detected });
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Resolves with `find()`'s answer once it has one (checked on each frame). */
  async wait<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      const left = deadline - now();
      if (left <= 0) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The first frame after `since` whose state is `tone`, followed by `hold` - 1 more like it. */
  firstRun(since: number, tone: boolean, hold: number): Frame | undefined {
    const start = this.#indexAfter(since);
    for (let i = start; i + hold <= this.frames.length; i++) {
      if (this.frames[i]!.tone !== tone) continue;
      let j = 1;
      while (j < hold && this.frames[i + j]!.tone === tone) j++;
      if (j === hold) return this.frames[i];
      i += j - 1;
    }
    return undefined;
  }

  #indexAfter(since: number) {
    let i = this.frames.length;
    while (i > 0 && this.frames[i - 1]!.at > since) i--;
    return i;
  }
}

/** Notes when this process's event loop ran late (a 5 ms timer), to leave out measurements it spoiled. */
class StallMonitor {
  readonly #late: { at: number; ms: number }[] = [];
  #last = now();
  readonly #timer = setInterval(() => {
    const at = now();
    const late = at - this.#last - 5;
    if (late > 10) this.#late.push({ at, ms: late });
    this.#last = at;
  }, 5).unref();

  /** The longest stall that ended in [from, to] or spanned part of it. */
  worstBetween(from: number, to: number): number {
    return Math.max(0, ...this.#late.filter((l) => l.at >= from && l.at - l.ms <= to).map((l) => l.ms));
  }

  stop() {
    clearInterval(this.#timer);
  }
}

/** Mutes until MUTE_REPS + DIRECT_REPS are done or `deadline` (performance.now()) is near. */
async function measureMute(admin: AudioBridgeHandle, deadline: number) {
  const gql = api!.gql;
  const [host, speaker, listener] = await signUpMany('cm', 3);
  const created = await gql(`mutation { createSpace(input: { title: "Mute bench", speakerPolicy: EVERYONE }) { id } }`, {}, host!.token);
  const space = created.createSpace.id as string;
  // The host starts muted (issue 11); on air as before, so the room mixes two stage members.
  await gql(`mutation($s: ID!) { setMuted(spaceId: $s, muted: false) { id } }`, { s: space }, host!.token);
  const spaceId = rawId(space);
  const joinedSpeaker = await gql(`mutation($s: ID!) { joinSpace(spaceId: $s) { id } }`, { s: space }, speaker!.token);
  const joinedEar = await gql(`mutation($s: ID!) { joinSpace(spaceId: $s) { id } }`, { s: space }, listener!.token);
  await gql(`mutation($s: ID!, $u: ID!) { inviteSpeaker(spaceId: $s, userId: $u) { id } }`, { s: space, u: speaker!.id }, host!.token);
  await gql(`mutation($s: ID!) { acceptSpeakerInvite(spaceId: $s) { id } }`, { s: space }, speaker!.token);
  const hostPeer = await SilentPeer.open();
  crowd.peers.push(hostPeer);
  hostPeer.remote = await app!.services.mixer.connectPlainRtp(await api!.participantIdOf(space, host!), hostPeer.offer);
  const speakerPid = rawId(joinedSpeaker.joinSpace.id);
  const talker = await PlainRtpEndpoint.open({ decode: false });
  endpoints.add(talker);
  talker.connect(await app!.services.mixer.connectPlainRtp(speakerPid, talker.offer));
  talker.setTone(TONE_HZ, 0.3);
  talker.start();
  const earEndpoint = await PlainRtpEndpoint.open();
  endpoints.add(earEndpoint);
  const ear = new Ear(earEndpoint);
  earEndpoint.connect(await app!.services.mixer.connectPlainRtp(rawId(joinedEar.joinSpace.id), earEndpoint.offer));
  earEndpoint.start(); // silence: Janus sends nothing to a plain-RTP participant it has not heard from
  await ear.wait(() => (ear.frames.length >= 10 ? true : undefined), 5_000, 'the mix at the ear');

  const [row] = await app!.services.spaces.byIds([spaceId]);
  const at = row && app!.services.mixer.roomOf(row);
  if (!at) throw new Error('no room for the mute space');
  const secret = at.instance.roomSecret(at.room);

  const viaApi: number[] = [];
  const apiFromSend: number[] = [];
  const mutationMs: number[] = [];
  const direct: number[] = [];
  /** Per API mute: the delay, and how many room runs the reconciler did meanwhile (a sweep shows as dozens). */
  const apiReps: { ms: number; runs: number }[] = [];
  const reconciler = app!.services.mixer.reconciler;
  const failures: string[] = [];
  const total = MUTE_REPS + DIRECT_REPS;
  let apiDone = 0;
  let directDone = 0;
  let stalled = 0;
  const stalls = new StallMonitor();
  // Repetitions in which this process stalled do not count (and are made up for, up to 10).
  for (let rep = 0; apiDone + directDone < total && rep < total + 10; rep++) {
    if (now() + 2_000 > deadline) {
      notes.push(`mute: stopped after ${apiDone + directDone} of ${total} repetitions (time budget)`);
      break;
    }
    // Interleaved: every third a direct one while both kinds are left.
    const isDirect = directDone < DIRECT_REPS && (rep % 3 === 2 || apiDone >= MUTE_REPS);
    try {
      // The speaker opens their mic: in the database (setMuted) and, not to wait for the
      // reconciler's unmute (the mute is what is measured), at Janus straight away.
      await gql(`mutation($s: ID!) { setMuted(spaceId: $s, muted: false) { id } }`, { s: space }, speaker!.token);
      const entry = (await admin.listParticipants(at.room)).find((p) => p.display === speakerPid);
      if (!entry) throw new Error('the speaker is not in the room');
      const tUnmute = now();
      if (entry.muted) await admin.unmute(at.room, entry.id, { secret });
      await ear.wait(() => ear.firstRun(tUnmute, true, 3), 3_000, 'the tone after unmuting');
      await sleep(60 + randomInt(0, 40)); // a few frames of tone, and a random phase of the mixer's tick
      const tSend = now();
      const runs0 = reconciler.stats.runs;
      if (isDirect) await admin.mute(at.room, entry.id, { secret });
      else await gql(`mutation($s: ID!, $u: ID!) { muteParticipant(spaceId: $s, userId: $u) { id } }`, { s: space, u: speaker!.id }, host!.token);
      const tDone = now();
      const silent = await ear.wait(() => ear.firstRun(tSend, false, SILENT_HOLD_FRAMES), 5_000, `silence after ${isDirect ? 'a direct mute' : 'muteParticipant'}`);
      // A stall of this process delays our clocks (a late response, frames noted late) and the
      // speaker's sending (the mixer then runs out of its audio: silence that is not the mute's).
      if (stalls.worstBetween(tSend - 100, silent.at + 50) > STALL_MS) {
        stalled++;
        continue;
      }
      if (isDirect) {
        direct.push(silent.at - tDone);
        directDone++; // the next repetition unmutes it again (the database says heard throughout)
      } else {
        viaApi.push(silent.at - tDone);
        apiReps.push({ ms: silent.at - tDone, runs: reconciler.stats.runs - runs0 });
        apiFromSend.push(silent.at - tSend);
        mutationMs.push(tDone - tSend);
        apiDone++;
      }
    } catch (error) {
      failures.push(`rep ${rep} (${isDirect ? 'direct' : 'API'}): ${message(error)}`);
      if (isDirect) directDone++;
      else apiDone++;
    }
  }
  stalls.stop();
  if (stalled) notes.push(`mute: ${stalled} repetitions left out: this process stalled > ${STALL_MS} ms during them`);
  results.mute = {
    api: distribution(viaApi),
    apiFromSend: distribution(apiFromSend),
    mutationMs: distribution(mutationMs),
    direct: distribution(direct),
    slow: apiReps.filter((r) => r.ms > MUTE_TARGET_MS).map((r) => ({ ms: Math.round(r.ms), runs: r.runs })),
    fastRuns: distribution(apiReps.filter((r) => r.ms <= MUTE_TARGET_MS).map((r) => r.runs)),
    failures,
  };
  log(
    `mute: muteParticipant response → silence p50 ${fmt(results.mute.api.p50)} ms, p95 ${fmt(results.mute.api.p95)} ms; ` +
      `direct Janus mute p50 ${fmt(results.mute.direct.p50)} ms; ${failures.length} failures`,
  );
  // Done: end the space (its room goes) and hang up.
  await gql(`mutation($s: ID!) { endSpace(spaceId: $s) { id } }`, { s: space }, host!.token).catch((e) => notes.push(`endSpace: ${message(e)}`));
  for (const e of [talker, earEndpoint]) {
    endpoints.delete(e);
    await e.close();
  }
  crowd.peers.splice(crowd.peers.indexOf(hostPeer), 1);
  await hostPeer.close();
}

// ------------------------------------------------------------------ the run

async function main() {
  log(
    `${ROOMS} rooms; ${DRIFT_REPS} drift pokes per sweep setting (${SWEEP_MS ?? `default ${DEFAULT_SWEEP_MS}`} ms, then ${FAST_SWEEP_MS} ms); ` +
      `${MUTE_REPS} + ${DIRECT_REPS} mutes; prebuffering ${PREBUFFERING}; limit ${TIMEOUT_MS} ms`,
  );
  const machine0 = machineJiffies();
  const cpu0 = process.cpuUsage();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const [databaseUrl] = await Promise.all([
    openDatabase(),
    (async () => {
      janus = await startJanus();
      janusInfo = `Janus pid ${janus.pid} (ready in ${janus.readyAfterMs} ms)`;
    })(),
  ]);
  database = await createDb({ url: databaseUrl, maxConnections: 20 });
  log(`PostgreSQL and Janus (${janus!.httpUrl}) ready`);

  // App A: the sweep at its default.
  await startApi(SWEEP_MS);
  await setupRooms();

  let admin: AudioBridgeHandle | undefined = await measureRestart();

  // The time left is shared out: 40 % to the first drift part, then the mutes and the
  // mixerSweepMs 500 part (with the API's restart) half each of what is left then. Each part
  // stops at its deadline with what it has.
  const margin = 15_000; // the last repetition, the report, the cleanup
  const drift = DRIFT_REPS > 0;
  const mutes = MUTE_REPS + DIRECT_REPS > 0;
  const share = (fraction: number) => now() + Math.max(0, remaining() - margin) * fraction;
  const firstSweepMs = SWEEP_MS ?? DEFAULT_SWEEP_MS;
  const firstLabel = SWEEP_MS === undefined ? `default sweep (${DEFAULT_SWEEP_MS} ms)` : `mixerSweepMs ${SWEEP_MS}`;
  if (drift) await measureDrift(admin, firstSweepMs, firstLabel, share(mutes ? 0.4 : 0.5));
  if (mutes) await measureMute(admin, share(drift ? 0.5 : 1));

  // App B: the same database and Janus, the sweep at FAST_SWEEP_MS. Stopping app A drops its
  // Janus session and so everyone's audio; the clients connect again through app B.
  if (drift && remaining() - margin > 20_000) {
    const deadline = share(1);
    await closeSubscriptions();
    const tStop = now();
    await app!.stop();
    app = undefined;
    await startApi(FAST_SWEEP_MS);
    const numbers = await roomNumbersOf(rooms);
    await Promise.all(rooms.flatMap((r) => r.members).map(connect));
    const converged = await waitConverged(admin, rooms, numbers, 20_000);
    if (converged.at === undefined) throw new Error(`after the API's restart: ${converged.problem}`);
    log(`API restarted with sweep ${FAST_SWEEP_MS} ms; clients connected again; Janus matched after ${fmt(converged.at - tStop, 0)} ms from the stop`);
    await measureDrift(admin, FAST_SWEEP_MS, `mixerSweepMs ${FAST_SWEEP_MS}`, deadline);
  } else if (drift) notes.push(`drift with mixerSweepMs ${FAST_SWEEP_MS}: skipped (time budget)`);
  await closeObserver(admin);
  admin = undefined;
  const cpu = process.cpuUsage(cpu0);
  notes.push(
    `machine: ${fmt(machineBusySince(machine0), 0)} % of all ${availableParallelism()} cores busy over the run; this process (API, clients, ` +
      `checks) ${fmt((cpu.user + cpu.system) / 10 / (now() - startedAt), 0)} % of a core; its event loop stalled up to ` +
      `${fmt(loop.max / 1e6, 0)} ms (p99 ${fmt(loop.percentile(99) / 1e6, 0)} ms)`,
  );
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
    `Convergence benchmark${partial ? ' (PARTIAL)' : ''} — \`cd tests && npx tsx bench/convergence.ts\` (part of \`pnpm bench\`)`,
    `${janusInfo}; real PostgreSQL (pubsub ${PUBSUB}); first API's sweep ${SWEEP_MS ?? `${DEFAULT_SWEEP_MS} (default)`} ms; plain RTP on 127.0.0.1; prebuffering ${PREBUFFERING}; ${availableParallelism()} cores; ` +
      `Node ${process.version}; run took ${fmt((now() - startedAt) / 1000, 0)} s.`,
  );

  const r = results.restart;
  if (r) {
    say(
      '',
      `(1) Janus restart (SIGKILL, same port and keys) with ${r.rooms} live rooms, ${r.participants} plain-RTP participants; ` +
        `clients connect again on AUDIO_RECONNECT. The API retries a lost Janus every ${RECONNECT_INTERVAL_MS} ms. ` +
        `Janus used ${fmt(r.janusCpuPct, 0)} % of a core with all of them connected. ` +
        `Times in ms; each check of all rooms took ${fmt(r.pollMs, 0)} ms (the resolution).`,
    );
    const rows = [['step', 'from kill', 'from new Janus ready']];
    for (const label of Object.keys(r.fromKill)) rows.push([label, fmt(r.fromKill[label], 0), fmt(r.fromReady[label], 0)]);
    say(...table(rows));
    const converged = r.fromReady['Janus = rules in every room (converged)'];
    say(
      `Baseline (same run, before the kill): the same ${r.participants} participants connecting at once into the running rooms: ` +
        `Janus = rules after ${fmt(r.baseline.convergedMs, 0)} ms (connects returned after ${fmt(r.baseline.connectedMs, 0)} ms).`,
      `Restart convergence from the new Janus ready: ${fmt(converged, 0)} ms = ${fmt((converged ?? NaN) / r.baseline.convergedMs, 1)}x the baseline; ` +
        `rooms existed again after ${fmt(r.fromReady['every room exists again'], 0)} ms. ${r.reconnectEvents}/${r.rooms} AUDIO_RECONNECT received. ` +
        `Reconciler meanwhile: ${r.reconcile.runs} runs, ${r.reconcile.operations} operations, ${r.reconcile.repairs} sweep repairs, ${r.reconcile.failures} failures` +
        (r.lastFailure ? ` (last: ${r.lastFailure})` : '') + '.',
    );
    for (const f of r.failures.slice(0, 5)) say(`  failure: ${f}`);
  }

  if (results.drift.length) {
    say(
      '',
      `(2) Drift repair: a participant muted/unmuted at Janus behind the API's back, at a random phase of the sweep; ` +
        `time until listparticipants (every ${POLL_MS} ms) shows it put back (ms). Baseline: the sweep period.`,
    );
    const rows = [['sweep', 'n', 'min', 'p50', 'p95', 'max', 'p50 ÷ period', 'max ÷ period', 'repairs counted', 'sweep() took']];
    for (const d of results.drift)
      rows.push([
        d.label,
        String(d.repair.n),
        fmt(d.repair.min, 0),
        fmt(d.repair.p50, 0),
        fmt(d.repair.p95, 0),
        fmt(d.repair.max, 0),
        fmt(d.repair.p50 / d.sweepMs, 2),
        fmt(d.repair.max / d.sweepMs, 2),
        String(d.repairsCounted),
        d.fullSweep.max === Infinity ? `> ${SWEEP_WAIT_MS}` : fmt(d.fullSweep.max, 0),
      ]);
    say(...table(rows));
    say(
      `"sweep() took": a call of reconciler.sweep() (every live room: ${rooms.length}), waited for at most ${SWEEP_WAIT_MS} ms; ` +
        `"> ${SWEEP_WAIT_MS}": it had not resolved (its rooms kept being queued again by the periodic sweep).`,
    );
    for (const d of results.drift) for (const f of d.failures.slice(0, 3)) say(`  failure (${d.label}): ${f}`);
  }

  const m = results.mute;
  if (m) {
    const prebufferMs = PREBUFFERING * 20;
    say(
      '',
      `(3) Moderator mute → silence at the listener (ms): a speaker sends a ${TONE_HZ} Hz tone, the ear decodes the mix; ` +
        `silence = the first frame without the tone (and ${SILENT_HOLD_FRAMES - 1} more after it). Target p95 ≤ ${MUTE_TARGET_MS} ms.`,
    );
    const row = (label: string, d: Distribution, base = true) => [
      label,
      String(d.n),
      fmt(d.min),
      fmt(d.p50),
      fmt(d.p95),
      fmt(d.max),
      base ? fmt(d.p50 - prebufferMs) : '—',
      base ? `${fmt(d.p50 / prebufferMs, 1)}x` : '—',
    ];
    say(
      ...table([
        ['from', 'n', 'min', 'p50', 'p95', 'max', `p50 − prebuffer (${prebufferMs})`, 'p50 ÷ prebuffer'],
        row('muteParticipant response → silence', m.api),
        row('muteParticipant sent → silence', m.apiFromSend),
        row('(muteParticipant round trip)', m.mutationMs, false),
        row('direct Janus mute response → silence (baseline)', m.direct),
      ]),
    );
    say(
      `Target ≤ ${MUTE_TARGET_MS} ms p95 (from the response): ${m.api.n === 0 ? 'not measured' : m.api.p95 <= MUTE_TARGET_MS ? 'MET' : 'NOT MET'} ` +
        `(p95 ${fmt(m.api.p95)} ms; the API adds ${fmt(m.api.p50 - m.direct.p50)} ms at p50 over a mute sent straight to Janus).`,
    );
    if (m.slow.length)
      say(
        `Slower than ${MUTE_TARGET_MS} ms: ${m.slow.length} of ${m.api.n}, with ${m.slow.map((x) => `${x.ms} ms/${x.runs} runs`).join(', ')} ` +
          `(room runs the reconciler did between the mutation and the silence; a sweep of all rooms shows as dozens). ` +
          `The mutes within the target saw ${fmt(m.fastRuns.p50, 0)} runs at p50, ${fmt(m.fastRuns.max, 0)} at most.`,
      );
    for (const f of m.failures.slice(0, 5)) say(`  failure: ${f}`);
  }
  if (notes.length) say('', ...notes.map((n) => `Note: ${n}`));
  console.log(out.join('\n'));
  if (env.BENCH_CONVERGENCE_JSON) writeFileSync(env.BENCH_CONVERGENCE_JSON, JSON.stringify({ partial, ...results, notes }, null, 2));
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  log('failed:', error);
  notes.push(`run failed: ${message(error)}`);
  if (janus?.exited) log(`Janus exited; its last lines:\n${janus.logTail()}`);
} finally {
  bound.finish();
  printReport(failed);
  await Promise.race([cleanup(), sleep(20_000)]);
}
process.exit(failed ? 1 : 0);
