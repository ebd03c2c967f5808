import { randomInt } from 'node:crypto';
import { and, eq, isNotNull } from 'drizzle-orm';
import type postgres from 'postgres';
import { participants, spaces, type Database } from '@spaces/db';
import {
  JanusConnectionError,
  JanusError,
  type AudioBridgeHandle,
  type PlainRtpAnswer,
  type PlainRtpOffer,
  type PluginHandle,
  type StreamingHandle,
} from '@spaces/janus';
import { isHeardAtMixer, isOnStage, type Role } from '../../domain/rules.ts';
import { appError, badInput, conflict } from '../../errors.ts';
import type { Dispatcher } from '../spaces/effects.ts';
import type { ParticipantRow, SpaceRow, Spaces } from '../spaces/index.ts';
import { AudioState } from './audio-state.ts';
import { JanusInstance, type MixerInstance } from './instances.ts';
import { Reconciler, type HeldConnection, type ReconcileStats } from './reconciler.ts';
import { AudienceRelays } from './relays.ts';

export interface MixerOptions {
  /** Packets buffered per speaker before mixing (x 20 ms of delay). */
  prebuffering: number;
  /** How often to retry a Janus that is down. */
  reconnectIntervalMs: number;
  /** How often every live room is compared with the database. */
  sweepMs: number;
  /** Lets `connectPlainRtp` join rooms over plain RTP (gateways, tests). Off by default. */
  allowPlainRtp: boolean;
  /** How long a start waits for each Janus before serving without it. */
  startTimeoutMs: number;
  /**
   * Listeners a room seats in the AudioBridge through connectAudio (older clients); past that they
   * get CONFLICT pointing to listenAudio, the audience tier.
   */
  listenerSeats: number;
}

const DEFAULTS: MixerOptions = {
  prebuffering: 2,
  reconnectIntervalMs: 500,
  sweepMs: 3_000,
  allowPlainRtp: false,
  startTimeoutMs: 5_000,
  listenerSeats: 50,
};
const MAX_SDP_BYTES = 20_000;
/** Janus ids are 64-bit; ours stay exact in a JavaScript number and a bigint column. */
const newMixerId = () => randomInt(1, 2 ** 47);

/**
 * One participant's audio: a Janus handle the API owns. STAGE: joined (or joining) the space's
 * room. AUDIENCE: a viewer of the space's relay on an edge (`room` is then the mountpoint).
 */
type Connection = HeldConnection & {
  instance: string;
  room: number;
  /** What the viewer's answer must name (AUDIENCE). */
  offerId?: string;
  handle: AudioBridgeHandle | StreamingHandle;
  /** Set once we let go of it ourselves, so its hang-up is not reported as a drop. */
  closing: boolean;
  /**
   * Replaced by a newer connection that is not up yet: it keeps playing (muted, if a seat) until
   * the new one's media is up, so moving between tiers has no gap.
   */
  retiring?: boolean;
  /** Its media came up (webrtcup): only such a connection is worth keeping while replaced. */
  mediaUp?: boolean;
};

/** How long a replaced connection may keep playing while its successor connects. */
const RETIRE_WITHIN_MS = 10_000;

/** What a listenAudio offer id stands for: connection id, edge, and the Janus session and handle. */
interface OfferRef {
  c: number;
  e: string;
  s: number;
  h: number;
}

function offerIdOf(edge: JanusInstance, ref: OfferRef): string {
  const body = Buffer.from(JSON.stringify(ref)).toString('base64url');
  return `${body}.${edge.sign(body)}`;
}

const voiceReconnecting = () =>
  appError('CONFLICT', 'Voice for this space is reconnecting to its mixer; try again in a moment.', { retryAfterMs: 1000 });

/**
 * The mixer control: owns every Janus session and handle, places each live space's AudioBridge
 * room on an instance and relays SDP. It never decides who is heard by itself: the Reconciler
 * makes each room match the database through `isHeardAtMixer`. Its own writes to the database go
 * through AudioState (audio columns) and Presence (the host's absence).
 */
