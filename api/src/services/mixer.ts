import { createHmac, randomInt } from 'node:crypto';
import { and, eq, inArray, isNotNull, isNull, or, sql } from 'drizzle-orm';
import { participants, spaces, type Database } from '@spaces/db';
import {
  JanusError,
  JanusSession,
  type AudioBridgeHandle,
  type PlainRtpAnswer,
  type PlainRtpOffer,
} from '@spaces/janus';
import { isHeardAtMixer, type Role } from '../domain/rules.ts';
import { badInput, conflict } from '../errors.ts';
import type { EventBus } from '../pubsub.ts';
import type { ParticipantRow, SpaceListener, SpaceRow, Spaces } from './spaces.ts';

/** One configured Janus instance the API controls. */
export interface MixerInstance {
  name: string;
  /** Janus HTTP API base URL, e.g. http://127.0.0.1:8088/janus */
  url: string;
  /** AudioBridge admin_key: needed to create rooms and forwarders. */
  adminKey: string;
  apiSecret?: string;
}

export interface MixerOptions {
  /** Packets buffered per speaker before mixing (x 20 ms of delay). */
  prebuffering: number;
  /** How often to retry a Janus that went away. */
  reconnectIntervalMs: number;
}

interface Instance {
  config: MixerInstance;
  session: JanusSession | null;
  /** A handle outside any room, for room management and moderation. */
  control: AudioBridgeHandle | null;
  recovering: boolean;
}

/** One participant's audio: a Janus handle the API owns, joined to the space's room. */
interface Connection {
  participantId: string;
  spaceId: string;
  instance: string;
  room: number;
  janusId: number;
  handle: AudioBridgeHandle;
  /** Set while we tear it down ourselves, so its hangup is not treated as a drop. */
  closing: boolean;
}

const MAX_SDP_BYTES = 20_000;

/**
 * The mixer control: owns every Janus session and handle, places each live space's AudioBridge
 * room on an instance, relays SDP, and makes the mixer follow the domain rules. Who is heard is
 * decided here from `isHeardAtMixer` alone, applied with moderator mute/unmute on the room, so no
 * message a client sends can make it heard.
 */
