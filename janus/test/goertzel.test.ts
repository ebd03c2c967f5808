import { describe, expect, test } from 'vitest';
import { OpusDecoder, SineGenerator, ToneDetector, encodeOpusFrame, toneAmplitude } from '../src/testing.ts';

describe('Goertzel tone detection', () => {
  test('measures a sine’s amplitude at its frequency and little elsewhere', () => {
    const frame = new SineGenerator(440, 0.5).nextFrame();
    expect(toneAmplitude(frame, 48_000, 440)).toBeCloseTo(0.5 * 32767, -3);
    expect(toneAmplitude(frame, 48_000, 1000)).toBeLessThan(0.05 * 32767);
    expect(toneAmplitude(new Int16Array(960), 48_000, 440)).toBe(0);
  });

  test('detects the tone through an Opus encode/decode round trip, not in silence', () => {
    const detector = new ToneDetector({ sampleRate: 48_000, frequency: 440 });
    const decoder = new OpusDecoder();
    const sine = new SineGenerator(440);
    try {
      for (let i = 0; i < 25; i++) detector.process(decoder.decode(encodeOpusFrame(sine.nextFrame())));
      expect(detector.stats.detectedFraction).toBeGreaterThan(0.9);
      // Opus's look-ahead carries a little of the tone into the next frames.
      for (let i = 0; i < 2; i++) decoder.decode(encodeOpusFrame(new Int16Array(960)));
      detector.reset();
      for (let i = 0; i < 25; i++) detector.process(decoder.decode(encodeOpusFrame(new Int16Array(960))));
      expect(detector.stats.detectedFraction).toBe(0);
      detector.reset();
      const other = new SineGenerator(1000);
      decoder.decode(encodeOpusFrame(other.nextFrame()));
      for (let i = 0; i < 25; i++) detector.process(decoder.decode(encodeOpusFrame(other.nextFrame())));
      expect(detector.stats.detectedFraction).toBe(0);
    } finally {
      decoder.delete();
    }
  });
});