export class Mixer {
  readonly #instances = new Map<string, JanusInstance>();
  readonly #connections = new Map<string, Connection>();
  /** Replaced connections still playing, by participant (see Connection.retiring). */
  readonly #retiring = new Map<string, Set<Connection>>();
  /** One connect or disconnect at a time per participant: a second replaces the first cleanly. */
  readonly #exclusive = new Map<string, Promise<unknown>>();
  readonly #options: MixerOptions;
  readonly audio: AudioState;
  readonly relays: AudienceRelays;
  readonly reconciler: Reconciler;
  #stopped = false;

  constructor(
    private readonly db: Database,
    sql: postgres.Sql | undefined,
    private readonly spaces: Spaces,
    private readonly dispatcher: Dispatcher,
    configs: MixerInstance[],
    options: Partial<MixerOptions> = {},
  ) {
    this.#options = { ...DEFAULTS, ...options };
    this.audio = new AudioState(db, dispatcher);
    this.relays = new AudienceRelays(db, { instance: (name) => this.#usable(name), all: () => [...this.#instances.values()] });
    this.reconciler = new Reconciler(db, sql, this.audio, this.#roomOwner(), {
      sweepMs: this.#options.sweepMs,
      missingGraceMs: 2_000,
      concurrency: 2,
    });
    const hooks = { up: (i: JanusInstance, afterLoss: boolean) => this.#instanceUp(i, afterLoss), down: (i: JanusInstance) => this.#instanceDown(i) };
    for (const config of configs) this.#instances.set(config.name, new JanusInstance(config, hooks, this.#options.reconnectIntervalMs));
    if (this.available) dispatcher.onRoomChanged((spaceId) => void this.reconciler.request(spaceId));
  }

  get available(): boolean {
    return this.#instances.size > 0;
  }

  /** For health checks: each instance and whether it is connected, and the reconciler's counters. */
  status(): { instances: { name: string; up: boolean }[]; reconcile: ReconcileStats } {
    return { instances: [...this.#instances.values()].map((i) => ({ name: i.name, up: i.isUp })), reconcile: { ...this.reconciler.stats } };
  }

  /**
   * Connects to every instance, waiting a bounded time for each: the API serves while a Janus is
   * down (spaces go to the others), and picks it up when it comes back.
   */
  async start(): Promise<void> {
    const timeout = (ms: number) => new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref());
    await Promise.all([...this.#instances.values()].map((i) => Promise.race([i.connect(), timeout(this.#options.startTimeoutMs)])));
    if (this.available) this.reconciler.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.reconciler.stop();
    for (const c of this.#connections.values()) c.closing = true;
    this.#connections.clear();
    await Promise.all([...this.#instances.values()].map((i) => i.stop()));
  }

  async #instanceUp(instance: JanusInstance, afterLoss: boolean) {
    const live = await this.db
      .select({ id: spaces.id })
      .from(spaces)
      .where(and(eq(spaces.state, 'LIVE'), eq(spaces.mixerInstance, instance.name)));
    // Each room is restored first; after a loss its clients are told at once to connect again.
    await Promise.all(
      live.map(async ({ id }) => {
        await this.reconciler.request(id);
        if (afterLoss) this.dispatcher.publish(id, { kind: 'AUDIO_RECONNECT' });
      }),
    );
    // Records of connections that went with an API or Janus restart are corrected before we
    // serve: one that is still missing after the grace period is gone.
    if (this.reconciler.anyMissing(live.map((l) => l.id))) {
      await new Promise((r) => setTimeout(r, this.reconciler.missingGraceMs + 50));
      await Promise.all(live.map(({ id }) => this.reconciler.request(id)));
    }
  }

  /** Janus went away: every connection on it is gone. */
  async #instanceDown(instance: JanusInstance) {
    for (const c of [...this.#connections.values()]) if (c.instance === instance.name) this.#drop(c, { record: false });
    if (instance.servesAudience) await this.#edgeLost(instance);
    const affected = await this.db
      .select({ id: participants.id, mixerId: participants.mixerParticipantId })
      .from(participants)
      .innerJoin(spaces, eq(spaces.id, participants.spaceId))
      .where(
        and(
          eq(spaces.mixerInstance, instance.name),
          eq(spaces.state, 'LIVE'),
          isNotNull(participants.mixerParticipantId),
          eq(participants.audioTier, 'STAGE'),
        ),
      );
    await this.audio.forgetMany(affected.map((p) => ({ participantId: p.id, mixerId: p.mixerId! })));
  }

  /**
   * An audience edge went away: its listeners are told (only they) to connect again, and are
   * placed elsewhere; its relays are forgotten, and the forwards into it stopped by the reconciler.
   */
  async #edgeLost(edge: JanusInstance) {
    const lost = await this.audio.forgetAudienceOn(edge.name);
    const spaceIds = new Set([...lost.map((l) => l.spaceId), ...(await this.relays.forgetEdge(edge.name))]);
    for (const spaceId of spaceIds) {
      const userIds = lost.filter((l) => l.spaceId === spaceId).map((l) => l.userId);
      if (userIds.length > 0) this.dispatcher.publish(spaceId, { kind: 'AUDIO_RECONNECT', userIds });
      void this.reconciler.request(spaceId);
    }
  }

  #roomOwner() {
    return {
      instance: (name: string | null) => this.#usable(name),
      place: async (space: SpaceRow) => {
        // With every instance down there is nowhere to place it yet; placed once one is back.
        if ([...this.#instances.values()].some((i) => i.isUp && i.mixes)) await this.#ensureRoom(space);
      },
      createRoom: (instance: JanusInstance, room: number) => this.#createRoom(instance, room),
      held: (spaceId: string) =>
        [...this.#connections.values(), ...[...this.#retiring.values()].flatMap((set) => [...set])].filter((c) => c.spaceId === spaceId),
      release: async (participantId: string, mixerId: number) => {
        const c = this.#connections.get(participantId);
        if (c && c.mixerId === mixerId) await this.#close(c);
        for (const r of this.#retiring.get(participantId) ?? []) if (r.mixerId === mixerId) await this.#close(r);
      },
      relays: this.relays,
      edges: () => [...this.#instances.values()].filter((i) => i.servesAudience && i.isUp),
    };
  }

  #usable(name: string | null): JanusInstance | null {
    const instance = name ? this.#instances.get(name) : undefined;
    return instance?.isUp ? instance : null;
  }

  async #createRoom(instance: JanusInstance, room: number) {
    try {
      await instance.control!.create({
        room,
        description: 'space',
        secret: instance.roomSecret(room),
        pin: instance.roomPin(room),
        is_private: true,
        sampling_rate: 48000,
        default_prebuffering: this.#options.prebuffering,
        audiolevel_event: true,
        audio_active_packets: 25,
        audio_level_average: 55,
        allow_rtp_participants: this.#options.allowPlainRtp,
      });
    } catch (error) {
      if (!(error instanceof JanusError && error.kind === 'room-exists')) throw error;
    }
  }

  /** The space's room, created (and its placement stored) on first use. */
  async #ensureRoom(space: SpaceRow): Promise<{ instance: JanusInstance; room: number }> {
    if (space.mixerInstance && space.mixerRoom !== null) {
      const instance = this.#usable(space.mixerInstance);
      if (!instance) throw voiceReconnecting();
      return { instance, room: space.mixerRoom };
    }
    const instance = await this.#placeSpace();
    const room = newMixerId();
    await this.#createRoom(instance, room);
    if (await this.audio.place(space.id, instance.name, room)) return { instance, room };
    // Another request placed it first: use theirs, drop ours.
    try {
      await instance.control!.destroy(room, { secret: instance.roomSecret(room) });
    } catch (error) {
      console.error(`[mixer] could not destroy an unused room ${room} on "${instance.name}"`, (error as Error).message);
    }
    const [current] = await this.spaces.byIds([space.id]);
    return this.#ensureRoom(current!);
  }

  /** The mixing instance with the fewest live spaces, among those reachable now. */
  async #placeSpace(): Promise<JanusInstance> {
    const up = [...this.#instances.values()].filter((i) => i.isUp && i.mixes);
    if (up.length === 0) throw this.available ? voiceReconnecting() : conflict('Voice is not available on this server.');
    const live = await this.db
      .select({ name: spaces.mixerInstance })
      .from(spaces)
      .where(and(eq(spaces.state, 'LIVE'), isNotNull(spaces.mixerInstance)));
    const count = (i: JanusInstance) => live.filter((l) => l.name === i.name).length;
    return up.sort((a, b) => count(a) - count(b))[0]!;
  }

  /** WebRTC: the viewer's complete offer in, the mixer's answer out. */
  async connect(viewerId: string, spaceId: string, offer: string): Promise<{ answer: string; participant: ParticipantRow }> {
    if (!this.available) throw conflict('Voice is not available on this server.');
    if (offer.length > MAX_SDP_BYTES) throw badInput('offer', `must be at most ${MAX_SDP_BYTES} bytes`);
    if (!offer.startsWith('v=0') || !/\r?\nm=audio /.test(offer)) throw badInput('offer', 'must be an SDP offer with an audio section');
    const { space, me } = await this.spaces.requireLivePresence(viewerId, spaceId);
    const joined = await this.#join(space, me, { jsep: { type: 'offer', sdp: offer } });
    return { answer: joined.answer!, participant: joined.participant };
  }

  /**
   * Plain RTP (gateways, tests; only when `allowPlainRtp`): Janus sends the mix to `rtp` and takes
   * this participant's audio at the returned address. The same rules decide whether it is heard.
   */
  async connectPlainRtp(participantId: string, rtp: PlainRtpOffer): Promise<PlainRtpAnswer> {
    if (!this.#options.allowPlainRtp) throw conflict('Plain-RTP participants are not enabled on this server.');
    const [me] = await this.spaces.participantsByIds([participantId]);
    if (!me || me.leftAt) throw conflict('Not in the space.');
    const [space] = await this.spaces.byIds([me.spaceId]);
    const joined = await this.#join(space!, me, { rtp });
    return joined.rtp!;
  }

  /** Runs `work` after any connect or disconnect of the same participant has finished. */
  async #oneAtATime<T>(participantId: string, work: () => Promise<T>): Promise<T> {
    const before = this.#exclusive.get(participantId) ?? Promise.resolve();
    const run = before.then(work, work);
    const tail = run.catch(() => {});
    this.#exclusive.set(participantId, tail);
    void tail.then(() => {
      if (this.#exclusive.get(participantId) === tail) this.#exclusive.delete(participantId);
    });
    return run;
  }

  #join(
    space: SpaceRow,
    me: ParticipantRow,
    media: { jsep: { type: 'offer'; sdp: string } } | { rtp: PlainRtpOffer },
  ): Promise<{ answer?: string; rtp?: PlainRtpAnswer; participant: ParticipantRow }> {
    return this.#oneAtATime(me.id, async () => {
      const { instance, room } = await this.#ensureRoom(space);
      const session = instance.session;
      if (!session) throw voiceReconnecting();
      if (me.role === 'LISTENER' && 'jsep' in media) await this.#requireListenerSeat(space.id, me.id);
      // The new connection is the wanted one from here on: an older one (here, or held by another
      // API instance) is released and kicked by the reconciler.
      const mixerId = newMixerId();
      const expected = await this.audio.expect(me.id, mixerId);
      if (!expected) throw conflict('Not in the space.');
      const old = this.#connections.get(me.id);
      if (old) this.#retire(old);

      let handle: AudioBridgeHandle | null = null;
      const connection: Connection = {
        participantId: me.id,
        spaceId: space.id,
        mixerId,
        tier: 'STAGE',
        instance: instance.name,
        room,
        handle: null!,
        joining: true,
        closing: false,
      };
      try {
        handle = await session.attachAudioBridge({ opaqueId: `participant-${me.id}` });
        connection.handle = handle;
        this.#connections.set(me.id, connection);
        this.#watch(connection);
        const muted = !isHeardAtMixer({ role: expected.role as Role, muted: expected.muted, present: true });
        const joined = await handle.join({ room, id: mixerId, pin: instance.roomPin(room), display: me.id, muted, ...media } as never);
        connection.joining = false;
        let participant = expected;
        if ('rtp' in media) participant = (await this.audio.connected(me.id, mixerId, true)) ?? participant;
        if (me.role === 'HOST') await this.spaces.presence.hostAudio(space.id, true);
        // The rules may have changed while we joined: the room is compared once more now.
        void this.reconciler.request(space.id);
        return {
          answer: (joined as { jsep?: { sdp: string } }).jsep?.sdp,
          rtp: (joined as { rtp?: PlainRtpAnswer }).rtp,
          participant,
        };
      } catch (error) {
        await this.#abandon(connection, handle);
        if (error instanceof JanusError && error.kind === 'invalid-sdp') throw badInput('offer', 'the mixer could not use this SDP offer');
        if (error instanceof JanusConnectionError) throw voiceReconnecting();
        throw error;
      }
    });
  }

  /**
   * A listener's room seat (connectAudio from an older client) while the room has seats to spare;
   * past that, the audience tier.
   */
  async #requireListenerSeat(spaceId: string, participantId: string) {
    const seated = await this.db
      .select({ id: participants.id })
      .from(participants)
      .where(
        and(
          eq(participants.spaceId, spaceId),
          eq(participants.role, 'LISTENER'),
          eq(participants.audioTier, 'STAGE'),
          isNotNull(participants.mixerParticipantId),
        ),
      )
      .limit(this.#options.listenerSeats + 1);
    if (seated.filter((p) => p.id !== participantId).length >= this.#options.listenerSeats)
      throw appError('CONFLICT', 'The mixer has no listener seats left in this space: listen through the audience tier with listenAudio.', {
        useInstead: 'listenAudio',
      });
  }

  /**
   * The audience tier, step one: places the viewer (a listener) on the edge with the most
   * headroom, makes the space's relay exist there, and returns the relay's offer. The viewer
   * answers with `answer`. Replaces any earlier connection of the viewer.
   */
  async listen(viewerId: string, spaceId: string): Promise<{ offerId: string; offer: string; participant: ParticipantRow }> {
    if (!this.available) throw conflict('Voice is not available on this server.');
    const { space, me } = await this.spaces.requireLivePresence(viewerId, spaceId);
    if (isOnStage(me.role as Role))
      throw appError('CONFLICT', 'On stage, audio goes through the mixer: connect with connectAudio.', { useInstead: 'connectAudio' });
    return this.#oneAtATime(me.id, async () => {
      await this.#ensureRoom(space);
      const edge = await this.#placeListener();
      const session = edge.session;
      if (!session) throw voiceReconnecting();
      const connectionId = newMixerId();
      const expected = await this.audio.expectAudience(me.id, connectionId, edge.name);
      if (!expected) throw conflict('Not in the space.');
      const old = this.#connections.get(me.id);
      if (old) this.#retire(old);

      const connection: Connection = {
        participantId: me.id,
        spaceId: space.id,
        mixerId: connectionId,
        tier: 'AUDIENCE',
        instance: edge.name,
        room: 0,
        handle: null!,
        joining: true,
        closing: false,
      };
      let handle: StreamingHandle | null = null;
      try {
        // The relay on that edge is made to exist (under the room's lock) before we watch it; when
        // it is there and fed already, the room is still compared, but not waited for.
        let relay = await this.relays.of(space.id, edge.name);
        if (relay?.forwarder != null) void this.reconciler.request(space.id);
        else {
          await this.reconciler.request(space.id);
          relay = await this.relays.of(space.id, edge.name);
        }
        if (!relay) throw voiceReconnecting();
        connection.room = relay.mountpoint;
        handle = await session.attachStreaming({ opaqueId: `listener-${me.id}` });
        connection.handle = handle;
        connection.offerId = offerIdOf(edge, { c: connectionId, e: edge.name, s: session.id, h: handle.id });
        this.#connections.set(me.id, connection);
        this.#watch(connection);
        let offer;
        try {
          offer = await handle.watch(relay.mountpoint, { pin: edge.mountpointPin(relay.mountpoint) });
        } catch (error) {
          // A run that began before this listener was placed may have removed the relay (its last
          // listener had just been cut): the room's next run, which sees them, makes it again.
          if (!(error instanceof JanusError && error.kind === 'no-such-mountpoint')) throw error;
          await this.reconciler.request(space.id);
          relay = await this.relays.of(space.id, edge.name);
          if (!relay) throw voiceReconnecting();
          connection.room = relay.mountpoint;
          offer = await handle.watch(relay.mountpoint, { pin: edge.mountpointPin(relay.mountpoint) });
        }
        connection.joining = false;
        return { offerId: connection.offerId!, offer: offer.sdp, participant: expected };
      } catch (error) {
        await this.#abandon(connection, handle);
        if (error instanceof JanusConnectionError) throw voiceReconnecting();
        throw error;
      }
    });
  }

  /** The audience tier, step two: the viewer's answer to the relay's offer; media flows after it. */
  async answer(viewerId: string, spaceId: string, offerId: string, sdp: string): Promise<ParticipantRow> {
    if (sdp.length > MAX_SDP_BYTES) throw badInput('answer', `must be at most ${MAX_SDP_BYTES} bytes`);
    if (!sdp.startsWith('v=0') || !/\r?\nm=audio /.test(sdp)) throw badInput('answer', 'must be an SDP answer with an audio section');
    const { me } = await this.spaces.requireLivePresence(viewerId, spaceId);
    const stale = () => conflict('This offer is no longer current (replaced by a newer one): call listenAudio again.');
    return this.#oneAtATime(me.id, async () => {
      const c = this.#connections.get(me.id);
      try {
        if (c && c.tier === 'AUDIENCE' && c.offerId === offerId && !c.closing) {
          await (c.handle as StreamingHandle).start({ type: 'answer', sdp });
        } else {
          // Made by another API instance (no sticky routing needed): it holds the handle; we
          // deliver the answer to it on Janus, once the signed offer matches the viewer's connection.
          const ref = this.#offerRef(offerId);
          if (!ref || me.mixerParticipantId !== ref.c || me.audioTier !== 'AUDIENCE' || me.audioInstance !== ref.e) throw stale();
          const edge = this.#usable(ref.e);
          if (!edge) throw voiceReconnecting();
          await edge.startForeignViewer(ref.s, ref.h, { type: 'answer', sdp });
        }
      } catch (error) {
        if (error instanceof JanusError && (error.kind === 'invalid-sdp' || error.code === 465))
          throw badInput('answer', 'the audience relay could not use this SDP answer');
        if (error instanceof JanusConnectionError) throw voiceReconnecting();
        throw error;
      }
      const [now] = await this.spaces.participantsByIds([me.id]);
      return now!;
    });
  }

  /** The handle an offer id names, if its signature holds. */
  #offerRef(offerId: string): OfferRef | null {
    const [body, mac] = offerId.split('.');
    if (!body || !mac) return null;
    let ref: OfferRef;
    try {
      ref = JSON.parse(Buffer.from(body, 'base64url').toString()) as OfferRef;
    } catch {
      return null;
    }
    const edge = typeof ref?.e === 'string' ? this.#instances.get(ref.e) : undefined;
    if (!edge || edge.sign(body) !== mac) return null;
    return ref;
  }

  /** The audience edge with the most headroom (capacity minus listeners placed), among those up. */
  async #placeListener(): Promise<JanusInstance> {
    const edges = [...this.#instances.values()].filter((i) => i.isUp && i.servesAudience && i.relays);
    if (edges.length === 0) throw voiceReconnecting();
    if (edges.length === 1) return edges[0]!;
    const load = await this.relays.loadByEdge();
    const headroom = (i: JanusInstance) => i.capacity - (load.get(i.name) ?? 0);
    return edges.sort((a, b) => headroom(b) - headroom(a))[0]!;
  }

  #watch(c: Connection) {
    const current = () => this.#connections.get(c.participantId) === c && !c.closing;
    // Core events, which every plugin's handle has.
    const core = c.handle as unknown as PluginHandle<Record<never, never>>;
    core.on('webrtcup', () => {
      if (!current()) return;
      c.mediaUp = true;
      this.#retired(c.participantId);
      void this.#record(this.audio.connected(c.participantId, c.mixerId, true), c, 'connected');
    });
    const dropped = () => {
      if (current()) this.#drop(c);
    };
    if (c.tier === 'AUDIENCE') {
      core.on('hangup', () => {
        if (current()) void this.#listenerCut(c);
      });
      return;
    }
    core.on('hangup', dropped);
    const seat = c.handle as AudioBridgeHandle;
    seat.on('kicked', dropped);
    seat.on('room-destroyed', dropped);
    // Janus reports a peer that stops sending (no_media_timer, 1 s): a crashed or cut-off client
    // sends no hang-up, so for the host this is the sign they are away.
    seat.on('media', (m) => {
      if (m.type === 'audio' && current()) void this.#hostAudio(c, m.receiving);
    });
    // Every handle in a room hears every talking event; each connection reports only its own.
    const talking = (speaking: boolean) => (e: { id: number }) => {
      if (e.id === c.mixerId && current()) void this.#record(this.audio.speaking(c.participantId, c.mixerId, speaking), c, 'speaking');
    };
    seat.on('talking', talking(true));
    seat.on('stopped-talking', talking(false));
  }

  /** A connection ended without us (hang-up, kick, room gone): forget it, and the host is away. */
  #drop(c: Connection, { record = true } = {}) {
    this.#connections.delete(c.participantId);
    c.closing = true;
    void this.#detach(c.handle);
    if (record) void this.#record(this.audio.forget(c.participantId, c.mixerId), c, 'drop');
    if (c.tier === 'STAGE') void this.#hostAudio(c, false);
  }

