/**
 * Goertzel filter: the energy of one frequency in a block of samples, far cheaper than an FFT when
 * only one or two frequencies matter (is the test tone in the mix or not?).
 */

/**
 * Amplitude of `frequency` in `samples`, in the samples' own unit (for a pure sine of amplitude A
 * at that frequency, about A). The frequency need not fall on an FFT bin.
 */
export function toneAmplitude(samples: ArrayLike<number>, sampleRate: number, frequency: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
  let previous = 0;
  let beforePrevious = 0;
  for (let i = 0; i < n; i++) {
    const current = samples[i]! + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  const power = previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
  return (2 * Math.sqrt(Math.max(power, 0))) / n;
}

/** Root mean square of the samples: the frame's total level, to compare a tone's share against. */
export function rms(samples: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return samples.length === 0 ? 0 : Math.sqrt(sum / samples.length);
}

export interface ToneFrameResult {
  /** Amplitude of the target frequency in this frame. */
  amplitude: number;
  /** Amplitude of the reference frequency (a frequency that should hold no tone). */
  referenceAmplitude: number;
  rms: number;
  /** Whether the tone is present: loud enough, and well above the reference frequency. */
  detected: boolean;
}

export interface ToneDetectorOptions {
  sampleRate: number;
  frequency: number;
  /** A frequency compared against, that the signal should not contain. Default 1.5 x frequency + 50. */
  referenceFrequency?: number;
  /** Minimum amplitude (sample units) for a detection. Default 1000 (of 32767). */
  minAmplitude?: number;
  /** How many times the reference amplitude the target must reach. Default 4. */
  minRatio?: number;
}

/** Frame-by-frame tone detection with running statistics over a measuring window. */
export class ToneDetector {
  readonly sampleRate: number;
  readonly frequency: number;
  readonly referenceFrequency: number;
  readonly minAmplitude: number;
  readonly minRatio: number;
  #frames = 0;
  #detected = 0;
  #amplitudeSum = 0;
  #referenceSum = 0;

  constructor(options: ToneDetectorOptions) {
    this.sampleRate = options.sampleRate;
    this.frequency = options.frequency;
    this.referenceFrequency = options.referenceFrequency ?? options.frequency * 1.5 + 50;
    this.minAmplitude = options.minAmplitude ?? 1000;
    this.minRatio = options.minRatio ?? 4;
  }

  process(frame: ArrayLike<number>): ToneFrameResult {
    const amplitude = toneAmplitude(frame, this.sampleRate, this.frequency);
    const referenceAmplitude = toneAmplitude(frame, this.sampleRate, this.referenceFrequency);
    const detected = amplitude >= this.minAmplitude && amplitude >= this.minRatio * referenceAmplitude;
    this.#frames++;
    if (detected) this.#detected++;
    this.#amplitudeSum += amplitude;
    this.#referenceSum += referenceAmplitude;
    return { amplitude, referenceAmplitude, rms: rms(frame), detected };
  }

  /** Statistics since the last reset. */
  get stats() {
    const frames = this.#frames;
    return {
      frames,
      /** Share of frames where the tone was detected, 0..1. */
      detectedFraction: frames === 0 ? 0 : this.#detected / frames,
      meanAmplitude: frames === 0 ? 0 : this.#amplitudeSum / frames,
      meanReferenceAmplitude: frames === 0 ? 0 : this.#referenceSum / frames,
    };
  }

  reset(): void {
    this.#frames = 0;
    this.#detected = 0;
    this.#amplitudeSum = 0;
    this.#referenceSum = 0;
  }
}
