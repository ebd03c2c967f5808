/**
 * Audience benchmark (`pnpm bench`, or from tests/: `bash ../scripts/netns.sh npx tsx bench/audience.ts`;
 * as root it enters the namespace itself). What large audiences cost Janus when they listen to a
 * space's AudioBridge mix through `rtp_forward` into a Streaming mountpoint (relayed, never
 * re-encoded), beside the AudioBridge path where every listener is a muted participant.
 *
 * Everything runs inside scripts/netns.sh's private namespace: Janus (Debian's 1.1.2, startJanus,
 * ICE on spaces0), a plain-RTP speaker in the room sending 1 kHz tone bursts, and WebRTC (werift)
 * listeners: load listeners in AUDIENCE_BENCH_WORKERS child processes (bench/audience/worker.ts)
 * count packets from the clear RTP header once ICE/DTLS/SRTP are up; sampled listeners in this
 * process decrypt and decode every frame (opusscript) and note tone onsets (Goertzel).
 * Janus CPU: utime+stime of its process from /proc over AUDIENCE_BENCH_WINDOW_MS, after 3 s to settle.
 *
 * (1) Janus CPU per listener, Streaming vs AudioBridge, same N (AUDIENCE_BENCH_N, default 100):
 *     baseline = the room with the speaker and the mix forwarded to a mountpoint nobody watches;
 *     per listener = (Janus CPU with N listeners − baseline) / N. On the project's Janus config
 *     (janus/config, launcher defaults) and — for Streaming, to show what the tuning buys — on
 *     Janus's defaults (no event_loops, mountpoint without helper threads) in the same run
 *     (AUDIENCE_BENCH_DEFAULTS=0 skips that).
 * (2) Capacity: Streaming viewers in steps up to AUDIENCE_BENCH_CAPACITY (600) on the project's
 *     config, with AUDIENCE_BENCH_SAMPLED (10) decoding viewers and 3 decoding AudioBridge
 *     listeners for the stage → listener delay of both paths from the same bursts; loss from RTP
 *     sequence numbers at every listener; projected listeners per 2 cores from Janus's CPU.
 *
 * Env: AUDIENCE_BENCH_N (100; a list like 100,200), AUDIENCE_BENCH_CAPACITY (600),
 * AUDIENCE_BENCH_STEPS (capacity steps, default thirds), AUDIENCE_BENCH_WORKERS (3),
 * AUDIENCE_BENCH_WINDOW_MS (8000), AUDIENCE_BENCH_SAMPLED (10), AUDIENCE_BENCH_DEFAULTS (1),
 * AUDIENCE_BENCH_EVENT_LOOPS / AUDIENCE_BENCH_MP_THREADS (override the project's values, to
 * explore), AUDIENCE_BENCH_NICE (-10 as root: this process and Janus), AUDIENCE_BENCH_TIMEOUT_MS
 * (420000), AUDIENCE_BENCH_JSON (write the figures there), AUDIENCE_BENCH_PERF (a folder: `perf
 * record -g` of Janus during the largest capacity window, when perf is installed).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, getPriority, networkInterfaces, setPriority } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  JanusSession,
  startJanus,
  type AudioBridgeHandle,
  type AudioBridgeRoomOptions,
  type JanusLaunchOptions,
  type RunningJanus,
} from '@spaces/janus';
import { boundRun } from './bounds.ts';
import { Child, type Message } from './child.ts';
import { TONE_HZ } from './voice/peers.ts';
import { BurstSpeaker } from './audience/speaker.ts';
import { distribution, fmt, measureCpu, table, type CpuWindow, type Distribution } from './voice/measure.ts';
import { WebRtcListener, type CounterSnapshot } from './audience/listener.ts';
import { createMountpoint, detach, joinRoomMuted, watchMountpoint, type Mountpoint } from './audience/janus.ts';
import { burstDelays, lossOver, udpCounters, type LossFigures } from './audience/measure.ts';
import { DEFAULT_MOUNTPOINT_THREADS } from './audience/settings.ts';

const env = process.env;
const benchFile = fileURLToPath(import.meta.url);
const list = (raw: string) => raw.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);

const N_LIST = list(env.AUDIENCE_BENCH_N ?? '100');
const CAPACITY = Number(env.AUDIENCE_BENCH_CAPACITY ?? 600);
const STEPS = env.AUDIENCE_BENCH_STEPS
  ? list(env.AUDIENCE_BENCH_STEPS)
  : CAPACITY > 0
    ? [...new Set([Math.round(CAPACITY / 3), Math.round((2 * CAPACITY) / 3), CAPACITY])]
    : [];
const WORKERS = Math.max(1, Number(env.AUDIENCE_BENCH_WORKERS ?? 3));
const WINDOW_MS = Number(env.AUDIENCE_BENCH_WINDOW_MS ?? 8_000);
const SETTLE_MS = 3_000;
const SAMPLED = Number(env.AUDIENCE_BENCH_SAMPLED ?? 10);
const AB_SAMPLED = 3;
const DEFAULTS_RUN = env.AUDIENCE_BENCH_DEFAULTS !== '0';
const PATHS = (env.AUDIENCE_BENCH_PATHS ?? 'streaming,audiobridge').split(',').filter((p): p is 'streaming' | 'audiobridge' => p === 'streaming' || p === 'audiobridge');
const TIMEOUT_MS = Number(env.AUDIENCE_BENCH_TIMEOUT_MS ?? 420_000);
const PREBUFFERING = Number(env.JANUS_PREBUFFERING ?? 2);
const EVENT_LOOPS = env.AUDIENCE_BENCH_EVENT_LOOPS === undefined ? undefined : Number(env.AUDIENCE_BENCH_EVENT_LOOPS);
const MP_THREADS = env.AUDIENCE_BENCH_MP_THREADS === undefined ? DEFAULT_MOUNTPOINT_THREADS : Number(env.AUDIENCE_BENCH_MP_THREADS);
const NICE = Number(env.AUDIENCE_BENCH_NICE ?? (process.getuid?.() === 0 ? -10 : 0));
const PERF_DIR = env.AUDIENCE_BENCH_PERF;
const CORES = availableParallelism();
/** Targets (issue 10). */
const TARGET = { ratio: 6, perListenerPct: 0.08, projected: 2000, lossPct: 0.5, delayOverMs: 20, capacity: 600 };

