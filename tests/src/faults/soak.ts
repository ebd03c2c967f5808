/**
 * The soak: one API instance (a child process, so its memory is its own) and one Janus under a
 * steady mix of joins, leaves, reactions, raised hands, role changes, mutes, audio reconnects
 * (plain RTP) and subscriber sockets coming and going, for a bounded time. Every SAMPLE_MS it
 * samples the API (heap after a full GC, RSS, active handles, open fds) and Janus (VmRSS, open
 * fds) and reports the least-squares slope of each after the warm-up, per minute. Then it quiets
 * everything (all leave, sockets close) and compares handles and fds with the figures from before
 * the load: what a leak leaves behind.
 *
 * Used by src/faults/soak.test.ts (about a minute, with bounds) and bench/soak.ts (longer, prints).
 */
import { startJanus, type RunningJanus } from '@spaces/janus';
import { PlainRtpEndpoint } from '@spaces/janus/testing';
import { EVENTS, Q } from '../support/spaces.ts';
import { seededRandom } from '../support/janus-proxy.ts';
import {
  faultHandle,
  httpGql,
  leastSquares,
  mustGql,
  procStats,
  rawId,
  reconnectingClient,
  signUpOver,
  sleep,
  startApiProcess,
  watch,
  type ApiProcess,
  type ApiStats,
  type ReconnectingClient,
  type Watch,
} from './support.ts';

export interface SoakOptions {
  databaseUrl: string;
  /** Load time in all, warm-up included. */
  durationMs: number;
  /** Samples before this (from the start of the load) are left out of the slopes. */
  warmupMs: number;
  sampleMs?: number;
  /** One operation every this many ms (default 100: ten a second). */
  opEveryMs?: number;
  /** Members besides the host (default 24). */
  members?: number;
  /** Plain-RTP connections held at once at most (default 8). */
  maxAudio?: number;
  /** Subscriber sockets held at once (default 8; one is replaced every churnEveryMs). */
  subscribers?: number;
  churnEveryMs?: number;
  seed?: number;
  log?: (...args: unknown[]) => void;
  /** A folder: write API heap snapshots there at the end of the warm-up and of the load. */
  heapSnapshots?: string;
}

export interface Sample {
  /** Minutes since the load started. */
  t: number;
  api: ApiStats;
  janus: { rss: number; fds: number };
}

export interface SoakResult {
  samples: Sample[];
  /** Per minute, after the warm-up: MB for memory, counts for handles and fds. */
  slopes: Record<string, number>;
  /** Means after the warm-up (MB or counts): the scale the slopes are against. */
  means: Record<string, number>;
  /** Before the load, and after it quieted down. */
  quiet: { before: QuietFigures; after: QuietFigures };
  /** Operations by kind and outcome (ok, or the error code). */
  operations: Record<string, Record<string, number>>;
  /** Operations that failed for no reason of the client's (INTERNAL_SERVER_ERROR, RATE_LIMITED, network). */
  failures: string[];
  /** Of the operations, those that got no answer within 10 s (a machine too busy; counted apart). */
  timeouts: number;
  events: number;
  subscriberErrors: number;
  /** Sockets the server closed under a subscriber, by close code (1000, our own, left out). */
  subscriberCloses: Record<string, number>;
  measuredMinutes: number;
}

export interface QuietFigures {
  apiHandles: number;
  apiFds: number;
  apiHeapMb: number;
  janusFds: number;
  janusRssMb: number;
  roomParticipants: number;
}

const MB = 1024 * 1024;
/** How long to wait before the quiet figures: HTTP keep-alive sockets close after 5 s idle. */
const SETTLE_MS = 6_000;
const REACTIONS = ['👏', '❤️', '🔥', '🎉'];



interface Member {
  id: string;
  token: string;
  present: boolean;
  participantId: string | null;
  role: string;
  handRaised: boolean;
  muted: boolean;
  endpoint: PlainRtpEndpoint | null;
  /** An operation about this member is in flight: the mix leaves them alone until it ends. */
  busy: boolean;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const sampleMs = options.sampleMs ?? 2_000;
  const opEveryMs = options.opEveryMs ?? 100;
  const maxAudio = options.maxAudio ?? 8;
  const subscriberCount = options.subscribers ?? 8;
  const churnEveryMs = options.churnEveryMs ?? 3_000;
  const rnd = seededRandom(options.seed ?? 1);
  const pick = <T>(xs: T[]): T | undefined => xs[Math.floor(rnd() * xs.length)];

