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
import type { PlainRtpAnswer, PlainRtpOffer } from '@spaces/janus';
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
} from '@spaces/janus/testing';

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
 * Calls `tick(frameIndex, dueAt)` for frame 0, 1, 2, … at `startedAt + index × 20 ms`. After a
 * late timer wake-up it sends every overdue frame at once, as a real client's buffer would:
 * skipping frames would shorten the mixer's queue for good and shift later delays. Only a stall of
 * over a second is skipped.
 */
class Metronome {
  #timer: NodeJS.Timeout | undefined;
  #next = 0;
  #startedAt = 0;
  #stopped = false;

  constructor(private readonly tick: (index: number, dueAt: number) => void) {}

  start() {
    this.#startedAt = performance.now();
    this.#run();
  }

  #due(index: number) {
    return this.#startedAt + index * OPUS_FRAME_MS;
  }

  #run() {
    if (this.#stopped) return;
    const now = performance.now();
    let sent = 0;
    while (this.#due(this.#next) <= now + 0.25) {
      if (sent >= 50) {
        // Far behind (a long pause of the event loop): skip ahead rather than burst.
        while (this.#due(this.#next) <= now) this.#next++;
        break;
      }
      this.tick(this.#next, this.#due(this.#next));
      this.#next++;
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
  /** Silence after the last burst, before play() resolves (its tail reaches the listener). */
  tailFrames: number;
}

/**
 * A speaker sending tone bursts from its own socket and Opus encoder. Several play() calls (one
 * per join) add to the same record; frame indexes run on across them.
 */
export class ToneBurstSender {
  readonly #stream = new RtpStream();
  readonly #encoder = new OpusEncoder();
  #remote: PlainRtpAnswer | undefined;
  #metronome: Metronome | undefined;
  #closed = false;
  /** Per burst: performance.now() when its first tone frame was handed to the socket. */
  onsetSentAt: number[] = [];
  /** Per burst: the (running) frame index of its first tone frame. */
  onsetFrame: number[] = [];
  /** Per burst: the (running) frame index where its play() began (the speaker's join). */
  segmentFrame: number[] = [];
  /** Per burst: performance.now() when its play() began. */
  segmentStartedAt: number[] = [];
  /** Per frame: how late (ms) it left against its schedule (timer lateness, event-loop stalls). */
  frameLateMs: number[] = [];
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

  /** Stops sending (e.g. before joining anew). */
  stop() {
    this.#metronome?.stop();
    this.#metronome = undefined;
  }

  /** Starts sending (its clock starts now); resolves once the plan's tail has been sent. */
  play(plan: BurstPlan): Promise<void> {
    if (!this.#remote) throw new Error('ToneBurstSender: connect() first');
    this.stop();
    const frameBase = this.frameLateMs.length;
    const startedAt = performance.now();
    const burstBase = this.onsetSentAt.length;
    const period = plan.silenceFrames + plan.toneFrames;
    const planFrames = plan.leadFrames + plan.bursts * period;
    let tone: SineGenerator | undefined;
    let finish: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    this.#metronome = new Metronome((index, dueAt) => {
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
            onsetOf = burstBase + Math.floor((index - plan.leadFrames) / period);
          }
          pcm = tone!.nextFrame();
        }
      } else if (this.after === 'tone') pcm = (tone ??= new SineGenerator(TONE_HZ, 0.3)).nextFrame();
      else {
        tone = undefined;
        pcm = new Int16Array(OPUS_FRAME_SAMPLES);
      }
      const sentAt = this.#send(pcm);
      this.frameLateMs[frameBase + index] = sentAt - dueAt;
      if (onsetOf !== undefined) {
        this.onsetSentAt[onsetOf] = sentAt;
        this.onsetFrame[onsetOf] = frameBase + index;
        this.segmentFrame[onsetOf] = frameBase;
        this.segmentStartedAt[onsetOf] = startedAt;
      }
      if (index === planFrames + plan.tailFrames - 1) queueMicrotask(finish);
    });
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
    this.stop();
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
  /** Arrival of every frame with the tone. */
  toneFrameTimes: number[] = [];
  /** Arrival of every packet. */
  packetTimes: number[] = [];
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
    this.packetTimes.push(at);
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
      this.toneFrameTimes.push(at);
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

/**
 * Pairs each burst with the first onset heard within `windowMs` after it was sent, and leaves a
 * burst out when, between the start of its segment (the speaker's join) and the onset's arrival:
 *   - this process stalled (a frame left more than `maxLateMs` behind schedule): a stall delays
 *     our receive callback (a delay too long), or our sending, and the catch-up that follows
 *     changes the mixer's queue (AudioBridge trims a queue that reaches 2 × prebuffering);
 *   - or the mixer's output stalled (two packets to the listener more than `maxGapMs` apart):
 *     AudioBridge's mixer thread then runs its missed ticks back to back, drains the speaker's
 *     queue, and that participant has less buffer (less delay) until it joins again.
 * Both come from other load on the machine; they are counted and reported, not mixed in.
 */
export function matchOnsets(
  sender: Pick<ToneBurstSender, 'onsetSentAt' | 'onsetFrame' | 'segmentFrame' | 'segmentStartedAt' | 'frameLateMs'>,
  listener: Pick<OnsetListener, 'onsets' | 'toneFrameTimes' | 'packetTimes'>,
  windowMs: number,
  { maxLateMs = 4, maxGapMs = 45 } = {},
) {
  const delays: number[] = [];
  /** Per burst: frames with the tone heard while it played (a dropped frame lowers it). */
  const toneFrames: number[] = [];
  const details: { burst: number; lateMs: number; gapMs: number; delayMs: number | undefined }[] = [];
  let missed = 0;
  let stalled = 0;
  let mixerStalled = 0;
  sender.onsetSentAt.forEach((sent, burst) => {
    const heard = listener.onsets.find((o) => o.at >= sent && o.at < sent + windowMs);
    const onset = sender.onsetFrame[burst]!;
    const last = onset + Math.ceil((heard ? heard.at - sent : windowMs) / OPUS_FRAME_MS) + 1;
    // A hole is a frame skipped after a stall of over a second.
    const lateMs = Math.max(...Array.from(sender.frameLateMs.slice(sender.segmentFrame[burst]!, last + 1), (x) => x ?? Infinity));
    // The listener's packets from the segment's start (once the mix flows) to the onset's arrival.
    const from = sender.segmentStartedAt[burst]!;
    const until = heard ? heard.at : sent + windowMs;
    let gapMs = 0;
    let previous: number | undefined;
    for (const t of listener.packetTimes) {
      if (t < from) continue;
      if (t > until) break;
      if (previous !== undefined) gapMs = Math.max(gapMs, t - previous);
      previous = t;
    }
    details.push({ burst, lateMs, gapMs, delayMs: heard ? heard.at - sent : undefined });
    if (lateMs > maxLateMs) stalled++;
    else if (gapMs > maxGapMs) mixerStalled++;
    else if (heard) {
      delays.push(heard.at - sent);
      // The tone lasts `toneFrames` frames; count what arrived from the onset for that long + 1.
      const end = heard.at + windowMs / 2;
      toneFrames.push(listener.toneFrameTimes.filter((t) => t >= heard.at && t < end).length);
    } else missed++;
  });
  return { delays, missed, stalled, mixerStalled, details, toneFrames };
}
