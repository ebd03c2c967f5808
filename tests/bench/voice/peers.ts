/**
 * Plain-RTP peers for the voice benchmark (bench/voice.ts), on raw UDP sockets so that the send
 * and receive instants are ours to note:
 *   - ToneBurstSender: a speaker that sends silence, then a tone from a known frame, over and over,
 *     and notes when it sent the first tone frame of each burst;
 *   - OnsetListener: a listener that sends silence (Janus sends nothing to a plain-RTP participant
 *     it has not heard from), decodes what it gets and notes when a tone onset arrives;
 *   - SilentPeer: a listener that only sends silence and counts what it gets (no decoder: the
 *     WASM Opus of opusscript allows about 100 instances per process);
 *   - UdpRelay: the baseline, a Node relay from the speaker to the listener.
 * Times are performance.now() (CLOCK_MONOTONIC) of this process.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import {
  DEFAULT_OPUS_PAYLOAD_TYPE,
  OPUS_FRAME_MS,
  OPUS_FRAME_SAMPLES,
  OPUS_SAMPLE_RATE,
  OpusDecoder,
  OpusEncoder,
  SineGenerator,
  ToneDetector,
  encodeRtpPacket,
  parseRtpPacket,
  type PlainRtpAnswer,
  type PlainRtpOffer,
} from '@spaces/janus';

export const HOST = '127.0.0.1';
/** On a whole 50 Hz bin of a 20 ms frame, so the Goertzel filter sees no leakage (see tests/src/support/audio.ts). */
export const TONE_HZ = 1000;
/** A bin the tone does not touch, compared against. */
const REFERENCE_HZ = 1950;

export async function bindUdp(host = HOST): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/** Sequence number, timestamp and SSRC of one outgoing RTP stream. */
class RtpStream {
  readonly ssrc = randomInt(1, 2 ** 31);
  #sequence = randomInt(0, 0xffff);
  #timestamp = randomInt(0, 2 ** 31);
  #first = true;

  packet(payload: Buffer): Buffer {
    const packet = encodeRtpPacket({
      payloadType: DEFAULT_OPUS_PAYLOAD_TYPE,
      marker: this.#first,
      sequence: this.#sequence,
      timestamp: this.#timestamp,
      ssrc: this.ssrc,
      payload,
    });
    this.#first = false;
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#timestamp = (this.#timestamp + OPUS_FRAME_SAMPLES) >>> 0;
    return packet;
  }
}

let silence: Buffer | undefined;
/** One Opus frame of digital silence, encoded once (a steady-state frame, not the first). */
export function silentOpusFrame(): Buffer {
  if (!silence) {
    const encoder = new OpusEncoder();
    try {
      for (let i = 0; i < 10; i++) silence = encoder.encode(new Int16Array(OPUS_FRAME_SAMPLES));
    } finally {
      encoder.delete();
    }
  }
  return silence!;
}

/**
 * Calls `tick(frameIndex)` for frame 0, 1, 2, … at `startedAt + index × 20 ms + offset(index)`,
 * catching up on late timer wake-ups (never more than 5 frames at once).
 */
class Metronome {
  #timer: NodeJS.Timeout | undefined;
  #next = 0;
  #startedAt = 0;
  #stopped = false;

  constructor(
    private readonly tick: (index: number) => void,
    private readonly offsetMs: (index: number) => number = () => 0,
  ) {}

  start() {
    this.#startedAt = performance.now();
    this.#run();
  }