/** The room options the API's mixer uses (api/src/services/mixer), but the secret; plain RTP for the speaker. */
const ROOM_OPTIONS: AudioBridgeRoomOptions = {
  description: 'audience bench',
  sampling_rate: 48000,
  audiolevel_event: true,
  audio_active_packets: 25,
  audio_level_average: 55,
  allow_rtp_participants: true,
  default_prebuffering: PREBUFFERING,
};

const startedAt = performance.now();
const remaining = () => TIMEOUT_MS - (performance.now() - startedAt);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (...args: unknown[]) => console.error(`[audience ${((performance.now() - startedAt) / 1000).toFixed(1)}s]`, ...args);

// ------------------------------------------------------------------ namespace

function inNamespace(): boolean {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === 'IPv4' && !i.internal)
    .map((i) => i!.address);
  return addresses.includes('10.99.0.1') && addresses.every((a) => a === '10.99.0.1' || a === '10.99.0.2');
}

if (!inNamespace()) {
  if (process.getuid?.() !== 0) {
    console.log('[audience] skipped: the audience benchmark needs root (for a private network namespace).');
    process.exit(0);
  }
  // Root outside the namespace: run this file again inside one (scripts/netns.sh makes it).
  const netns = path.join(path.dirname(path.dirname(path.dirname(benchFile))), 'scripts', 'netns.sh');
  const child = spawn('bash', [netns, process.execPath, '--import', 'tsx', benchFile], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
} else {
  await run();
}

// ------------------------------------------------------------------ the run

async function run() {
  /** Janus's end of the veth pair is spaces0; clients take spaces1 when it accepts local sources. */
  const { clientAddress } = await import('../src/support/webrtc.ts');
  const CLIENT_ADDRESS = clientAddress();

  interface CpuRow {
    config: string;
    label: string;
    path: 'baseline' | 'streaming' | 'audiobridge';
    n: number;
    window: CpuWindow;
    /** Load clients' CPU, % of one core (all workers). */
    clientsPct: number;
    loss?: LossFigures;
    udpRcvbufErrors: number;
    connectMs?: number;
    failed?: number;
  }
  interface DelayRow {
    n: number;
    streaming: Distribution;
    audiobridge: Distribution;
    /** Per burst: mean Streaming delay − mean AudioBridge delay. */
    difference: Distribution;
    bursts: number;
    stalled: number;
    missedStreaming: number;
    missedAudioBridge: number;
    toneShareStreaming: number;
  }
  const results: { cpu: CpuRow[]; delay: DelayRow[]; configs: Record<string, string> } = { cpu: [], delay: [], configs: {} };
  const notes: string[] = [];

  // -------------------------------------------------------------- workers

  const workers: Child[] = [];
  let tagSerial = 0;
  async function toAll(message: Record<string, unknown>, reply: string, timeoutMs: number, per?: (i: number) => Record<string, unknown>) {
    const tag = ++tagSerial;
    const answers = await Promise.all(
      workers.map((w, i) =>
        w.request({ ...message, ...(per?.(i) ?? {}), tag }, (m: Message) => (m.type === reply || m.type === 'error') && m.tag === tag, timeoutMs, reply),
      ),
    );
    const error = answers.find((m) => m.type === 'error');
    if (error) throw new Error(`worker: ${error.error}`);
    return answers;
  }
  let clientCount = 0;
  async function connectClients(kind: 'streaming' | 'audiobridge', target: number, count: number) {
    const t0 = performance.now();
    const share = (i: number) => Math.floor(count / workers.length) + (i < count % workers.length ? 1 : 0);
    const answers = await toAll({ cmd: 'connect', kind, target, concurrency: 6 }, 'connected', 180_000, (i) => ({ count: share(i) }));
    const ok = answers.reduce((s, m) => s + m.ok, 0);
    const failed = answers.reduce((s, m) => s + m.failed, 0);
    clientCount += ok;
    const ms = performance.now() - t0;
    log(`${kind}: ${ok}/${count} listeners connected in ${fmt(ms / 1000)} s${failed ? `; ${failed} failed: ${answers.flatMap((m) => m.errors).slice(0, 3).join(' | ')}` : ''}`);
    return { ok, failed, ms };
  }
  async function disconnectClients() {
    await toAll({ cmd: 'disconnect' }, 'disconnected', 120_000);
    clientCount = 0;
  }
  async function snapshotClients(resetGaps = false): Promise<{ listeners: CounterSnapshot[]; cpuMs: number }> {
    const answers = await toAll({ cmd: 'snapshot', resetGaps }, 'snapshot', 10_000);
    return { listeners: answers.flatMap((m) => m.listeners as CounterSnapshot[]), cpuMs: answers.reduce((s, m) => s + m.cpuMs, 0) };
  }

  // -------------------------------------------------------------- a stage: Janus, room, speaker, mountpoint

  interface Stage {
    config: string;
    janus: RunningJanus;
    session: JanusSession;
    admin: AudioBridgeHandle;
    streamingHandle: number;
    room: number;
    speaker: BurstSpeaker;
    mountpoint: Mountpoint;
    mpThreads: number;
    /** Janus CPU with the speaker on air and the mix forwarded to the (unwatched) mountpoint. */
    baseline: CpuWindow;
  }
  let stage: Stage | undefined;
  let janus: RunningJanus | undefined;
  const sampled: { listener: WebRtcListener; handleId: number }[] = [];

  async function openStage(config: string, launch: JanusLaunchOptions, mpThreads: number): Promise<Stage> {
    janus = await startJanus({
      ice: { enforceList: 'spaces0' },
      ...launch,
      // `nice -n` is relative to our own (already raised) priority; Janus must end up at NICE.
      ...(NICE !== 0 && NICE !== getPriority() ? { spawnPrefix: ['nice', '-n', String(NICE - getPriority())] } : {}),
    });
    const session = await JanusSession.create({ url: janus.httpUrl, apiSecret: janus.apiSecret, maxEventsPerPoll: 200, asyncTimeoutMs: 30_000 });
    const admin = await session.attachAudioBridge({ adminKey: janus.adminKey });
    const secret = randomBytes(12).toString('hex');
    const { room } = await admin.create({ ...ROOM_OPTIONS, secret });
    await toAll({ cmd: 'init', url: janus.httpUrl, apiSecret: janus.apiSecret, address: CLIENT_ADDRESS }, 'ready', 10_000);
    await sleep(1_000);
    const idle = await measureCpu(janus.pid, Math.min(WINDOW_MS, 4_000));
    results.cpu.push({ config, label: 'idle room', path: 'baseline', n: 0, window: idle, clientsPct: 0, udpRcvbufErrors: 0 });

    // The speaker: plain RTP from 127.0.0.1, tone bursts for as long as the stage lasts.
    const speaker = await BurstSpeaker.open();
    const speakerHandle = await session.attachAudioBridge();
    const joined = await speakerHandle.join({ room, display: 'speaker', muted: false, rtp: speaker.offer });
    speaker.start(joined.rtp);

    const streamingHandle = await session.attach('janus.plugin.streaming');
    const mountpoint = await createMountpoint(session, streamingHandle, { id: 1000 + results.cpu.length, adminKey: janus.adminKey, threads: mpThreads });
    await admin.rtpForward({ room, host: '127.0.0.1', port: mountpoint.port, ptype: 111, codec: 'opus', always_on: true, secret });
    await sleep(SETTLE_MS);
    const baseline = await measureCpu(janus.pid, WINDOW_MS);
    results.cpu.push({ config, label: 'speaker + rtp_forward, 0 viewers', path: 'baseline', n: 0, window: baseline, clientsPct: 0, udpRcvbufErrors: 0 });
    log(`${config}: Janus idle ${fmt(idle.janusPct)} %, baseline (speaker + forward) ${fmt(baseline.janusPct)} % of a core`);
    stage = { config, janus, session, admin, streamingHandle, room, speaker, mountpoint, mpThreads, baseline };
    return stage;
  }

  async function closeStage() {
    const s = stage;
    stage = undefined;
    for (const { listener, handleId } of sampled.splice(0)) {
      if (s) await detach(s.session, handleId);
      await listener.close();
    }
    if (clientCount > 0) await disconnectClients().catch(() => {});
    if (!s) return;
    await s.speaker.close();
    await s.session.destroy().catch(() => {});
    await s.janus.stop();
    janus = undefined;
  }

  /** Janus, clients and the namespace's UDP counters over one window. */
  async function measureWindow(row: Omit<CpuRow, 'window' | 'clientsPct' | 'loss' | 'udpRcvbufErrors'>, ms = WINDOW_MS) {
    const before = await snapshotClients(true);
    const snapshotAt0 = performance.now();
    const udp0 = udpCounters();
    const window = await measureCpu(stage!.janus.pid, ms);
    const snapshotSent = performance.now();
    const after = await snapshotClients();
    // The workers answered somewhere between sending and now: the counts span about this long.
    const countedMs = (snapshotSent + performance.now()) / 2 - snapshotAt0;
    const udp1 = udpCounters();
    const result: CpuRow = {
      ...row,
      window,
      clientsPct: ((after.cpuMs - before.cpuMs) * 100) / window.wallMs,
      loss: lossOver(before.listeners, after.listeners, countedMs),
      udpRcvbufErrors: udp1.rcvbufErrors - udp0.rcvbufErrors,
    };
    results.cpu.push(result);
    const per = row.n > 0 ? (window.janusPct - stage!.baseline.janusPct) / row.n : NaN;
    log(
      `${row.config} ${row.label}: Janus ${fmt(window.janusPct)} % (${fmt(per, 3)} % per listener); clients ${fmt(result.clientsPct)} %; ` +
        `machine ${fmt(window.machinePct)} %; ${fmt(result.loss!.rxPerListener)} pkt/s per listener, loss ${fmt(result.loss!.lossPct, 3)} %, ` +
        `rcvbuf drops ${result.udpRcvbufErrors}`,
    );
    return result;
  }

  // -------------------------------------------------------------- (1) per listener

  async function perListener(config: string, paths: ('streaming' | 'audiobridge')[]) {
    for (const n of N_LIST) {
      for (const kind of paths) {
        if (remaining() < 90_000) {
          notes.push(`${config} ${kind} N=${n} skipped (time budget)`);
          continue;
        }
        const target = kind === 'streaming' ? stage!.mountpoint.id : stage!.room;
        const { ok, failed, ms } = await connectClients(kind, target, n);
        await sleep(SETTLE_MS);
        await measureWindow({ config, label: `${kind === 'streaming' ? 'Streaming viewers' : 'AudioBridge muted participants'}`, path: kind, n: ok, connectMs: ms, failed });
        await disconnectClients();
        await sleep(2_000);
      }
    }
  }

  // -------------------------------------------------------------- (2) capacity

  async function capacity(config: string) {
    // Sampled listeners in this process: decode every frame, note tone onsets.
    const sampleStreaming: WebRtcListener[] = [];
    const sampleAudioBridge: WebRtcListener[] = [];
    for (let i = 0; i < SAMPLED + AB_SAMPLED; i++) {
      const streaming = i < SAMPLED;
      const listener = new WebRtcListener({ address: CLIENT_ADDRESS, mode: 'decode', name: `sample-${streaming ? 'st' : 'ab'}-${i}` });
      const handleId = streaming
        ? await watchMountpoint(stage!.session, stage!.mountpoint.id, listener)
        : await joinRoomMuted(stage!.session, stage!.room, listener, listener.name);
      sampled.push({ listener, handleId });
      (streaming ? sampleStreaming : sampleAudioBridge).push(listener);
    }
    await Promise.all(sampled.map(({ listener }) => listener.waitConnected(20_000)));
    log(`capacity: ${SAMPLED} sampled viewers and ${AB_SAMPLED} sampled AudioBridge listeners connected`);
    // The capacity steps count load viewers over this baseline (the sampled listeners, AudioBridge
    // ones included, are in it).
    await sleep(SETTLE_MS);
    const withSampled = await measureCpu(stage!.janus.pid, WINDOW_MS);
    results.cpu.push({ config, label: 'capacity baseline: stage + sampled listeners', path: 'baseline', n: 0, window: withSampled, clientsPct: 0, udpRcvbufErrors: 0 });
    stage!.baseline = withSampled;

    let connected = 0;
    for (const step of STEPS) {
      if (remaining() < 60_000 + (step - connected) * 60) {
        notes.push(`capacity step ${step} skipped (time budget)`);
        break;
      }
      const { ok, failed, ms } = await connectClients('streaming', stage!.mountpoint.id, step - connected);
      connected += ok;
      await sleep(SETTLE_MS);
      const frames0 = sampleStreaming.map((l) => [l.frames, l.toneFrames]);
      const t0 = performance.now();
      const perf = PERF_DIR && step === STEPS.at(-1) ? startPerf(stage!.janus.pid) : undefined;
      const row = await measureWindow({ config, label: 'capacity: Streaming viewers', path: 'streaming', n: connected, connectMs: ms, failed });
      perf?.stop();
      const t1 = performance.now();
      // Delays of the bursts whose tails had time to arrive.
      const st = burstDelays(stage!.speaker, sampleStreaming, t0, t1 - 500);
      const ab = burstDelays(stage!.speaker, sampleAudioBridge, t0, t1 - 500);
      const difference: number[] = [];
      for (const [burst, d] of st.perBurst) {
        const other = ab.perBurst.get(burst);
        if (other !== undefined) difference.push(d - other);
      }
      let frames = 0;
      let toneFrames = 0;
      sampleStreaming.forEach((l, i) => {
        frames += l.frames - frames0[i]![0]!;
        toneFrames += l.toneFrames - frames0[i]![1]!;
      });
      const delay: DelayRow = {
        n: row.n,
        streaming: distribution(st.delays),
        audiobridge: distribution(ab.delays),
        difference: distribution(difference),
        bursts: st.bursts,
        stalled: st.stalled,
        missedStreaming: st.missed,
        missedAudioBridge: ab.missed,
        toneShareStreaming: frames === 0 ? 0 : toneFrames / frames,
      };
      results.delay.push(delay);
      log(
        `capacity N=${row.n}: delay p50/p95 Streaming ${fmt(delay.streaming.p50)}/${fmt(delay.streaming.p95)} ms, ` +
          `AudioBridge ${fmt(delay.audiobridge.p50)}/${fmt(delay.audiobridge.p95)} ms; tone in ${fmt(100 * delay.toneShareStreaming, 0)} % of sampled frames`,
      );
      if (failed > 0 && ok === 0) break;
    }
  }

  function startPerf(pid: number) {
    const which = spawnSync('sh', ['-c', 'command -v perf'], { encoding: 'utf8' }).stdout.trim();
    if (!which) {
      notes.push('AUDIENCE_BENCH_PERF: perf is not installed');
      return undefined;
    }
    const out = path.join(PERF_DIR!, `janus-${Date.now()}.perf.data`);
    const perf = spawn(which, ['record', '-e', 'cpu-clock', '-g', '-F', '999', '-p', String(pid), '-o', out], { stdio: 'ignore' });
    notes.push(`perf record of Janus during the largest capacity window: ${out} (perf report -i ${out} --no-children)`);
    return { stop: () => perf.kill('SIGINT') };
  }

  /** The tuning lines of the janus.jcfg Janus actually runs with. */
  function renderedSettings(running: RunningJanus): string {
    const text = readFileSync(path.join(running.runDir, 'janus.jcfg'), 'utf8');
    const keys = ['event_loops', 'no_media_timer', 'min_nack_queue', 'nack_optimizations', 'twcc_period', 'ice_lite', 'dtls_mtu'];
    const found = text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => !line.startsWith('#') && keys.some((k) => line.startsWith(`${k} `) || line.startsWith(`${k}=`)));
    return found.join(', ') || 'no tuning lines';
  }

  // -------------------------------------------------------------- report

  let reported = false;
  function printReport(partial: boolean) {
    if (reported) return;
    reported = true;
    const out: string[] = [];
    const say = (...lines: string[]) => out.push(...lines);
    const version = spawnSync('sh', ['-c', 'janus --version 2>/dev/null | head -1'], { encoding: 'utf8' }).stdout.trim();
    say(
      '',
      `Audience benchmark${partial ? ' (PARTIAL)' : ''} — \`cd tests && bash ../scripts/netns.sh npx tsx bench/audience.ts\` (part of \`pnpm bench\`)`,
      `${version || 'Janus'}; ${CORES} cores; Node ${process.version}; run took ${fmt((performance.now() - startedAt) / 1000, 0)} s. ` +
        `AudioBridge room 48 kHz, prebuffering ${PREBUFFERING}, 1 plain-RTP speaker (1 kHz bursts); listeners are werift WebRTC clients on ` +
        `${CLIENT_ADDRESS} in ${WORKERS} processes (load: count clear RTP headers; sampled: decrypt + decode). ` +
        `Priority: nice ${getPriority()} for this process and Janus, 0 for the load clients.`,
    );
    for (const [config, description] of Object.entries(results.configs)) say(`Config "${config}": ${description}`);
    say(
      '',
      `(1) Janus CPU per listener (% of one core; utime+stime over ${fmt(WINDOW_MS / 1000, 0)} s, after ${SETTLE_MS / 1000} s to settle). ` +
        `per listener = (Janus − baseline) / N; baseline = the same Janus with the speaker on air and the mix forwarded to an unwatched mountpoint.`,
    );
    const rows = [['config', 'path', 'N', 'Janus %', 'over baseline', 'per listener %', 'rx pkt/s', 'loss %', 'clients %', 'machine %', 'connect s']];
    const baselineOf = (r: CpuRow) =>
      r.label.startsWith('capacity:')
        ? results.cpu.find((b) => b.config === r.config && b.label.startsWith('capacity baseline'))
        : results.cpu.find((b) => b.config === r.config && b.label.startsWith('speaker'));
    const perOf = (r: CpuRow) => {
      const b = baselineOf(r);
      return b && r.n > 0 ? (r.window.janusPct - b.window.janusPct) / r.n : NaN;
    };
    for (const r of results.cpu.filter((r) => !r.label.startsWith('capacity'))) {
      // (capacity rows and their baseline are in (2))
      const b = baselineOf(r);
      rows.push([
        r.config,
        r.path === 'baseline' ? r.label : r.label,
        String(r.n),
        fmt(r.window.janusPct),
        b && r.path !== 'baseline' ? fmt(r.window.janusPct - b.window.janusPct) : '—',
        r.path === 'baseline' ? '—' : fmt(perOf(r), 3),
        r.loss ? fmt(r.loss.rxPerListener) : '—',
        r.loss ? fmt(r.loss.lossPct, 3) : '—',
        fmt(r.clientsPct),
        fmt(r.window.machinePct),
        r.connectMs === undefined ? '—' : fmt(r.connectMs / 1000),
      ]);
    }
    say(...table(rows));
    const project = Object.keys(results.configs).find((c) => c === 'project');
    for (const n of N_LIST) {
      const st = results.cpu.find((r) => r.config === project && r.path === 'streaming' && !r.label.startsWith('capacity') && Math.abs(r.n - n) <= 2);
      const ab = results.cpu.find((r) => r.config === project && r.path === 'audiobridge' && Math.abs(r.n - n) <= 2);
      const def = results.cpu.find((r) => r.config === 'janus-defaults' && r.path === 'streaming' && Math.abs(r.n - n) <= 2);
      if (st && ab) {
        const ratio = perOf(ab) / perOf(st);
        say(
          `N=${n}: AudioBridge ${fmt(perOf(ab), 3)} % vs Streaming ${fmt(perOf(st), 3)} % of a core per listener: Streaming ${fmt(ratio)}x cheaper ` +
            `(target ≥ ${TARGET.ratio}x: ${ratio >= TARGET.ratio ? 'MET' : 'NOT MET'}).`,
        );
      }
      if (st && def)
        say(`N=${n}: Streaming on Janus defaults ${fmt(perOf(def), 3)} % → project config ${fmt(perOf(st), 3)} % per listener (${fmt(perOf(def) / perOf(st))}x).`);
    }

    const capacityRows = results.cpu.filter((r) => r.label.startsWith('capacity:'));
    if (capacityRows.length > 0) {
      say('', `(2) Capacity: Streaming viewers on config "${capacityRows[0]!.config}" (N load viewers, plus ${SAMPLED} sampled viewers and ${AB_SAMPLED} sampled AudioBridge listeners).`);
      const capBase = results.cpu.find((b) => b.label.startsWith('capacity baseline'));
      if (capBase) say(`Baseline with the sampled listeners only: Janus ${fmt(capBase.window.janusPct)} % of a core; N below counts load viewers over it.`);
      const cap = [['N', 'Janus %', 'per listener %', 'projected per 2 cores', 'rx pkt/s', 'loss %', 'silent', 'max gap ms', 'rcvbuf drops', 'clients %', 'machine %', 'connect s']];
      for (const r of capacityRows) {
        const per = perOf(r);
        cap.push([
          String(r.n),
          fmt(r.window.janusPct),
          fmt(per, 3),
          fmt(200 / per, 0),
          fmt(r.loss!.rxPerListener),
          fmt(r.loss!.lossPct, 3),
          String(r.loss!.silent),
          fmt(r.loss!.maxGapMs, 0),
          String(r.udpRcvbufErrors),
          fmt(r.clientsPct),
          fmt(r.window.machinePct),
          r.connectMs === undefined ? '—' : fmt(r.connectMs / 1000),
        ]);
      }
      say(...table(cap));
      const last = capacityRows.at(-1)!;
      const wireKbps = ((last.loss!.packetBytes + 8 + 20) * 8 * last.loss!.rxPerListener) / 1000;
      say(
        `Per listener on the wire: ${fmt(last.loss!.packetBytes)} bytes of SRTP per packet × ${fmt(last.loss!.rxPerListener)} packets/s ` +
          `= ${fmt(wireKbps)} kbit/s with UDP and IPv4 headers (${fmt((wireKbps * last.n) / 1000)} Mbit/s for these ${last.n}).`,
      );
      const first = capacityRows[0]!;
      const perLast = perOf(last);
      const slope = capacityRows.length > 1 ? (last.window.janusPct - first.window.janusPct) / (last.n - first.n) : NaN;
      say(
        `Listeners reached: ${last.n} (target ≥ ${TARGET.capacity}: ${last.n >= TARGET.capacity ? 'MET' : 'NOT MET'}); loss ${fmt(last.loss!.lossPct, 3)} % ` +
          `(target < ${TARGET.lossPct} %: ${last.loss!.lossPct < TARGET.lossPct ? 'MET' : 'NOT MET'}).`,
        `Janus per listener at N=${last.n}: ${fmt(perLast, 3)} % of a core (marginal ${first.n}→${last.n}: ${fmt(slope, 3)} %) → ` +
          `${fmt(200 / perLast, 0)} listeners per 2 cores (target ≥ ${TARGET.projected}, i.e. ≤ ${TARGET.perListenerPct} %: ` +
          `${perLast <= TARGET.perListenerPct ? 'MET' : 'NOT MET'}).`,
      );
      say('', 'Stage → listener delay (ms): speaker send of a tone onset → its arrival at sampled listeners, same bursts on both paths.');
      const d = [['N', 'bursts', 'Streaming p50', 'p95', 'max', 'AudioBridge p50', 'p95', 'max', 'Streaming − AB p50', 'p95', 'missed ST/AB', 'stalled', 'tone frames %']];
      for (const r of results.delay)
        d.push([
          String(r.n),
          String(r.bursts),
          fmt(r.streaming.p50),
          fmt(r.streaming.p95),
          fmt(r.streaming.max),
          fmt(r.audiobridge.p50),
          fmt(r.audiobridge.p95),
          fmt(r.audiobridge.max),
          fmt(r.difference.p50),
          fmt(r.difference.p95),
          `${r.missedStreaming}/${r.missedAudioBridge}`,
          String(r.stalled),
          fmt(100 * r.toneShareStreaming, 0),
        ]);
      say(...table(d));
      const lastDelay = results.delay.at(-1);
      if (lastDelay)
        say(
          `At N=${lastDelay.n}: Streaming p95 ${fmt(lastDelay.streaming.p95)} ms vs AudioBridge p95 ${fmt(lastDelay.audiobridge.p95)} ms ` +
            `(target within ${TARGET.delayOverMs} ms: ${lastDelay.streaming.p95 - lastDelay.audiobridge.p95 <= TARGET.delayOverMs ? 'MET' : 'NOT MET'}). ` +
            `Tone: ${TONE_HZ} Hz bursts of 200 ms every 500 ms (≈ 40 % of frames carry it).`,
        );
    }
    if (notes.length) say('', ...notes.map((n) => `Note: ${n}`));
    console.log(out.join('\n'));
    if (env.AUDIENCE_BENCH_JSON) writeFileSync(env.AUDIENCE_BENCH_JSON, JSON.stringify({ partial, ...results, notes }, null, 2));
  }

  // -------------------------------------------------------------- main

  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await closeStage().catch((e) => log('closing the stage failed:', e));
      await Promise.all(workers.map((w) => w.stop()));
    })());
  const bound = boundRun({
    timeoutMs: TIMEOUT_MS,
    cleanup,
    log,
    cleanupMs: 20_000,
    onTimeout: () => {
      notes.push(`stopped at the time limit (AUDIENCE_BENCH_TIMEOUT_MS=${TIMEOUT_MS}); figures are partial`);
      printReport(true);
    },
  });

  let failed = false;
  try {
    if (NICE !== 0) {
      try {
        setPriority(NICE);
      } catch (error) {
        notes.push(`could not renice to ${NICE}: ${error instanceof Error ? error.message : error}`);
      }
    }
    log(`N ${N_LIST.join(',')}; capacity steps ${STEPS.join(',') || 'none'}; ${WORKERS} client processes; window ${WINDOW_MS} ms; limit ${TIMEOUT_MS} ms`);
    for (let i = 0; i < WORKERS; i++) workers.push(new Child(`audience-worker-${i}`, 'audience/worker.ts'));
    await Promise.all(workers.map((w) => w.waitFor((m) => m.type === 'hello', 60_000, 'hello')));

    if (DEFAULTS_RUN) {
      results.configs['janus-defaults'] = 'Janus defaults: no event_loops (a thread and loop per handle), mountpoint without helper threads.';
      await openStage('janus-defaults', { eventLoops: 0 }, 0);
      await perListener('janus-defaults', ['streaming']);
      await closeStage();
    }
    await openStage('project', EVENT_LOOPS === undefined ? {} : { eventLoops: EVENT_LOOPS }, MP_THREADS);
    results.configs.project =
      `janus/config as startJanus renders it (${renderedSettings(stage!.janus)}); mountpoint threads ${MP_THREADS}` +
      (EVENT_LOOPS !== undefined || env.AUDIENCE_BENCH_MP_THREADS !== undefined ? ' (overridden by AUDIENCE_BENCH_EVENT_LOOPS / _MP_THREADS)' : '') +
      '.';
    await perListener('project', PATHS);
    if (STEPS.length > 0) await capacity('project');
  } catch (error) {
    failed = true;
    log('failed:', error);
    notes.push(`run failed: ${error instanceof Error ? error.message : String(error)}`);
    if (janus?.exited) log(`Janus exited; its last lines:\n${janus.logTail()}`);
  } finally {
    bound.finish();
    try {
      printReport(failed);
    } catch (error) {
      log('printing the report failed:', error);
    }
    await Promise.race([cleanup(), sleep(20_000)]);
  }
  process.exit(failed ? 1 : 0);
}
