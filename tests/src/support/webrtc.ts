/**
 * A WebRTC audio client for tests (werift), the way a browser joins a space's audio: one Opus
 * transceiver, the RFC 6464 `ssrc-audio-level` header extension negotiated, ICE gathered before the
 * offer leaves (no trickle: connectAudio takes a complete SDP). It sends a tone (or silence) as
 * Opus every 20 ms with the audio level Janus derives `talking` from, and decodes what it receives.
 *
 * Only for the network-namespace suites (scripts/netns.sh): Janus announces 10.99.0.1 (spaces0)
 * and this client binds its one ICE socket to clientAddress() (10.99.0.1, or 10.99.0.2 where the
 * namespace allows it); it gathers host candidates only and asks no STUN server.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { TypedEmitter } from '@spaces/janus';
import { OPUS_FRAME_MS, OPUS_FRAME_SAMPLES, OPUS_SAMPLE_RATE, OpusDecoder, OpusEncoder, SineGenerator } from '@spaces/janus/testing';
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RtpHeader,
  RtpPacket,
  RTP_EXTENSION_URI,
  serializeAudioLevelIndication,
  useAudioLevelIndication,
  type RTCRtpTransceiver,
} from 'werift';

/** Janus's end of the namespace's veth pair (spaces0). */
export const NETNS_JANUS_ADDRESS = '10.99.0.1';
/** The other end (spaces1). */
export const NETNS_PEER_ADDRESS = '10.99.0.2';

/**
 * The address test clients use for ICE. Janus's libnice pins its sockets to spaces0
 * (IP_UNICAST_IF), so what it sends to 10.99.0.2 really crosses the veth and arrives at spaces1
 * with a source address of this same host, which Linux drops unless spaces1 has
 * `accept_local=1` (ICE then never completes). So: 10.99.0.2 when the namespace allows it, else
 * 10.99.0.1, Janus's own address (still real UDP, ICE, DTLS and SRTP, on a non-loopback address).
 */
export function clientAddress(): string {
  try {
    if (readFileSync('/proc/sys/net/ipv4/conf/spaces1/accept_local', 'utf8').trim() === '1') return NETNS_PEER_ADDRESS;
  } catch {
    // no spaces1: assertInTestNamespace() will say so
  }
  return NETNS_JANUS_ADDRESS;
}

/**
 * Throws unless we run in scripts/netns.sh's namespace: no non-loopback IPv4 address but
 * 10.99.0.1/10.99.0.2. (werift asks a public STUN server unless stopped, and a test must never
 * send anything off the machine.)
 */
export function assertInTestNamespace(): void {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((info) => info && info.family === 'IPv4' && !info.internal)
    .map((info) => info!.address);
  const foreign = addresses.filter((a) => a !== NETNS_JANUS_ADDRESS && a !== NETNS_PEER_ADDRESS);
  if (!addresses.includes(NETNS_JANUS_ADDRESS) || foreign.length > 0) {
    throw new Error(
      `WebRtcAudioClient runs only inside the test network namespace (found IPv4 ${addresses.join(', ') || 'none'}). ` +
        'Run it with: bash scripts/netns.sh <command>',
    );
  }
}

/** RFC 6464 level (-dBov, 0 loudest .. 127 silence) sent with a tone: well above Janus's 55. */
export const LOUD_LEVEL = 20;
export const SILENT_LEVEL = 127;

export interface WebRtcAudioClientOptions {
  /** sendrecv (speakers, or listeners who send anyway) or recvonly (pure listeners). Default sendrecv. */
  direction?: 'sendrecv' | 'recvonly';
  /** IPv4 address ICE binds to and announces. Default clientAddress(). */
  address?: string;
  /** Label for logs and errors. */
  name?: string;
  /**
   * DTLS role in the offer. 'actpass' (default) is what browsers send: Janus then takes the DTLS
   * client role, and its first ClientHello usually reaches werift before werift's DTLS server is
   * listening, is dropped, and is resent 1 s later (connects in ~1.05 s instead of ~0.15 s).
   * 'active' (werift is the DTLS client) avoids that, at the cost of an offer no browser sends.
   */
  dtlsSetup?: 'actpass' | 'active';
  /**
   * Decode what arrives (the `audio` event). Default true. opusscript's WASM heap holds a few dozen
   * decoders at most: clients in large numbers count packets only.
   */
  decode?: boolean;
}

