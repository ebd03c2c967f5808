/**
 * Plugin layer of the Janus client: the AudioBridge plugin's requests, replies and events, typed,
 * on top of a PluginHandle (handle.ts).
 */
import { PluginHandle } from './handle.ts';
import type { JanusSession } from './session.ts';
import type { Jsep, PluginData } from './transport.ts';

export type SamplingRate = 8000 | 12000 | 16000 | 24000 | 48000;

/** Room settings, named as Janus names them. */
export interface AudioBridgeRoomOptions {
  /** Room number; Janus picks one when missing. */
  room?: number;
  description?: string;
  /** Guards mute/unmute/kick/destroy/edit. */
  secret?: string;
  /** Needed to join. */
  pin?: string;
  is_private?: boolean;
  /** Default 48000: Opus's native rate, no resampling. */
  sampling_rate?: SamplingRate;
  spatial_audio?: boolean;
  audiolevel_ext?: boolean;
  /** Emit talking/stopped-talking from clients' audio-level extension. Default true. */
  audiolevel_event?: boolean;
  /** Packets (20 ms each) averaged for talking detection. Default 50 (1 s): a lively indicator. */
  audio_active_packets?: number;
  /** Average level (0 loud .. 127 silent, -dBov) under which one is talking. Default 40. */
  audio_level_average?: number;
  /** Packets buffered per participant before mixing; each adds ~20 ms of delay. Default 3. */
  default_prebuffering?: number;
  default_expectedloss?: number;
  default_bitrate?: number;
  record?: boolean;
  record_file?: string;
  record_dir?: string;
  /** Lets participants join over plain RTP (SIP gateways, tests). Default false. */
  allow_rtp_participants?: boolean;
  groups?: string[];
}

export interface AudioBridgeParticipant {
  id: number;
  display?: string;
  /** Whether its media (PeerConnection or plain RTP) is set up. */
  setup: boolean;
  muted: boolean;
  talking?: boolean;
  spatial_position?: number;
}

/** Where the plain-RTP participant wants the mix sent. */
export interface PlainRtpOffer {
  ip: string;
  port: number;
  /** Opus payload type. */
  payload_type?: number;
  /** ID of the ssrc-audio-level header extension, if the sender adds it. */
  audiolevel_ext?: number;
  fec?: boolean;
}

/** Where Janus expects the plain-RTP participant's packets. */
export interface PlainRtpAnswer {
  ip: string;
  port: number;
  payload_type?: number;
}

export interface AudioBridgeJoinOptions {
  room: number;
  /** Participant ID; Janus picks one when missing. */
  id?: number;
  display?: string;
  pin?: string;
  token?: string;
  muted?: boolean;
  codec?: 'opus' | 'pcma' | 'pcmu';
  bitrate?: number;
  quality?: number;
  expected_loss?: number;
  volume?: number;
  /** The room secret: makes the participant an admin, exempt from mute_room. */
  secret?: string;
  audio_level_average?: number;
  audio_active_packets?: number;
  group?: string;
}

export interface AudioBridgeJoined {
  room: number;
  /** This participant's ID. */
  id: number;
  display?: string;
  /** Who else was in the room. */
  participants: AudioBridgeParticipant[];
  /** The SDP answer, when the join carried an offer. */
  jsep?: Jsep;
  /** Janus's side of a plain-RTP join. */
  rtp?: PlainRtpAnswer;
}

export interface AudioBridgeConfigureOptions {
  muted?: boolean;
  display?: string;
  bitrate?: number;
  quality?: number;
  expected_loss?: number;
  volume?: number;
  record?: boolean;
  filename?: string;
  group?: string;
  rtp?: PlainRtpOffer;
}

export interface RtpForwardOptions {
  room: number;
  host: string;
  port: number;
  /** Forward only this group's mix. */
  group?: string;
  ssrc?: number;
  codec?: 'opus' | 'pcma' | 'pcmu';
  /** Default 100. */
  ptype?: number;
  host_family?: 'ipv4' | 'ipv6';
  srtp_suite?: 32 | 80;
  srtp_crypto?: string;
  /** Forward silence while the room is empty. */
  always_on?: boolean;
  /** The room secret, if the room has one. */
  secret?: string;
}

export interface RtpForwarder {
  stream_id: number;
  ip?: string;
  host?: string;
  port: number;
  group?: string;
  ssrc?: number;
  codec?: string;
  ptype?: number;
  srtp?: boolean;
  always_on?: boolean;
}

export type AudioBridgeEvents = {
  /** Someone in the room started talking (from their audio-level header extension). */
  talking: [event: { room: number; id: number }];
  'stopped-talking': [event: { room: number; id: number }];
  /** Someone else joined the room. */
  'participant-joined': [participant: AudioBridgeParticipant, room: number];
  /** Someone's state changed (e.g. muted by a moderator or by themselves). */
  'participant-updated': [participant: AudioBridgeParticipant, room: number];
  'participant-left': [id: number, room: number];
  'participant-kicked': [id: number, room: number];
  /** This participant was kicked out of the room. */
  kicked: [room: number];
  /** The room was destroyed while we were in it. */
  'room-destroyed': [room: number];
  /** Every plugin event that answers no request of ours, typed or not. */
  'plugin-event': [data: PluginData, jsep: Jsep | undefined];
};

/** A handle on the AudioBridge plugin: room management, and one participant once joined. */
export class AudioBridgeHandle extends PluginHandle<AudioBridgeEvents> {
  /** Room and participant ID after a successful join. */
  joined: { room: number; id: number } | undefined;