  /**
   * A listener's relay connection ended without us (their mountpoint was destroyed, Janus closed
   * the connection, or the client's went down): forget it, and tell that listener alone to listen
   * again (AUDIO_RECONNECT), which places them and makes the relay exist again. A client that has
   * gone for good ignores it, and presence takes them out of the space.
   */
  async #listenerCut(c: Connection) {
    this.#drop(c, { record: false });
    const row = await this.audio.forget(c.participantId, c.mixerId).catch((error: unknown) => {
      if (!this.#stopped) console.error(`[mixer] could not record the cut relay connection of participant ${c.participantId}`, error);
      return null;
    });
    if (row && row.leftAt === null) this.dispatcher.publish(c.spaceId, { kind: 'AUDIO_RECONNECT', userIds: [row.userId] });
    void this.reconciler.request(c.spaceId);
  }

  async #hostAudio(c: Connection, receiving: boolean) {
    const [p] = await this.spaces.participantsByIds([c.participantId]).catch(() => [null]);
    if (p?.role === 'HOST') await this.#record(this.spaces.presence.hostAudio(c.spaceId, receiving), c, 'host presence');
  }

  /** Records a mixer report in the database; a failure is logged with what it was about. */
  async #record(write: Promise<unknown>, c: Connection, what: string) {
    try {
      await write;
    } catch (error) {
      if (!this.#stopped) console.error(`[mixer] could not record ${what} of participant ${c.participantId} (mixer id ${c.mixerId})`, error);
    }
  }

  /** Lets go of our handle (the reconciler or a new connection decided it is no longer wanted). */
  async #close(c: Connection) {
    c.closing = true;
    if (this.#connections.get(c.participantId) === c) this.#connections.delete(c.participantId);
    this.#retiring.get(c.participantId)?.delete(c);
    if (this.#retiring.get(c.participantId)?.size === 0) this.#retiring.delete(c.participantId);
    await this.#detach(c.handle);
  }

  /**
   * A newer connection replaces `c`: `c` keeps playing until the newer one's media is up (or it
   * fails, or RETIRE_WITHIN_MS passes), then goes. A retiring seat is muted at once, so nobody is
   * heard twice.
   */
  #retire(c: Connection) {
    if (this.#connections.get(c.participantId) === c) this.#connections.delete(c.participantId);
    // One predecessor at most, and only one that plays: anything else has nothing to bridge.
    this.#retired(c.participantId);
    if (c.joining || !c.mediaUp) {
      void this.#close(c);
      return;
    }
    c.retiring = true;
    this.#retiring.set(c.participantId, new Set([c]));
    if (c.tier === 'STAGE') {
      const instance = this.#usable(c.instance);
      instance?.control
        ?.mute(c.room, c.mixerId, { secret: instance.roomSecret(c.room) })
        .catch((error) => console.error(`[mixer] could not mute the replaced connection of ${c.participantId}`, (error as Error).message));
    }
    setTimeout(() => void this.#close(c), RETIRE_WITHIN_MS).unref();
  }

  /** A connection that failed while being made: let go of it, and of what it was replacing. */
  async #abandon(c: Connection, handle: AudioBridgeHandle | StreamingHandle | null) {
    c.joining = false;
    if (this.#connections.get(c.participantId) === c) await this.#close(c);
    else if (handle) await this.#detach(handle);
    this.#retired(c.participantId);
    await this.audio.forget(c.participantId, c.mixerId);
  }

  /** The participant's current connection is up (or failed): the ones it replaced go now. */
  #retired(participantId: string) {
    for (const c of this.#retiring.get(participantId) ?? []) void this.#close(c);
  }

  async #detach(handle: AudioBridgeHandle | StreamingHandle) {
    try {
      await handle.detach();
    } catch (error) {
      // Gone with its session already (Janus restarted or timed it out): nothing to let go of.
      if (!(error instanceof JanusConnectionError || (error instanceof JanusError && error.kind === 'no-such-handle')))
        console.error('[mixer] could not detach a handle', error);
    }
  }

  async disconnect(viewerId: string, spaceId: string): Promise<boolean> {
    const [me] = await this.spaces.presentParticipants([{ spaceId, userId: viewerId }]);
    if (!me) return false;
    return this.#oneAtATime(me.id, async () => {
      const c = this.#connections.get(me.id);
      if (c) await this.#close(c);
      this.#retired(me.id);
      // Wherever the connection is held, the reconciler removes it from the room once forgotten.
      const forgotten = await this.audio.forget(me.id, null);
      return !!c || me.mixerParticipantId !== null || !!forgotten?.audioConnected;
    });
  }

  /** The room of a space on a connected instance, for diagnostics and tests. */
  roomOf(space: Pick<SpaceRow, 'mixerInstance' | 'mixerRoom'>): { instance: JanusInstance; room: number } | null {
    const instance = this.#usable(space.mixerInstance);
    return instance && space.mixerRoom !== null ? { instance, room: space.mixerRoom } : null;
  }

  /** Participants whose audio this API instance holds, by participant id → mixer id. */
  held(): Map<string, number> {
    return new Map([...this.#connections.values()].map((c) => [c.participantId, c.mixerId]));
  }
}