/** performance.now() stamps of one connection's milestones (undefined until reached). */
export interface WebRtcTimings {
  /** createOffer called. */
  offerStartedAt: number;
  /** ICE gathering complete, offer SDP ready. */
  offerReadyAt?: number;
  /** The connectAudio request left (set with markRequestSent()). */
  requestSentAt?: number;
  /** The answer was applied (setRemoteDescription done). */
  answerAppliedAt?: number;
  iceConnectedAt?: number;
  /** DTLS done: connectionState "connected". */
  connectedAt?: number;
  firstPacketAt?: number;
}

export type WebRtcAudioClientEvents = {
  /** A decoded 20 ms frame of what Janus sends us (the mix minus ourselves). */
  audio: [pcm: Int16Array, packet: RtpPacket];
  packet: [packet: RtpPacket];
};

const OPUS_PAYLOAD_TYPE = 111;

/**
 * A werift peer connection for Opus audio alone, bound to one address, with no STUN or TURN.
 * `audioLevel`: offer the ssrc-audio-level header extension (what browsers send).
 */
export function opusPeerConnection(address: string, { audioLevel = true }: { audioLevel?: boolean } = {}): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [], // no STUN/TURN (see also WebRtcAudioClient's #noStun: werift falls back to a public one)
    iceUseIpv6: false,
    iceUseIpv4: true,
    iceInterfaceAddresses: { udp4: address },
    codecs: {
      audio: [
        new RTCRtpCodecParameters({
          mimeType: 'audio/opus',
          clockRate: OPUS_SAMPLE_RATE,
          channels: 2,
          payloadType: OPUS_PAYLOAD_TYPE,
          parameters: 'minptime=10;useinbandfec=1',
        }),
      ],
      video: [],
    },
    headerExtensions: { audio: audioLevel ? [useAudioLevelIndication()] : [], video: [] },
  });
}

export class WebRtcAudioClient extends TypedEmitter<WebRtcAudioClientEvents> {
  readonly pc: RTCPeerConnection;
  transceiver!: RTCRtpTransceiver;
  /** The complete local answer (candidates included), for answerAudio, when Janus offered. */
  answerSdp = '';
  readonly name: string;
  readonly timings: WebRtcTimings;
  readonly dtlsSetup: 'actpass' | 'active';
  /** The complete local offer (candidates included), for connectAudio. */
  offer = '';
  packetsSent = 0;
  packetsReceived = 0;
  /** The RFC 6464 level of the last packet sent. */
  lastLevelSent: number | undefined;

  readonly #decoder: OpusDecoder | null;
  #encoder: OpusEncoder | undefined;
  #tone: SineGenerator | undefined;
  #level: number | undefined;
  #sender: NodeJS.Timeout | undefined;
  #sending = false;
  #closed = false;
  #sequence = randomInt(0, 0xffff);
  #timestamp = randomInt(0, 2 ** 31);
  #audioLevelId: number | undefined;

