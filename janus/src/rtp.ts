/**
 * Plain RTP with Opus, for tests: an endpoint that joins an AudioBridge room over UDP (or receives
 * an rtp_forward of the mix), sends a sine tone or silence every 20 ms, and decodes what it gets.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import OpusScript from 'opusscript';
import type { PlainRtpAnswer, PlainRtpOffer } from './audiobridge.ts';
import { TypedEmitter } from './emitter.ts';

export const OPUS_SAMPLE_RATE = 48_000;
/** 20 ms at 48 kHz: the frame size WebRTC clients and Janus use. */
export const OPUS_FRAME_SAMPLES = 960;
export const OPUS_FRAME_MS = 20;
/** Opus's usual dynamic payload type in browsers' SDP. */
export const DEFAULT_OPUS_PAYLOAD_TYPE = 111;

export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

export function encodeRtpPacket(packet: RtpPacket): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80; // version 2, no padding, no extension, no CSRCs
  header[1] = (packet.marker ? 0x80 : 0) | (packet.payloadType & 0x7f);
  header.writeUInt16BE(packet.sequence & 0xffff, 2);
  header.writeUInt32BE(packet.timestamp >>> 0, 4);
  header.writeUInt32BE(packet.ssrc >>> 0, 8);
  return Buffer.concat([header, packet.payload]);
}

/** Parses an RTP packet (skipping CSRCs, header extension and padding); undefined if it is not RTP. */
export function parseRtpPacket(data: Buffer): RtpPacket | undefined {
  if (data.length < 12 || data[0]! >> 6 !== 2) return undefined;
  const payloadType = data[1]! & 0x7f;
  // 72-76 are RTCP packet types (SR, RR, ...) on a muxed port, not RTP.
  if (payloadType >= 72 && payloadType <= 76) return undefined;
  let offset = 12 + (data[0]! & 0x0f) * 4;
  if (data[0]! & 0x10) {
    if (data.length < offset + 4) return undefined;
    offset += 4 + data.readUInt16BE(offset + 2) * 4;
  }
  let end = data.length;
  if (data[0]! & 0x20) end -= data[data.length - 1]!;
  if (end < offset) return undefined;
  return {
    payloadType,
    marker: (data[1]! & 0x80) !== 0,
    sequence: data.readUInt16BE(2),
    timestamp: data.readUInt32BE(4),
    ssrc: data.readUInt32BE(8),
    payload: data.subarray(offset, end),
  };
}

let sharedEncoder: OpusScript | undefined;
/**
 * One Opus encoder for one-off frames. Not for streams: Opus encoding is stateful, and two streams
 * through one encoder bleed into each other (a muted sender's tone showed up in another's packets).
 * opusscript's WASM heap allows about 100 instances, so each sending endpoint owns one.
 */
export function sharedOpusEncoder(): OpusScript {
  sharedEncoder ??= new OpusScript(OPUS_SAMPLE_RATE, 1, OpusScript.Application.AUDIO);
  return sharedEncoder;
}

/** Encodes one 20 ms mono frame of 16-bit PCM. */
export function encodeOpusFrame(pcm: Int16Array): Buffer {
  if (pcm.length !== OPUS_FRAME_SAMPLES) throw new Error(`Opus frame must be ${OPUS_FRAME_SAMPLES} samples`);
  return sharedOpusEncoder().encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), OPUS_FRAME_SAMPLES);
}

/** A mono Opus encoder for one stream. */
export class OpusEncoder {
  readonly #codec = new OpusScript(OPUS_SAMPLE_RATE, 1, OpusScript.Application.AUDIO);
  #deleted = false;

  encode(pcm: Int16Array): Buffer {
    if (pcm.length !== OPUS_FRAME_SAMPLES) throw new Error(`Opus frame must be ${OPUS_FRAME_SAMPLES} samples`);
    return this.#codec.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), OPUS_FRAME_SAMPLES);
  }

  delete(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    this.#codec.delete();
  }
}

/** A mono Opus decoder; each received stream needs its own (decoding is stateful). */
export class OpusDecoder {
  readonly #codec = new OpusScript(OPUS_SAMPLE_RATE, 1, OpusScript.Application.AUDIO);
  #deleted = false;

  decode(payload: Buffer): Int16Array {
    const pcm = this.#codec.decode(payload);
    // Copy: the Buffer may start at an odd offset in its pool, which Int16Array cannot view.
    const samples = new Int16Array(pcm.length / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = pcm.readInt16LE(i * 2);
    return samples;
  }

  delete(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    this.#codec.delete();
  }
}

/** A continuous sine, frame after frame (the phase carries over between frames). */
export class SineGenerator {
  #sampleIndex = 0;
  constructor(
    public frequency: number,
    /** Peak amplitude, 0..1 of full scale. */
    public amplitude = 0.3,
  ) {}

