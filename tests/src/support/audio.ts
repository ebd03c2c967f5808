import { OPUS_SAMPLE_RATE, ToneDetector } from '@spaces/janus/testing';

/**
 * Tones for tests sit on whole 50 Hz bins of a 20 ms frame (whole periods per frame), so a
 * Goertzel filter at one of them sees ~nothing of the others: several speakers can be told apart
 * in one mix. Off-bin tones (e.g. 440 Hz) leak into neighbouring frequencies and fool it.
 */
export const TONES = { host: 400, listener: 600, speaker: 800, other: 1000, more: 1200 } as const;
/** Compared against: a bin no test tone uses. */
const REFERENCE_HZ = 1950;

/** Anything that emits decoded 20 ms frames: a PlainRtpEndpoint or a WebRtcAudioClient. */
export interface AudioSource {
  on(event: 'audio', listener: (pcm: Int16Array) => void): unknown;
}

/**
 * "Is this tone in what this participant hears?", frame by frame (a Goertzel filter on the
 * decoded mix). Several probes can listen to one source. Use tones on whole 50 Hz bins (TONES).
 */
export class ToneProbe {
  private readonly detector: ToneDetector;
  private recent: boolean[] = [];
  private waiters = new Set<() => void>();

  constructor(source: AudioSource, readonly frequency: number) {
    if (frequency % 50 !== 0) throw new Error(`ToneProbe: ${frequency} Hz is off the 50 Hz bins and would leak`);
    this.detector = new ToneDetector({ sampleRate: OPUS_SAMPLE_RATE, frequency, referenceFrequency: REFERENCE_HZ });
    source.on('audio', (pcm: Int16Array) => {
      this.recent.push(this.detector.process(pcm).detected);
      if (this.recent.length > 200) this.recent.shift();
      for (const w of this.waiters) w();
    });
  }

  /** Resolves (with the ms it took) once `consecutive` frames in a row agree the tone is (not) there. */
  waitFor(present: boolean, { consecutive = 15, timeoutMs = 4000 } = {}): Promise<number> {
    const startedAt = performance.now();
    this.recent = [];
    return new Promise((resolve, reject) => {
      const check = () => {
        const tail = this.recent.slice(-consecutive);
        if (tail.length === consecutive && tail.every((d) => d === present)) {
          done();
          resolve(Math.round(performance.now() - startedAt));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.frequency} Hz ${present ? 'never became audible' : 'never went silent'} in ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Share of frames with the tone over the next `ms` (0 when no frame arrived). */
  async fractionOver(ms: number): Promise<number> {
    this.recent = [];
    await new Promise((r) => setTimeout(r, ms));
    return this.recent.length === 0 ? 0 : this.recent.filter(Boolean).length / this.recent.length;
  }

  /** Frames decoded during the last fractionOver/waitFor window. */
  get framesSeen(): number {
    return this.recent.length;
  }
}