export class Mixer implements SpaceListener {
  private readonly instances = new Map<string, Instance>();
  private readonly connections = new Map<string, Connection>();
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly spaces: Spaces,
    private readonly events: EventBus,
    configs: MixerInstance[],
    private readonly options: MixerOptions = { prebuffering: 2, reconnectIntervalMs: 500 },
  ) {
    for (const config of configs) this.instances.set(config.name, { config, session: null, control: null, recovering: false });
  }

  get available(): boolean {
    return this.instances.size > 0;
  }

  /** Connects to every instance and makes sure the rooms of live spaces placed there exist. */
  async start(): Promise<void> {
    await Promise.all([...this.instances.values()].map((i) => this.connectInstance(i).catch(() => this.recover(i))));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const c of this.connections.values()) c.closing = true;
    this.connections.clear();
    // Destroying the session makes Janus drop its handles (and so their participants).
    await Promise.all([...this.instances.values()].map((i) => i.session?.destroy()));
  }

  private async connectInstance(instance: Instance): Promise<void> {
    const session = await JanusSession.create({ url: instance.config.url, apiSecret: instance.config.apiSecret });
    const control = await session.attachAudioBridge({ adminKey: instance.config.adminKey, opaqueId: 'spaces-control' });
    instance.session = session;
    instance.control = control;
    session.once('disconnected', () => {
      if (this.stopped || instance.session !== session) return;
      void this.recover(instance);
    });
    await this.restoreRooms(instance);
  }

  /**
   * Janus went away: everyone on it lost audio. Mark them so, then reconnect until Janus is back,
   * recreate the rooms of live spaces, and tell clients to reconnect with a new offer.
   */
  private async recover(instance: Instance): Promise<void> {
    if (instance.recovering || this.stopped) return;
    instance.recovering = true;
    instance.session = null;
    instance.control = null;
    const dropped = [...this.connections.values()].filter((c) => c.instance === instance.config.name);
    for (const c of dropped) {
      c.closing = true;
      this.connections.delete(c.participantId);
      await this.forget(c.participantId);
    }
    while (!this.stopped) {
      try {
        await this.connectInstance(instance);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, this.options.reconnectIntervalMs));
      }
    }
    instance.recovering = false;
    if (this.stopped) return;
    const live = await this.db
      .select({ id: spaces.id })
      .from(spaces)
      .where(and(eq(spaces.state, 'LIVE'), eq(spaces.mixerInstance, instance.config.name)));
    for (const { id } of live)
      this.events.pubsub.publish('space', id, { kind: 'AUDIO_RECONNECT', spaceId: id, at: new Date().toISOString() });
  }

  /**
   * Makes sure the rooms of live spaces placed here exist, and reconciles who is connected with
   * who really is in each room: after an API or Janus restart, participants whose audio went
   * with it are marked disconnected (with events) instead of showing as connected forever.
   */
  private async restoreRooms(instance: Instance) {
    const live = await this.db
      .select()
      .from(spaces)
      .where(and(eq(spaces.state, 'LIVE'), eq(spaces.mixerInstance, instance.config.name)));
    for (const space of live) {
      if (space.mixerRoom === null) continue;
      await this.createRoom(instance, space.mixerRoom);
      const inRoom = new Set((await instance.control!.listParticipants(space.mixerRoom)).map((p) => p.id));
      const recorded = await this.db
        .select({ id: participants.id, mixerId: participants.mixerParticipantId })
        .from(participants)
        .where(
          and(
            eq(participants.spaceId, space.id),
            isNull(participants.leftAt),
            or(isNotNull(participants.mixerParticipantId), eq(participants.audioConnected, true)),
          ),
        );
      for (const p of recorded)
        if (!this.connections.has(p.id) && (p.mixerId === null || !inRoom.has(p.mixerId))) await this.forget(p.id);
    }
  }

  /** Room secrets are derived, not stored: any API instance (or a restarted one) can moderate. */
  private roomSecret(instance: Instance, room: number) {
    return createHmac('sha256', instance.config.adminKey).update(`room:${room}`).digest('hex').slice(0, 32);
  }

  private async createRoom(instance: Instance, room: number) {
    try {
      await instance.control!.create({
        room,
        description: `space`,
        secret: this.roomSecret(instance, room),
        sampling_rate: 48000,
        default_prebuffering: this.options.prebuffering,
        audiolevel_event: true,
        audio_active_packets: 25,
        audio_level_average: 55,
        // Plain-RTP participants are for gateways and tests; joins happen only through the API.
        allow_rtp_participants: true,
      });
    } catch (error) {
      if (!(error instanceof JanusError && error.kind === 'room-exists')) throw error;
    }
  }

  private usable(name: string | null): Instance | null {
    const instance = name ? this.instances.get(name) : undefined;
    return instance?.control?.isAttached ? instance : null;
  }

  /** The space's room, created (and its placement stored) on first use. */
  private async ensureRoom(space: SpaceRow): Promise<{ instance: Instance; room: number }> {
    if (space.mixerInstance && space.mixerRoom !== null) {
      const instance = this.usable(space.mixerInstance);
      if (!instance) throw conflict('Voice is reconnecting; try again in a moment.');
      return { instance, room: space.mixerRoom };
    }
    const instance = await this.placeSpace();
    const room = randomInt(1, 2 ** 47);
    await this.createRoom(instance, room);
    const [placed] = await this.db
      .update(spaces)
      .set({ mixerInstance: instance.config.name, mixerRoom: room })
      .where(and(eq(spaces.id, space.id), isNull(spaces.mixerRoom)))
      .returning();
    if (placed) return { instance, room };
    // Another request placed it first: use theirs, drop ours.
    await instance.control!.destroy(room, { secret: this.roomSecret(instance, room) }).catch(() => {});
    const [current] = await this.db.select().from(spaces).where(eq(spaces.id, space.id));
    return this.ensureRoom(current!);
  }

  /** The instance with the fewest live spaces, among those reachable now. */
  private async placeSpace(): Promise<Instance> {
    const up = [...this.instances.values()].filter((i) => i.control?.isAttached);
    if (up.length === 0) throw conflict(this.available ? 'Voice is reconnecting; try again in a moment.' : 'Voice is not available on this server.');
    const load = await this.db
      .select({ name: spaces.mixerInstance, n: sql<number>`count(*)::int` })
      .from(spaces)
      .where(and(eq(spaces.state, 'LIVE'), inArray(spaces.mixerInstance, up.map((i) => i.config.name))))
      .groupBy(spaces.mixerInstance);
    const count = (i: Instance) => load.find((l) => l.name === i.config.name)?.n ?? 0;
    return up.sort((a, b) => count(a) - count(b))[0]!;
  }

  /** WebRTC: the viewer's complete offer in, the mixer's answer out. */
  async connect(viewerId: string, spaceId: string, offer: string): Promise<{ answer: string; participant: ParticipantRow }> {
    if (!this.available) throw conflict('Voice is not available on this server.');
    if (offer.length > MAX_SDP_BYTES) throw badInput('offer', `must be at most ${MAX_SDP_BYTES} bytes`);
    if (!offer.startsWith('v=0') || !/\r?\nm=audio /.test(offer)) throw badInput('offer', 'must be an SDP offer with an audio section');
    const { space, me } = await this.spaces.requireLivePresence(viewerId, spaceId);
    const joined = await this.join(space, me, { jsep: { type: 'offer', sdp: offer } });
    return { answer: joined.answer!, participant: joined.participant };
  }

  /**
   * Plain RTP (gateways, tests): Janus sends the mix to `rtp` and takes this participant's audio
   * at the returned address. The same rules decide whether it is heard. Not in the public API.
   */
  async connectPlainRtp(participantId: string, rtp: PlainRtpOffer): Promise<PlainRtpAnswer> {
    const [me] = await this.spaces.participantsByIds([participantId]);
    if (!me || me.leftAt) throw conflict('Not in the space.');
    const [space] = await this.spaces.byIds([me.spaceId]);
    const joined = await this.join(space!, me, { rtp });
    return joined.rtp!;
  }

  private async join(
    space: SpaceRow,
    me: ParticipantRow,
    media: { jsep: { type: 'offer'; sdp: string } } | { rtp: PlainRtpOffer },
  ): Promise<{ answer?: string; rtp?: PlainRtpAnswer; participant: ParticipantRow }> {
    await this.hangUp(me, true);
    const { instance, room } = await this.ensureRoom(space);
    const handle = await instance.session!.attachAudioBridge({ opaqueId: `participant-${me.id}` });
    const muted = !isHeardAtMixer({ role: me.role as Role, muted: me.muted, present: true });
    let joined;
    try {
      joined = await handle.join({ room, display: me.id, muted, ...media } as never);
    } catch (error) {
      await handle.detach().catch(() => {});
      if (error instanceof JanusError && error.kind === 'invalid-sdp') throw badInput('offer', 'the mixer could not use this SDP offer');
      throw error;
    }
    const connection: Connection = {
      participantId: me.id,
      spaceId: space.id,
      instance: instance.config.name,
      room,
      janusId: (joined as { id: number }).id,
      handle,
      closing: false,
    };
    this.connections.set(me.id, connection);
    this.watch(connection);
    if (me.role === 'HOST') await this.spaces.setHostAway(space.id, false);
    await this.db
      .update(participants)
      .set({ mixerParticipantId: connection.janusId })
      .where(eq(participants.id, me.id));
    // The state may have changed while we joined: apply the rules once more, now that we can.
    const [fresh] = await this.spaces.participantsByIds([me.id]);
    if (fresh) await this.apply(fresh);
    const participant =
      'rtp' in media
        ? ((await this.spaces.setAudioState(me.id, { audioConnected: true })) ?? fresh ?? me)
        : (fresh ?? me);
    return {
      answer: (joined as { jsep?: { sdp: string } }).jsep?.sdp,
      rtp: (joined as { rtp?: PlainRtpAnswer }).rtp,
      participant,
    };
  }

  private watch(c: Connection) {
    c.handle.on('webrtcup', () => {
      if (this.connections.get(c.participantId) === c)
        void this.spaces.setAudioState(c.participantId, { audioConnected: true }).catch(() => {});
    });
    const dropped = () => {
      if (c.closing || this.connections.get(c.participantId) !== c) return;
      this.connections.delete(c.participantId);
      c.closing = true;
      void c.handle.detach().catch(() => {});
      void this.forget(c.participantId);
      void this.hostPresence(c, false);
    };
    c.handle.on('hangup', dropped);
    c.handle.on('kicked', dropped);
    c.handle.on('room-destroyed', dropped);
    // Janus reports a peer that stops sending (no_media_timer, 1 s): a crashed or cut-off client
    // sends no hang-up, so for the host this is the sign they are away.
    c.handle.on('media', (m) => {
      if (m.type === 'audio' && this.connections.get(c.participantId) === c) void this.hostPresence(c, m.receiving);
    });
    // Every handle in a room hears every talking event; each connection reports only its own.
    const talking = (speaking: boolean) => (e: { id: number }) => {
      if (e.id !== c.janusId || this.connections.get(c.participantId) !== c) return;
      void this.reportSpeaking(c.participantId, speaking);
    };
    c.handle.on('talking', talking(true));
    c.handle.on('stopped-talking', talking(false));
  }

  /** A host whose audio drops (crash, network) is away: the grace period starts; it ends on return. */
  private async hostPresence(c: Connection, present: boolean) {
    const [p] = await this.spaces.participantsByIds([c.participantId]).catch(() => [null]);
    if (p?.role === 'HOST' && p.leftAt === null) await this.spaces.setHostAway(c.spaceId, !present).catch(() => {});
  }

  /** The participant's audio is gone: no mixer id, not connected, not speaking (with events). */
  private async forget(participantId: string) {
    try {
      await this.db.update(participants).set({ mixerParticipantId: null }).where(eq(participants.id, participantId));
      await this.spaces.setAudioState(participantId, { audioConnected: false, speaking: false });
    } catch (error) {
      console.error('[mixer] could not record a dropped connection', error);
    }
  }

  private async reportSpeaking(participantId: string, speaking: boolean) {
    const [p] = await this.spaces.participantsByIds([participantId]);
    // Only someone the mixer lets through can be speaking.
    if (!p || (speaking && !isHeardAtMixer({ role: p.role as Role, muted: p.muted, present: p.leftAt === null }))) return;
    if (p.speaking !== speaking) await this.spaces.setAudioState(participantId, { speaking });
  }

  /** Where a participant is in the mixer: from the database, so any API instance can act on it. */
  private async locate(p: ParticipantRow): Promise<{ instance: Instance; room: number; janusId: number } | null> {
    const local = this.connections.get(p.id);
    if (local) {
      const instance = this.usable(local.instance);
      return instance ? { instance, room: local.room, janusId: local.janusId } : null;
    }
    if (p.mixerParticipantId === null) return null;
    const [space] = await this.spaces.byIds([p.spaceId]);
    const instance = this.usable(space?.mixerInstance ?? null);
    if (!space || !instance || space.mixerRoom === null) return null;
    return { instance, room: space.mixerRoom, janusId: p.mixerParticipantId };
  }

  /**
   * Makes the mixer match the rules for one participant: heard, or muted at the room. Works for
   * participants whose handle another API instance holds (moderator requests go by room and id).
   */
  private async apply(p: ParticipantRow) {
    const at = await this.locate(p);
    if (!at) return;
    const heard = isHeardAtMixer({ role: p.role as Role, muted: p.muted, present: p.leftAt === null });
    const secret = this.roomSecret(at.instance, at.room);
    try {
      if (heard) await at.instance.control!.unmute(at.room, at.janusId, { secret });
      else await at.instance.control!.mute(at.room, at.janusId, { secret });
    } catch (error) {
      // Gone from the room meanwhile (hung up, kicked): nothing left to mute.
      if (!(error instanceof JanusError && error.kind === 'no-such-user')) throw error;
    }
    if (!heard && p.speaking) await this.spaces.setAudioState(p.id, { speaking: false });
  }

  /** Closes a participant's audio: our own handle if we hold it, and a kick by id if asked. */
  private async hangUp(p: Pick<ParticipantRow, 'id' | 'spaceId' | 'mixerParticipantId'>, kick = false): Promise<boolean> {
    const c = this.connections.get(p.id);
    if (kick) {
      const at = await this.locate(p as ParticipantRow);
      if (at)
        await at.instance.control!.kick(at.room, at.janusId, { secret: this.roomSecret(at.instance, at.room) }).catch(() => {});
    }
    if (p.mixerParticipantId !== null || c)
      await this.db.update(participants).set({ mixerParticipantId: null }).where(eq(participants.id, p.id));
    if (!c) return false;
    c.closing = true;
    this.connections.delete(p.id);
    await c.handle.detach().catch(() => {});
    return true;
  }

  async disconnect(viewerId: string, spaceId: string): Promise<boolean> {
    const [me] = await this.spaces.presentParticipants([{ spaceId, userId: viewerId }]);
    if (!me) return false;
    const was = await this.hangUp(me);
    await this.spaces.setAudioState(me.id, { audioConnected: false, speaking: false });
    return was;
  }

  // SpaceListener: the domain changed; the mixer follows.

  async onParticipantChanged(p: ParticipantRow) {
    await this.apply(p);
  }

  async onParticipantRemoved(p: ParticipantRow) {
    await this.hangUp(p, true);
  }

  async onSpaceLive(space: SpaceRow) {
    if (this.available) await this.ensureRoom(space).catch(() => {});
  }

  async onSpaceEnded(space: SpaceRow) {
    for (const c of [...this.connections.values()])
      if (c.spaceId === space.id) await this.hangUp({ id: c.participantId, spaceId: c.spaceId, mixerParticipantId: c.janusId });
    const instance = this.usable(space.mixerInstance);
    if (instance && space.mixerRoom !== null)
      await instance.control!.destroy(space.mixerRoom, { secret: this.roomSecret(instance, space.mixerRoom) }).catch(() => {});
  }

  /** For tests and diagnostics: the room of a space and its participants as Janus sees them. */
  async inspect(spaceId: string) {
    const [space] = await this.spaces.byIds([spaceId]);
    const instance = this.usable(space?.mixerInstance ?? null);
    if (!space || !instance || space.mixerRoom === null) return null;
    const list = await instance.control!.listParticipants(space.mixerRoom);
    const byJanusId = new Map([...this.connections.values()].map((c) => [c.janusId, c.participantId]));
    return { instance: instance.config.name, room: space.mixerRoom, participants: list.map((p) => ({ ...p, participantId: byJanusId.get(p.id) })) };
  }

  /** For tests: forward the room's mix as plain RTP to host:port (what a listener hears). */
  async forwardMix(spaceId: string, host: string, port: number) {
    const [space] = await this.spaces.byIds([spaceId]);
    const instance = this.usable(space?.mixerInstance ?? null);
    if (!space || !instance || space.mixerRoom === null) throw conflict('No room for this space.');
    return instance.control!.rtpForward({
      room: space.mixerRoom,
      host,
      port,
      codec: 'opus',
      ptype: 111,
      secret: this.roomSecret(instance, space.mixerRoom),
    });
  }

  /** Present participants whose audio this API instance holds. */
  connectedParticipantIds(): string[] {
    return [...this.connections.keys()];
  }
}
