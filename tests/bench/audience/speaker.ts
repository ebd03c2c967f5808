/**
 * The speaker of the audience benchmark: a plain-RTP AudioBridge participant on 127.0.0.1 that
 * sends 1 kHz tone bursts (10 frames of tone after 15 of silence, every 500 ms) for as long as it
 * runs, and notes when the first tone frame of each burst left its socket. Unlike voice/peers.ts's
 * ToneBurstSender it plays an endless plan and survives any stall of this process: the frame a
 * late tick lands on decides what is sent (a stall on a busy machine skips frames, it never
 * breaks the plan).
 */
import { randomInt } from 'node:crypto';
import type { PlainRtpAnswer, PlainRtpOffer } from '@spaces/janus';
import { DEFAULT_OPUS_PAYLOAD_TYPE, OPUS_FRAME_MS, OPUS_FRAME_SAMPLES, OpusEncoder, SineGenerator, encodeRtpPacket } from '@spaces/janus/testing';
import { bindUdp, HOST, TONE_HZ } from '../voice/peers.ts';
import type { Socket } from 'node:dgram';

const SILENCE_FRAMES = 15;
const TONE_FRAMES = 10;

export class BurstSpeaker {
  readonly #encoder = new OpusEncoder();
  readonly #ssrc = randomInt(1, 2 ** 31);
  #sequence = randomInt(0, 0xffff);
  #timestamp = randomInt(0, 2 ** 31);
  #remote: PlainRtpAnswer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #tone: SineGenerator | undefined;
  #closed = false;
  /** Per burst: performance.now() when its first tone frame was handed to the socket. */
  readonly onsetSentAt: number[] = [];
  /** Per burst: the frame index of its first tone frame. */
  readonly onsetFrame: number[] = [];
  /** Per frame: how late (ms) it left against its schedule (undefined: skipped after a stall). */
  readonly frameLateMs: number[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('message', () => {}); // the mix of the others: nobody reads it
  }

  static async open(): Promise<BurstSpeaker> {
    return new BurstSpeaker(await bindUdp());
  }

  get offer(): PlainRtpOffer {
    return { ip: HOST, port: this.socket.address().port, payload_type: DEFAULT_OPUS_PAYLOAD_TYPE };
  }

  /** Starts sending to Janus's side of the join, one frame every 20 ms. */
  start(remote: PlainRtpAnswer) {
    this.#remote = remote;
    const startedAt = performance.now();
    let next = 0;
    const tick = () => {
      if (this.#closed) return;
      const now = performance.now();
      const due = Math.floor((now - startedAt) / OPUS_FRAME_MS);
      // Catch up on a short lateness as a real client's buffer would; skip a stall over 200 ms.
      if (due - next > 10) next = due - 10;
      while (next <= due) {
        this.#send(next, startedAt + next * OPUS_FRAME_MS);
        next++;
      }
      this.#timer = setTimeout(tick, Math.max(1, startedAt + next * OPUS_FRAME_MS - performance.now()));
    };
    tick();
  }

  #send(index: number, dueAt: number) {
    const inBurst = index % (SILENCE_FRAMES + TONE_FRAMES);
    let pcm: Int16Array;
    if (inBurst < SILENCE_FRAMES) {
      this.#tone = undefined;
      pcm = new Int16Array(OPUS_FRAME_SAMPLES);
    } else {
      // A burst starts its sine at phase 0 on its first frame; after a skipped stall that landed
      // mid-burst, silence until the next burst.
      if (inBurst === SILENCE_FRAMES) this.#tone = new SineGenerator(TONE_HZ, 0.3);
      pcm = this.#tone ? this.#tone.nextFrame() : new Int16Array(OPUS_FRAME_SAMPLES);
    }
    const packet = encodeRtpPacket({
      payloadType: DEFAULT_OPUS_PAYLOAD_TYPE,
      marker: false,
      sequence: this.#sequence,
      timestamp: this.#timestamp,
      ssrc: this.#ssrc,
      payload: this.#encoder.encode(pcm),
    });
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#timestamp = (this.#timestamp + OPUS_FRAME_SAMPLES) >>> 0;
    const sentAt = performance.now();
    if (this.#remote) this.socket.send(packet, this.#remote.port, this.#remote.ip);
    this.frameLateMs[index] = sentAt - dueAt;
    if (inBurst === SILENCE_FRAMES) {
      this.onsetSentAt.push(sentAt);
      this.onsetFrame.push(index);
    }
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    await new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
    this.#encoder.delete();
  }
}