  let janus: RunningJanus | null = null;
  let api: ApiProcess | null = null;
  const subscribers: { client: ReconnectingClient; watch: Watch<any> }[] = [];
  const members: Member[] = [];
  let hostEndpoint: PlainRtpEndpoint | null = null;
  const allEndpoints: PlainRtpEndpoint[] = [];
  try {
    janus = await startJanus({ sessionTimeoutSeconds: 30 });
    api = await startApiProcess({
      databaseUrl: options.databaseUrl,
      janus: { httpUrl: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret },
      app: {
        // All clients share 127.0.0.1: sign-ups and sockets from one address are not abuse here.
        // The per-user limits stay above what the mix does (each member does ~1 operation in
        // 2.5 s of all kinds); a RATE_LIMITED answer counts as a failure.
        rateLimits: { signUpPerHourPerClient: 10_000, signInPerMinutePerClient: 10_000, joinLeavePerMinutePerUser: 600, requestToSpeakPerMinutePerUser: 600 },
        maxSocketsPerClient: 1_000,
        // Members are HTTP-only clients (no spaceEvents subscription of their own): they come and
        // go by the mix, never for going unseen, however long the soak runs.
        presenceGraceMs: 3_600_000,
      },
      log: '[soak api]',
    });
    const url = api.url;
    const apiProcess = api;
    const janusPid = janus.pid;

    // The cast: a host who stays, and members who come and go.
    const host = await signUpOver(url, faultHandle('sh'));
    const signedUp = await Promise.all(Array.from({ length: options.members ?? 24 }, () => signUpOver(url, faultHandle('sm'))));
    for (const u of signedUp) members.push({ ...u, present: false, participantId: null, role: 'LISTENER', handRaised: false, muted: true, endpoint: null, busy: false });
    const { createSpace } = await mustGql(url, Q.create, { input: { title: 'Soak', speakerPolicy: 'EVERYONE' } }, host.token);
    const spaceId = createSpace.id as string;
    const hostParticipant = (await mustGql(url, `query($s: ID!) { space(id: $s) { viewerParticipant { id } } }`, { s: spaceId }, host.token)).space
      .viewerParticipant.id as string;
    // A fixed pool of local RTP endpoints, reused from one connection to the next: the audio
    // reconnects are the API's and Janus's (a new Janus handle, participant and RTP port each
    // time), not the test's. (Opening an endpoint per connection makes opusscript's WASM heap
    // grow, which detaches the buffers of the encoders already open: "Encode error: Bad argument".)
    const freeEndpoints: PlainRtpEndpoint[] = [];
    for (let i = 0; i < maxAudio; i++) freeEndpoints.push(await PlainRtpEndpoint.open({ decode: false }));
    allEndpoints.push(...freeEndpoints);
    const connectAudio = async (participantId: string, endpoint: PlainRtpEndpoint) => {
      endpoint.stop();
      endpoint.connect(await apiProcess.call('connectPlainRtp', { participantId: rawId(participantId), offer: endpoint.offer }));
      endpoint.start();
    };
    hostEndpoint = await PlainRtpEndpoint.open({ decode: false });
    allEndpoints.push(hostEndpoint);
    await connectAudio(hostParticipant, hostEndpoint);

    const operations: Record<string, Record<string, number>> = {};
    const failures: string[] = [];
    let timeouts = 0;
    const count = (kind: string, outcome: string) => {
      const byOutcome = (operations[kind] ??= {});
      byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
    };
    /** One GraphQL operation of the mix: counted; failures that are not the client's recorded. */
    const run = async (kind: string, query: string, variables: Record<string, unknown>, token: string) => {
      try {
        const r = await httpGql(url, query, variables, { token, timeoutMs: 10_000 });
        const code = r.errors?.[0]?.extensions?.code ?? (r.errors ? 'UNKNOWN' : 'ok');
        count(kind, code);
        if (code === 'INTERNAL_SERVER_ERROR' || code === 'RATE_LIMITED' || code === 'UNKNOWN') failures.push(`${kind}: ${JSON.stringify(r.errors)}`);
        return r.errors ? null : r.data!;
      } catch (error) {
        if ((error as Error).name === 'TimeoutError') {
          count(kind, 'timeout');
          timeouts++;
          return null;
        }
        count(kind, 'network');
        const cause = (error as Error).cause as Error | undefined;
        failures.push(`${kind}: ${(error as Error).message}${cause ? ` (${cause.message})` : ''}`);
        return null;
      }
    };
    const applyParticipant = (m: Member, p: any) => {
      if (!p) return;
      m.participantId = p.id;
      m.role = p.role;
      m.handRaised = p.handRaised;
      m.muted = p.muted;
    };
    const dropAudio = (m: Member) => {
      const endpoint = m.endpoint;
      m.endpoint = null;
      if (!endpoint) return;
      endpoint.stop();
      freeEndpoints.push(endpoint);
    };

    // The operations of the mix, each chosen by weight when it applies.
    const present = () => members.filter((m) => m.present && !m.busy);
    const absent = () => members.filter((m) => !m.present && !m.busy);
    const withAudio = () => members.filter((m) => m.endpoint && !m.busy);
    const target = Math.ceil(members.length * 0.6);
    const mix: { kind: string; weight: number; when: () => boolean; act: (claim: (m: Member) => Member) => Promise<void> }[] = [
      {
        kind: 'join',
        weight: 3,
        when: () => absent().length > 0 && present().length < target,
        act: async (claim) => {
          const m = claim(pick(absent())!);
          m.present = true;
          const data = await run('join', Q.join, { s: spaceId }, m.token);
          if (data) applyParticipant(m, data.joinSpace);
          else m.present = false;
        },
      },
      {
        kind: 'leave',
        weight: 2,
        when: () => present().length > target / 2,
        act: async (claim) => {
          const m = claim(pick(present())!);
          m.present = false;
          dropAudio(m);
          await run('leave', Q.leave, { s: spaceId }, m.token);
          m.participantId = null;
          m.role = 'LISTENER';
          m.handRaised = false;
        },
      },
      {
        kind: 'react',
        weight: 3,
        when: () => present().length > 0,
        act: async (claim) => {
          const m = claim(pick(present())!);
          await run('react', Q.react, { s: spaceId, e: pick(REACTIONS) }, m.token);
        },
      },
      {
        kind: 'raise',
        weight: 2,
        when: () => present().some((m) => m.role === 'LISTENER'),
        act: async (claim) => {
          const m = claim(pick(present().filter((x) => x.role === 'LISTENER'))!);
          applyParticipant(m, (await run('raise', Q.raise, { s: spaceId, r: !m.handRaised }, m.token))?.requestToSpeak);
        },
      },
      {
        kind: 'role',
        weight: 3,
        when: () => present().length > 0,
        act: async (claim) => {
          const raised = present().filter((m) => m.role === 'LISTENER' && m.handRaised);
          const onStage = present().filter((m) => m.role === 'SPEAKER' || m.role === 'CO_HOST');
          const coHosts = present().filter((m) => m.role === 'CO_HOST');
          let m: Member | undefined;
          let role: string;
          if (raised.length > 0 && onStage.length < 6 && rnd() < 0.5) [m, role] = [pick(raised), 'SPEAKER'];
          else if (onStage.length > 0 && rnd() < 0.6) [m, role] = [pick(onStage), 'LISTENER'];
          else if (coHosts.length < 2 && onStage.length > 0) [m, role] = [pick(onStage.filter((x) => x.role === 'SPEAKER')), 'CO_HOST'];
          else [m, role] = [pick(present()), 'LISTENER'];
          if (!m) return;
          claim(m);
          applyParticipant(m, (await run('role', Q.role, { s: spaceId, u: m.id, role }, host.token))?.setParticipantRole);
        },
      },
      {
        kind: 'mute',
        weight: 2,
        when: () => present().some((m) => m.role === 'SPEAKER' || m.role === 'CO_HOST'),
        act: async (claim) => {
          const m = claim(pick(present().filter((x) => x.role === 'SPEAKER' || x.role === 'CO_HOST'))!);
          applyParticipant(m, (await run('mute', Q.setMuted, { s: spaceId, m: !m.muted }, m.token))?.setMuted);
        },
      },
      {
        kind: 'audio',
        weight: 3,
        when: () => present().length > 0,
        act: async (claim) => {
          // Over the cap: someone hangs up (disconnectAudio). Else someone (re)connects.
          if (withAudio().length >= maxAudio) {
            const m = claim(pick(withAudio())!);
            dropAudio(m);
            await run('hangup', `mutation($s: ID!) { disconnectAudio(spaceId: $s) }`, { s: spaceId }, m.token);
            return;
          }
          const m = pick(present().filter((x) => x.participantId && (x.endpoint || freeEndpoints.length > 0)));
          if (!m) return;
          claim(m);
          // A reconnect keeps the member's endpoint; a first connect takes one from the pool.
          const endpoint = m.endpoint ?? freeEndpoints.pop()!;
          m.endpoint = endpoint;
          try {
            await connectAudio(m.participantId!, endpoint);
            count('audio', 'ok');
          } catch (error) {
            if (m.endpoint === endpoint) dropAudio(m);
            // "Not in the space": the member left meanwhile (a race of this mix, not a failure).
            const message = (error as Error).message;
            count('audio', /Not in the space/.test(message) ? 'CONFLICT' : 'error');
            if (!/Not in the space/.test(message)) failures.push(`audio: ${message}`);
          }
        },
      },
    ];

    // Subscribers: each on its own socket, one replaced every churnEveryMs.
    const subscribe = () => {
      const client = reconnectingClient(url);
      subscribers.push({ client, watch: watch(client.client, EVENTS, { s: spaceId }, (d) => d.spaceEvents) });
    };
    for (let i = 0; i < subscriberCount; i++) subscribe();
    let retiredEvents = 0;
    let retiredErrors = 0;
    const closes: Record<string, number> = {};
    const retire = async (index: number) => {
      const [s] = subscribers.splice(index, 1);
      if (!s) return;
      retiredEvents += s.watch.events.length;
      retiredErrors += s.watch.errors.length;
      s.watch.stop();
      // graphql-ws's dispose() rejects when the socket it was still opening failed.
      await s.client.dispose().catch(() => {});
      // Closes other than ours (1000) say the server dropped a subscriber.
      for (const c of s.client.closes) if (c.code !== 1000) closes[c.code] = (closes[c.code] ?? 0) + 1;
    };

    const quietFigures = async (): Promise<QuietFigures> => {
      const stats = await apiProcess.stats();
      const j = procStats(janusPid);
      const room = await apiProcess.call<{ participants: unknown[] } | null>('room', { spaceId: rawId(spaceId) });
      return {
        apiHandles: stats.handleCount,
        apiFds: stats.fds,
        apiHeapMb: stats.heapUsed / MB,
        janusFds: j.fds,
        janusRssMb: j.rss / MB,
        roomParticipants: room?.participants.length ?? 0,
      };
    };
    // "Before": the host connected, the subscribers connected, nobody else yet; after the same
    // settling time as "after" (idle keep-alive sockets of the sign-ups close in ~5 s).
    await sleep(SETTLE_MS);
    const before = await quietFigures();
    log('before the load', before);

    // The load, with sampling alongside.
    const samples: Sample[] = [];
    const loadStart = performance.now();
    const minutes = () => (performance.now() - loadStart) / 60_000;
    let stop = false;
    let snapshotted = false;
    const sampler: Promise<void> = (async () => {
      while (!stop) {
        const t = minutes();
        if (options.heapSnapshots && !snapshotted && t * 60_000 >= options.warmupMs) {
          snapshotted = true;
          log('heap snapshot', await apiProcess.call('heapSnapshot', { path: `${options.heapSnapshots}/after-warmup.heapsnapshot` }));
        }
        const [apiStats, janusStats] = [await apiProcess.stats(), procStats(janusPid)];
        samples.push({ t, api: apiStats, janus: janusStats });
        const last = samples.at(-1)!;
        log(
          `t=${(t * 60).toFixed(0)}s heap=${(last.api.heapUsed / MB).toFixed(1)}MB rss=${(last.api.rss / MB).toFixed(1)}MB handles=${last.api.handleCount} fds=${last.api.fds}` +
            ` janus rss=${(last.janus.rss / MB).toFixed(1)}MB fds=${last.janus.fds} present=${present().length} audio=${withAudio().length}`,
        );
        await sleep(sampleMs);
      }
    })();
    const churner: Promise<void> = (async () => {
      while (!stop) {
        await sleep(churnEveryMs);
        if (stop) break;
        await retire(Math.floor(rnd() * subscribers.length));
        subscribe();
      }
    })();
    // Awaited at the end; a failure meanwhile must not be an unhandled rejection.
    sampler.catch(() => {});
    churner.catch(() => {});
    // Operations at a steady rate: one every opEveryMs, at most a few in flight.
    const inFlight = new Set<Promise<void>>();
    let ticks = 0;
    while (performance.now() - loadStart < options.durationMs) {
      const next = loadStart + ++ticks * opEveryMs;
      const candidates = mix.filter((op) => op.when());
      let r = rnd() * candidates.reduce((s, op) => s + op.weight, 0);
      const op = candidates.find((o) => (r -= o.weight) < 0) ?? candidates[0];
      if (op && inFlight.size < 6) {
        const claimed: Member[] = [];
        const claim = (m: Member) => {
          m.busy = true;
          claimed.push(m);
          return m;
        };
        const p = op
          .act(claim)
          .catch((error) => {
            failures.push(`${op.kind}: ${(error as Error).message}`);
          })
          .finally(() => {
            for (const m of claimed) m.busy = false;
          });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      } else if (op) count(op.kind, 'skipped (busy)');
      await sleep(Math.max(0, next - performance.now()));
    }
    stop = true;
    await Promise.all([...inFlight, sampler, churner]);
    if (options.heapSnapshots) log('heap snapshot', await apiProcess.call('heapSnapshot', { path: `${options.heapSnapshots}/end-of-load.heapsnapshot` }));
    const measuredMinutes = minutes() - options.warmupMs / 60_000;

    // Quiet down: everyone but the host leaves, audio and sockets close; then compare with before.
    for (const m of members) {
      dropAudio(m);
      if (m.present) await run('leave', Q.leave, { s: spaceId }, m.token);
      m.present = false;
    }
    for (const x of subscribers) for (const c of x.client.closes) if (c.code !== 1000) closes[c.code] = (closes[c.code] ?? 0) + 1;
    const events = retiredEvents + subscribers.reduce((s, x) => s + x.watch.events.length, 0);
    const subscriberErrors = retiredErrors + subscribers.reduce((s, x) => s + x.watch.errors.length, 0);
    while (subscribers.length > subscriberCount) await retire(0);
    // Handles and fds settle once closed sockets and Janus handles are gone (keep-alive HTTP
    // sockets close after a few seconds of idleness).
    await sleep(SETTLE_MS);
    const after = await quietFigures();
    log('after the load', after);

    const measured = samples.filter((s) => s.t * 60_000 >= options.warmupMs);
    const series: Record<string, (s: Sample) => number> = {
      apiHeapMb: (s) => s.api.heapUsed / MB,
      apiRssMb: (s) => s.api.rss / MB,
      apiExternalMb: (s) => s.api.external / MB,
      apiHandles: (s) => s.api.handleCount,
      apiFds: (s) => s.api.fds,
      janusRssMb: (s) => s.janus.rss / MB,
      janusFds: (s) => s.janus.fds,
    };
    const slopes: Record<string, number> = {};
    const means: Record<string, number> = {};
    for (const [name, y] of Object.entries(series)) {
      slopes[name] = leastSquares(measured.map((s) => ({ x: s.t, y: y(s) }))).slope;
      means[name] = measured.reduce((sum, s) => sum + y(s), 0) / Math.max(1, measured.length);
    }
    return { samples, slopes, means, quiet: { before, after }, operations, failures, timeouts, events, subscriberErrors, subscriberCloses: closes, measuredMinutes };
  } finally {
    for (const s of subscribers) {
      s.watch.stop();
      await s.client.dispose().catch(() => {});
    }
    for (const e of allEndpoints) await e.close();
    await api?.kill('SIGTERM');
    await janus?.stop();
  }
}