  #due(index: number) {
    return this.#startedAt + index * OPUS_FRAME_MS + this.offsetMs(index);
  }

  #run() {
    if (this.#stopped) return;
    const now = performance.now();
    let sent = 0;
    while (this.#due(this.#next) <= now + 0.25) {
      if (sent >= 5) {
        // Far behind (a long pause of the event loop): skip ahead rather than burst.
        while (this.#due(this.#next) <= now) this.#next++;
        break;
      }
      this.tick(this.#next++);
      sent++;
    }
    this.#timer = setTimeout(() => this.#run(), Math.max(0, this.#due(this.#next) - performance.now()));
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

export interface BurstPlan {
  bursts: number;
  /** Silence before the first burst (lets the room's prebuffer fill). */
  leadFrames: number;
  /** Each burst: this much silence, then the tone. */
  silenceFrames: number;
  toneFrames: number;
  /**
   * Shift the send schedule by a random 0–19 ms at the start of each burst's silence, so that
   * the onsets fall at every phase of the mixer's 20 ms clock instead of one fixed phase per run.
   * To Janus this looks like ordinary network jitter (one short or long gap per burst).
   */
  randomPhase: boolean;
}

/** A speaker sending tone bursts from its own socket and Opus encoder. */
export class ToneBurstSender {
  readonly #stream = new RtpStream();
  readonly #encoder = new OpusEncoder();
  #remote: PlainRtpAnswer | undefined;
  #metronome: Metronome | undefined;
  #closed = false;
  /** Per burst: performance.now() when its first tone frame was handed to the socket. */
  onsetSentAt: number[] = [];
  packetsSent = 0;
  /** After the plan (or without one): 'silence' or a steady 'tone'. */
  after: 'silence' | 'tone' = 'silence';

  private constructor(readonly socket: Socket) {
    // Janus sends this participant the mix of the others; nobody reads it.
    socket.on('message', () => {});
  }

  static async open(): Promise<ToneBurstSender> {
    return new ToneBurstSender(await bindUdp());
  }

  get offer(): PlainRtpOffer {
    return { ip: HOST, port: this.socket.address().port, payload_type: DEFAULT_OPUS_PAYLOAD_TYPE };
  }

  connect(remote: PlainRtpAnswer) {
    this.#remote = remote;
  }

  /** Starts sending; resolves once the last burst's tone has been sent. */
  play(plan: BurstPlan): Promise<void> {
    if (!this.#remote) throw new Error('ToneBurstSender: connect() first');
    this.#metronome?.stop();
    this.onsetSentAt = [];
    const period = plan.silenceFrames + plan.toneFrames;
    const planFrames = plan.leadFrames + plan.bursts * period;
    const phases = Array.from({ length: plan.bursts }, () => (plan.randomPhase ? Math.random() * OPUS_FRAME_MS : 0));
    const burstOf = (index: number) => Math.floor((index - plan.leadFrames) / period);
    let tone: SineGenerator | undefined;
    let finish: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    this.#metronome = new Metronome(
      (index) => {
        let pcm: Int16Array;
        let onsetOf: number | undefined;
        if (index < plan.leadFrames) pcm = new Int16Array(OPUS_FRAME_SAMPLES);
        else if (index < planFrames) {
          const inBurst = (index - plan.leadFrames) % period;
          if (inBurst < plan.silenceFrames) {
            tone = undefined;
            pcm = new Int16Array(OPUS_FRAME_SAMPLES);
          } else {
            // Each burst starts its sine at phase 0, on the first sample of the frame.
            if (inBurst === plan.silenceFrames) {
              tone = new SineGenerator(TONE_HZ, 0.3);
              onsetOf = burstOf(index);
            }
            pcm = tone!.nextFrame();
          }
        } else if (this.after === 'tone') pcm = (tone ??= new SineGenerator(TONE_HZ, 0.3)).nextFrame();
        else pcm = new Int16Array(OPUS_FRAME_SAMPLES);
        const sentAt = this.#send(pcm);
        if (onsetOf !== undefined) this.onsetSentAt[onsetOf] = sentAt;
        if (index === planFrames - 1) queueMicrotask(finish);
      },
      (index) => (index < plan.leadFrames ? 0 : (phases[Math.min(plan.bursts - 1, burstOf(index))] ?? 0)),
    );
    this.#metronome.start();
    return finished;
  }

  /** Encodes and sends one frame; returns the instant it was handed to the socket. */
  #send(pcm: Int16Array): number {
    const packet = this.#stream.packet(this.#encoder.encode(pcm));
    const at = performance.now();
    if (this.#closed || !this.#remote) return at;
    this.socket.send(packet, this.#remote.port, this.#remote.ip);
    this.packetsSent++;
    return at;
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#metronome?.stop();
    await closeSocket(this.socket);
    this.#encoder.delete();
  }
}

export interface Onset {
  /** performance.now() when the packet arrived (noted before decoding). */
  at: number;
  amplitude: number;
}

/**
 * A listener that decodes what it receives and notes tone onsets: a frame with the tone after at
 * least `quietFrames` frames without it. Sends silence every 20 ms once connected.
 */
export class OnsetListener {
  readonly #stream = new RtpStream();
  readonly #decoder = new OpusDecoder();
  readonly #detector: ToneDetector;
  #metronome: Metronome | undefined;
  #remote: PlainRtpAnswer | undefined;
  #quiet = 0;
  #closed = false;
  #waiters: (() => void)[] = [];
  onsets: Onset[] = [];
  packets = 0;
  frames = 0;
  toneFrames = 0;
  firstPacketAt: number | undefined;
  firstToneAt: number | undefined;

  private constructor(
    readonly socket: Socket,
    readonly quietFrames: number,
  ) {
    // Half the amplitude a whole tone frame carries: the onset frame (tone in part of it, after
    // the codecs' look-ahead) still counts, a frame with only a tail of it does not.
    this.#detector = new ToneDetector({ sampleRate: OPUS_SAMPLE_RATE, frequency: TONE_HZ, referenceFrequency: REFERENCE_HZ, minAmplitude: 1500 });
    socket.on('message', (data) => this.#receive(data));
  }

  static async open(options: { quietFrames?: number } = {}): Promise<OnsetListener> {
    return new OnsetListener(await bindUdp(), options.quietFrames ?? 5);
  }

  get offer(): PlainRtpOffer {
    return { ip: HOST, port: this.socket.address().port, payload_type: DEFAULT_OPUS_PAYLOAD_TYPE };
  }

  /** Where to send; starts sending silence there, the first packet at once. */
  connect(remote: PlainRtpAnswer, sendSilence = true) {
    this.#remote = remote;
    if (!sendSilence) return;
    this.#metronome = new Metronome(() => {
      if (this.#closed) return;
      this.socket.send(this.#stream.packet(silentOpusFrame()), this.#remote!.port, this.#remote!.ip);
    });
    this.#metronome.start();
  }

  #receive(data: Buffer) {
    const at = performance.now();
    const packet = parseRtpPacket(data);
    if (!packet) return;
    this.packets++;
    this.firstPacketAt ??= at;
    if (packet.payload.length === 0) return;
    let pcm: Int16Array;
    try {
      pcm = this.#decoder.decode(packet.payload);
    } catch {
      return;
    }
    this.frames++;
    const result = this.#detector.process(pcm);
    if (result.detected) {
      this.toneFrames++;
      this.firstToneAt ??= at;
      if (this.#quiet >= this.quietFrames) this.onsets.push({ at, amplitude: result.amplitude });
      this.#quiet = 0;
    } else this.#quiet++;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once `ready()` holds (checked on each packet), or rejects after `timeoutMs`. */
  until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check);
        reject(new Error(`${what}: not within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (ready()) {
          clearTimeout(timer);
          resolve();
        } else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#metronome?.stop();
    for (const wake of this.#waiters.splice(0)) wake();
    await closeSocket(this.socket);
    this.#decoder.delete();
  }
}

/** A listener that only sends silence and counts the packets it gets; driven by SilentCrowd. */
export class SilentPeer {
  readonly #stream = new RtpStream();
  remote: PlainRtpAnswer | undefined;
  packets = 0;

  private constructor(readonly socket: Socket) {
    socket.on('message', () => this.packets++);
  }

  static async open(): Promise<SilentPeer> {
    return new SilentPeer(await bindUdp());
  }

  get offer(): PlainRtpOffer {
    return { ip: HOST, port: this.socket.address().port, payload_type: DEFAULT_OPUS_PAYLOAD_TYPE };
  }

  sendSilence() {
    if (this.remote) this.socket.send(this.#stream.packet(silentOpusFrame()), this.remote.port, this.remote.ip);
  }

  close() {
    return closeSocket(this.socket);
  }
}

/** Many silent peers on one 20 ms clock. */
export class SilentCrowd {
  readonly peers: SilentPeer[] = [];
  #metronome: Metronome | undefined;

  start() {
    this.#metronome ??= new Metronome(() => {
      for (const peer of this.peers) peer.sendSilence();
    });
    this.#metronome.start();
  }

  packets() {
    return this.peers.reduce((sum, p) => sum + p.packets, 0);
  }

  async close() {
    this.#metronome?.stop();
    await Promise.all(this.peers.map((p) => p.close()));
  }
}

/** The baseline: forwards every packet from anyone but the listener to the listener, at once. */
export class UdpRelay {
  forwarded = 0;
  #target: { ip: string; port: number } | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('message', (data, from) => {
      const target = this.#target;
      if (!target || (from.port === target.port && from.address === target.ip)) return;
      socket.send(data, target.port, target.ip);
      this.forwarded++;
    });
  }

  static async open(): Promise<UdpRelay> {
    return new UdpRelay(await bindUdp());
  }

  /** Where the speaker sends (as Janus's answer would say). */
  get address(): PlainRtpAnswer {
    return { ip: HOST, port: this.socket.address().port };
  }

  forwardTo(offer: PlainRtpOffer) {
    this.#target = { ip: offer.ip, port: offer.port };
  }

  close() {
    return closeSocket(this.socket);
  }
}

/** Pairs each burst with the first onset heard within `windowMs` after it was sent. */
export function matchOnsets(sentAt: number[], onsets: Onset[], windowMs: number) {
  const delays: number[] = [];
  let missed = 0;
  for (const sent of sentAt) {
    if (sent === undefined) continue;
    const heard = onsets.find((o) => o.at >= sent && o.at < sent + windowMs);
    if (heard) delays.push(heard.at - sent);
    else missed++;
  }
  return { delays, missed };
}