  private constructor(options: WebRtcAudioClientOptions, answering = false) {
    super();
    this.name = options.name ?? 'webrtc';
    this.#decoder = options.decode === false ? null : new OpusDecoder();
    this.dtlsSetup = options.dtlsSetup ?? 'actpass';
    const address = options.address ?? clientAddress();
    if (address !== NETNS_JANUS_ADDRESS && address !== NETNS_PEER_ADDRESS) throw new Error(`${address} is not a namespace address`);
    this.pc = opusPeerConnection(address);
    this.timings = { offerStartedAt: performance.now() };
    if (answering) {
      // The transceiver comes with Janus's offer.
      this.pc.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((rtp) => this.#receive(rtp));
      });
    } else {
      this.transceiver = this.pc.addTransceiver('audio', { direction: options.direction ?? 'sendrecv' });
      this.transceiver.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((rtp) => this.#receive(rtp));
      });
    }
    this.pc.iceConnectionStateChange.subscribe((state) => {
      // Only "connected": werift 0.24.4 reports "completed" when gathering ends, before any check.
      if (state === 'connected' && this.timings.iceConnectedAt === undefined)
        this.timings.iceConnectedAt = performance.now();
    });
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' && this.timings.connectedAt === undefined) {
        this.timings.connectedAt = performance.now();
        if (this.#sending) this.#startLoop();
      }
    });
  }

  /** Creates the peer connection and a complete offer (ICE gathering finished). */
  static async create(options: WebRtcAudioClientOptions = {}): Promise<WebRtcAudioClient> {
    assertInTestNamespace();
    const client = new WebRtcAudioClient(options);
    try {
      const offer = await client.pc.createOffer();
      client.#noStun();
      await client.pc.setLocalDescription(offer);
      await client.#gatheringComplete(5000);
      const sdp = client.pc.localDescription?.sdp ?? '';
      if (!/\r\na=candidate:/.test(sdp)) throw new Error(`${client.name}: the offer has no ICE candidate:\n${sdp}`);
      if (!sdp.includes(RTP_EXTENSION_URI.audioLevelIndication))
        throw new Error(`${client.name}: the offer lacks the ssrc-audio-level extension:\n${sdp}`);
      // werift keeps its own description (actpass) and follows the answer's role.
      client.offer = client.dtlsSetup === 'active' ? sdp.replace(/a=setup:actpass/g, 'a=setup:active') : sdp;
      client.timings.offerReadyAt = performance.now();
      return client;
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  /**
   * A receive-only client answering Janus's offer (the audience tier: listenAudio's offer in, the
   * complete answer in `answerSdp` for answerAudio). Time from `markRequestSent()` as usual.
   */
  static async answering(offer: string, options: Omit<WebRtcAudioClientOptions, 'direction' | 'dtlsSetup'> = {}): Promise<WebRtcAudioClient> {
    assertInTestNamespace();
    const client = new WebRtcAudioClient(options, true);
    try {
      await client.pc.setRemoteDescription({ type: 'offer', sdp: offer });
      const transceiver = client.pc.getTransceivers()[0];
      if (!transceiver) throw new Error(`${client.name}: the offer made no transceiver`);
      client.transceiver = transceiver;
      transceiver.setDirection('recvonly');
      const answer = await client.pc.createAnswer();
      client.#noStun();
      await client.pc.setLocalDescription(answer);
      await client.#gatheringComplete(5000);
      const sdp = client.pc.localDescription?.sdp ?? '';
      if (!/\r\na=candidate:/.test(sdp)) throw new Error(`${client.name}: the answer has no ICE candidate:\n${sdp}`);
      client.answerSdp = sdp;
      client.timings.answerAppliedAt = performance.now();
      return client;
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  /**
   * werift 0.24.4's ICE connection uses stun.l.google.com:19302 whenever no STUN server is
   * configured (iceServers: [] included) and asks it during gathering. The transports exist once
   * createOffer ran; clearing their STUN server before setLocalDescription gathers host candidates
   * only.
   */
  #noStun() {
    const transports = this.pc.iceTransports;
    if (transports.length === 0) throw new Error(`${this.name}: no ICE transport after createOffer`);
    for (const transport of transports) {
      const connection = transport.connection as unknown as { stunServer?: unknown };
      if (!('stunServer' in connection)) throw new Error('werift changed: ICE connection has no stunServer field');
      connection.stunServer = undefined;
    }
  }

  async #gatheringComplete(timeoutMs: number) {
    if (this.pc.iceGatheringState === 'complete') return;
    await this.pc.iceGatheringStateChange.watch((state) => state === 'complete', timeoutMs);
  }

  /** Call right before sending the offer, to time connectAudio -> first audio. */
  markRequestSent(): void {
    this.timings.requestSentAt = performance.now();
  }

  /** Applies the mixer's answer; media flows once ICE and DTLS are done (see waitConnected). */
  async accept(answer: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    this.timings.answerAppliedAt = performance.now();
    const id = Object.entries(this.pc.extIdUriMap).find(([, uri]) => uri === RTP_EXTENSION_URI.audioLevelIndication)?.[0];
    this.#audioLevelId = id === undefined ? undefined : Number(id);
  }

  /** The negotiated id of the ssrc-audio-level extension, undefined if the answer dropped it. */
  get audioLevelExtensionId(): number | undefined {
    return this.#audioLevelId;
  }

  /** Resolves once ICE and DTLS are up (connectionState "connected"). */
  async waitConnected(timeoutMs = 10_000): Promise<void> {
    if (this.pc.connectionState === 'connected') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.unSubscribe();
        reject(
          new Error(
            `${this.name}: not connected in ${timeoutMs} ms (ice ${this.pc.iceConnectionState}, connection ${this.pc.connectionState})`,
          ),
        );
      }, timeoutMs);
      const sub = this.pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected') {
          clearTimeout(timer);
          sub.unSubscribe();
          resolve();
        } else if (state === 'failed' || state === 'closed') {
          clearTimeout(timer);
          sub.unSubscribe();
          reject(new Error(`${this.name}: connection ${state}`));
        }
      });
    });
  }

  /** Resolves with the first packet received (now, if one came already). */
  async waitFirstPacket(timeoutMs = 10_000): Promise<void> {
    if (this.packetsReceived > 0) return;
    await this.waitFor('packet', { timeoutMs });
  }

  /**
   * Sends a sine of `frequency` Hz from now on (null: silence). The audio-level extension says
   * `level` (RFC 6464 -dBov): by default LOUD_LEVEL with a tone, SILENT_LEVEL with silence
   * (this replaces any earlier setLevel()).
   */
  setTone(frequency: number | null, { amplitude = 0.3, level }: { amplitude?: number; level?: number } = {}): void {
    this.#tone = frequency === null ? undefined : new SineGenerator(frequency, amplitude);
    this.#level = level;
  }

  /** Overrides the level the extension carries (0..127), whatever is sent; undefined: automatic. */
  setLevel(level: number | undefined): void {
    if (level !== undefined && (!Number.isInteger(level) || level < 0 || level > 127)) throw new Error(`level must be 0..127, got ${level}`);
    this.#level = level;
  }

  /** Starts sending one Opus frame every 20 ms (from when DTLS is up). */
  start(): void {
    if (this.#closed || this.#sending) return;
    if (this.transceiver.direction === 'recvonly') throw new Error(`${this.name}: a recvonly client cannot send`);
    this.#sending = true;
    if (this.pc.connectionState === 'connected') this.#startLoop();
  }

  stop(): void {
    this.#sending = false;
    clearTimeout(this.#sender);
    this.#sender = undefined;
  }

  #startLoop() {
    if (this.#sender || !this.#sending || this.#closed) return;
    const startedAt = performance.now();
    let framesSent = 0;
    const tick = () => {
      if (!this.#sending || this.#closed) return;
      // Catch up on late timer ticks, but never burst more than 100 ms.
      const due = Math.floor((performance.now() - startedAt) / OPUS_FRAME_MS) + 1;
      if (due - framesSent > 5) framesSent = due - 5;
      while (framesSent < due) {
        this.#sendFrame();
        framesSent++;
      }
      this.#sender = setTimeout(tick, OPUS_FRAME_MS - ((performance.now() - startedAt) % OPUS_FRAME_MS));
    };
    tick();
  }

  #sendFrame() {
    const pcm = this.#tone ? this.#tone.nextFrame() : new Int16Array(OPUS_FRAME_SAMPLES);
    const payload = (this.#encoder ??= new OpusEncoder()).encode(pcm);
    const level = this.#level ?? (this.#tone ? LOUD_LEVEL : SILENT_LEVEL);
    const header = new RtpHeader({
      payloadType: OPUS_PAYLOAD_TYPE, // the sender rewrites it to the negotiated one
      marker: this.packetsSent === 0,
      sequenceNumber: this.#sequence,
      timestamp: this.#timestamp,
      extensions:
        this.#audioLevelId === undefined
          ? []
          : [{ id: this.#audioLevelId, payload: Buffer.from(serializeAudioLevelIndication(level)) }],
    });
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#timestamp = (this.#timestamp + OPUS_FRAME_SAMPLES) >>> 0;
    this.lastLevelSent = level;
    this.packetsSent++;
    this.transceiver.sender.sendRtp(new RtpPacket(header, payload)).catch(() => {
      // closing, or DTLS went away: the test will notice the silence
    });
  }

  #receive(rtp: RtpPacket) {
    if (this.#closed) return;
    this.packetsReceived++;
    this.timings.firstPacketAt ??= performance.now();
    this.emit('packet', rtp);
    if (rtp.payload.length === 0 || !this.#decoder) return;
    try {
      this.emit('audio', this.#decoder.decode(rtp.payload), rtp);
    } catch {
      // a corrupt packet is dropped, as a real client would
    }
  }

  /** Milliseconds between two milestones, undefined if either was not reached. */
  span(from: keyof WebRtcTimings, to: keyof WebRtcTimings): number | undefined {
    const a = this.timings[from];
    const b = this.timings[to];
    return a === undefined || b === undefined ? undefined : Math.round(b - a);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stop();
    this.removeAllListeners();
    try {
      await this.pc.close();
    } finally {
      this.#decoder?.delete();
      this.#encoder?.delete();
    }
  }
}