  nextFrame(samples = OPUS_FRAME_SAMPLES): Int16Array {
    const frame = new Int16Array(samples);
    const step = (2 * Math.PI * this.frequency) / OPUS_SAMPLE_RATE;
    for (let i = 0; i < samples; i++) {
      frame[i] = Math.round(Math.sin(step * (this.#sampleIndex + i)) * this.amplitude * 32767);
    }
    this.#sampleIndex += samples;
    return frame;
  }
}

export interface PlainRtpEndpointOptions {
  /** Local address to bind; Janus must be able to reach it. Default 127.0.0.1. */
  host?: string;
  /** Local port. Default: any free port. */
  port?: number;
  payloadType?: number;
  /** Decode received Opus into PCM ('audio' events). Default true. */
  decode?: boolean;
}

export type PlainRtpEndpointEvents = {
  /** A decoded 20 ms frame of the received stream. */
  audio: [pcm: Int16Array, packet: RtpPacket];
  packet: [packet: RtpPacket];
};

/**
 * A plain-RTP participant: announce `offer` in an AudioBridge join (or as an rtp_forward target),
 * `connect()` to Janus's answer, then `start()`. Janus sends nothing until it got a packet from
 * us, and accepts packets only from the announced port, so we send from the port we receive on.
 */
export class PlainRtpEndpoint extends TypedEmitter<PlainRtpEndpointEvents> {
  readonly #socket: Socket;
  readonly #payloadType: number;
  readonly #decoder: OpusDecoder | undefined;
  readonly #ssrc = randomInt(1, 2 ** 31);
  #sequence = randomInt(0, 0xffff);
  #timestamp = randomInt(0, 2 ** 31);
  #remote: { ip: string; port: number } | undefined;
  #sender: NodeJS.Timeout | undefined;
  #tone: SineGenerator | undefined;
  #closed = false;
  #encoder: OpusEncoder | undefined;
  packetsSent = 0;
  packetsReceived = 0;

  private constructor(
    socket: Socket,
    readonly host: string,
    readonly port: number,
    options: PlainRtpEndpointOptions,
  ) {
    super();
    this.#socket = socket;
    this.#payloadType = options.payloadType ?? DEFAULT_OPUS_PAYLOAD_TYPE;
    this.#decoder = options.decode === false ? undefined : new OpusDecoder();
    socket.on('message', (data) => this.#receive(data));
  }

  static async open(options: PlainRtpEndpointOptions = {}): Promise<PlainRtpEndpoint> {
    const host = options.host ?? '127.0.0.1';
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new PlainRtpEndpoint(socket, host, socket.address().port, options);
  }

  /** What to put in an AudioBridge join's `rtp`. */
  get offer(): PlainRtpOffer {
    return { ip: this.host, port: this.port, payload_type: this.#payloadType };
  }

  /** Where to send: Janus's side from the join answer. */
  connect(remote: PlainRtpAnswer): void {
    this.#remote = { ip: remote.ip, port: remote.port };
  }

  /** Sends a sine of `frequency` Hz from now on; null sends silence. */
  setTone(frequency: number | null, amplitude = 0.3): void {
    this.#tone = frequency === null ? undefined : new SineGenerator(frequency, amplitude);
  }

  /** Starts sending one Opus frame every 20 ms (tone or silence). */
  start(): void {
    if (this.#sender || this.#closed) return;
    if (!this.#remote) throw new Error('PlainRtpEndpoint: connect() to Janus before start()');
    const startedAt = performance.now();
    let framesSent = 0;
    const tick = () => {
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

  stop(): void {
    clearTimeout(this.#sender);
    this.#sender = undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stop();
    this.removeAllListeners();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    this.#decoder?.delete();
    this.#encoder?.delete();
  }

  #sendFrame() {
    const pcm = this.#tone ? this.#tone.nextFrame() : new Int16Array(OPUS_FRAME_SAMPLES);
    const packet = encodeRtpPacket({
      payloadType: this.#payloadType,
      marker: this.packetsSent === 0,
      sequence: this.#sequence,
      timestamp: this.#timestamp,
      ssrc: this.#ssrc,
      payload: (this.#encoder ??= new OpusEncoder()).encode(pcm),
    });
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#timestamp = (this.#timestamp + OPUS_FRAME_SAMPLES) >>> 0;
    this.#socket.send(packet, this.#remote!.port, this.#remote!.ip);
    this.packetsSent++;
  }

  #receive(data: Buffer) {
    const packet = parseRtpPacket(data);
    if (!packet) return;
    this.packetsReceived++;
    this.emit('packet', packet);
    if (!this.#decoder || packet.payload.length === 0) return;
    try {
      this.emit('audio', this.#decoder.decode(packet.payload), packet);
    } catch {
      // A corrupt packet is dropped, as a real client would.
    }
  }
}
