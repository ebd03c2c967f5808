import { OPUS_FRAME_MS, OPUS_SAMPLE_RATE, ToneDetector, type PlainRtpEndpoint } from '../src/testing.ts';

export interface ToneWindow {
  frames: number;
  /** Share of frames where the tone was detected, 0..1. */
  detectedFraction: number;
  meanAmplitude: number;
  meanReferenceAmplitude: number;
}

/** Listens to what an endpoint receives and answers "is the tone there?" frame by frame. */
export class ToneProbe {
  readonly detector: ToneDetector;
  #recent: boolean[] = [];
  #waiters = new Set<() => void>();

  constructor(endpoint: PlainRtpEndpoint, frequency: number) {
    this.detector = new ToneDetector({ sampleRate: OPUS_SAMPLE_RATE, frequency });
    endpoint.on('audio', (pcm) => {
      this.#recent.push(this.detector.process(pcm).detected);
      if (this.#recent.length > 100) this.#recent.shift();
      for (const waiter of this.#waiters) waiter();
    });
  }

  /**
   * Waits until the last `consecutive` frames all agree the tone is `present`; returns how long
   * that took, in ms. Throws after `timeoutMs`.
   */
  waitFor(present: boolean, { consecutive = 10, timeoutMs = 3000 } = {}): Promise<number> {
    const startedAt = performance.now();
    this.#recent = [];
    return new Promise((resolve, reject) => {
      const check = () => {
        const tail = this.#recent.slice(-consecutive);
        if (tail.length === consecutive && tail.every((detected) => detected === present)) {
          done();
          resolve(Math.round(performance.now() - startedAt));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`tone ${present ? 'never appeared' : 'never went away'} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }

  /** Statistics over the next `ms` milliseconds of received audio. */
  async measure(ms: number): Promise<ToneWindow> {
    this.detector.reset();
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.detector.stats;
  }
}

/** Frames expected in `ms` of audio. */
export const framesIn = (ms: number) => ms / OPUS_FRAME_MS;

/** Ratio in decibels, floored so that digital silence (0) stays finite. */
export const decibels = (signal: number, baseline: number) => 20 * Math.log10(Math.max(signal, 1e-3) / Math.max(baseline, 1e-3));