  constructor(
    session: JanusSession,
    id: number,
    /** Sent with create (and rtp_forward, as lock_rtp_forward is set). */
    readonly adminKey?: string,
  ) {
    super(session, id);
  }

  /** Creates a room (needs the admin key). Returns its number. */
  async create(options: AudioBridgeRoomOptions = {}): Promise<{ room: number }> {
    const { data } = await this.message({
      request: 'create',
      admin_key: this.adminKey,
      permanent: false,
      sampling_rate: 48000,
      default_prebuffering: 3,
      audiolevel_event: true,
      audio_active_packets: 50,
      audio_level_average: 40,
      ...options,
    });
    return { room: data.room as number };
  }

  async destroy(room: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({ request: 'destroy', room, secret: options.secret, permanent: false });
  }

  async exists(room: number): Promise<boolean> {
    const { data } = await this.message({ request: 'exists', room });
    return data.exists === true;
  }

  async listParticipants(room: number): Promise<AudioBridgeParticipant[]> {
    const { data } = await this.message({ request: 'listparticipants', room });
    return (data.participants as AudioBridgeParticipant[] | undefined) ?? [];
  }

  /**
   * Joins a room as this handle's participant: with a WebRTC offer (`jsep`, answered in the
   * result), over plain RTP (`rtp`, Janus's side in the result), or without media.
   */
  join(options: AudioBridgeJoinOptions & { jsep: Jsep }): Promise<AudioBridgeJoined & { jsep: Jsep }>;
  join(options: AudioBridgeJoinOptions & { rtp: PlainRtpOffer }): Promise<AudioBridgeJoined & { rtp: PlainRtpAnswer }>;
  join(options: AudioBridgeJoinOptions): Promise<AudioBridgeJoined>;
  async join(options: AudioBridgeJoinOptions & { jsep?: Jsep; rtp?: PlainRtpOffer }): Promise<AudioBridgeJoined> {
    const { jsep, ...body } = options;
    const reply = await this.message({ request: 'join', ...body }, jsep);
    const joined: AudioBridgeJoined = {
      room: reply.data.room as number,
      id: reply.data.id as number,
      display: reply.data.display as string | undefined,
      participants: (reply.data.participants as AudioBridgeParticipant[] | undefined) ?? [],
    };
    if (reply.jsep) joined.jsep = reply.jsep;
    if (reply.data.rtp) joined.rtp = reply.data.rtp as PlainRtpAnswer;
    this.joined = { room: joined.room, id: joined.id };
    return joined;
  }

  /** Changes this participant's settings; with `jsep`, (re)negotiates and returns the answer. */
  async configure(options: AudioBridgeConfigureOptions & { jsep?: Jsep }): Promise<{ jsep?: Jsep }> {
    const { jsep, ...body } = options;
    const reply = await this.message({ request: 'configure', ...body }, jsep);
    return reply.jsep ? { jsep: reply.jsep } : {};
  }

  /** Moderator mute of any participant (needs the room secret, if set). */
  async mute(room: number, id: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({ request: 'mute', room, id, secret: options.secret });
  }

  async unmute(room: number, id: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({ request: 'unmute', room, id, secret: options.secret });
  }

  /** Removes a participant from the room (needs the room secret, if set). */
  async kick(room: number, id: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({ request: 'kick', room, id, secret: options.secret });
  }

  /** Sends the room's mix (or a group's) as plain RTP to host:port; needs the admin key. */
  async rtpForward(options: RtpForwardOptions): Promise<RtpForwarder> {
    const { data } = await this.message({ request: 'rtp_forward', admin_key: this.adminKey, ...options });
    return {
      stream_id: data.stream_id as number,
      host: data.host as string,
      port: data.port as number,
      group: data.group as string | undefined,
    };
  }

  async stopRtpForward(room: number, streamId: number, options: { secret?: string } = {}): Promise<void> {
    await this.message({
      request: 'stop_rtp_forward',
      room,
      stream_id: streamId,
      secret: options.secret,
      admin_key: this.adminKey,
    });
  }

  async listForwarders(room: number, options: { secret?: string } = {}): Promise<RtpForwarder[]> {
    const { data } = await this.message({ request: 'listforwarders', room, secret: options.secret, admin_key: this.adminKey });
    return (data.rtp_forwarders as RtpForwarder[] | undefined) ?? [];
  }

  /** Leaves the room (the handle stays attached and can join again). */
  async leave(): Promise<void> {
    await this.message({ request: 'leave' });
    this.joined = undefined;
  }

  protected pluginEvent(data: PluginData, jsep?: Jsep): void {
    const room = data.room as number;
    switch (data.audiobridge) {
      case 'talking':
      case 'stopped-talking':
        this.emit(data.audiobridge, { room, id: data.id as number });
        break;
      case 'joined':
        // Unsolicited "joined" announces others; ours answers our join request instead.
        for (const participant of (data.participants as AudioBridgeParticipant[] | undefined) ?? []) {
          this.emit('participant-joined', participant, room);
        }
        break;
      case 'destroyed':
        this.joined = undefined;
        this.emit('room-destroyed', room);
        break;
      case 'event':
        for (const participant of (data.participants as AudioBridgeParticipant[] | undefined) ?? []) {
          this.emit('participant-updated', participant, room);
        }
        if (typeof data.leaving === 'number') this.emit('participant-left', data.leaving, room);
        if (typeof data.kicked === 'number') {
          if (this.joined && data.kicked === this.joined.id) {
            this.joined = undefined;
            this.emit('kicked', room);
          } else {
            this.emit('participant-kicked', data.kicked, room);
          }
        }
        break;
    }
    this.emit('plugin-event', data, jsep);
  }
}
