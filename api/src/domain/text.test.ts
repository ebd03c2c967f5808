import { describe, expect, it } from 'vitest';
import { cleanLine } from './text.ts';

const clean = (s: string) => cleanLine(s, { max: 20 });

describe('cleanLine', () => {
  it('normalizes to NFC and collapses whitespace', () => {
    expect(clean('  Cafe\u0301 \t\n talk ')).toEqual({ ok: true, text: 'Café talk' });
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['ESC', 'a\u001b[31mb'],
    ['BEL', 'a\u0007b'],
    ['DEL', 'a\u007fb'],
    ['C1', 'a\u0085b\u009b'],
  ])('refuses control characters (%s)', (_name, text) => {
    expect(clean(text)).toMatchObject({ ok: false, reason: expect.stringContaining('control') });
  });

  it.each([
    ['right-to-left override', 'abc\u202Etxt.exe'],
    ['left-to-right embedding', '\u202Aabc'],
    ['isolate', 'a\u2067b\u2069'],
    ['RLM', 'a\u200Fb'],
    ['Arabic letter mark', 'a\u061Cb'],
  ])('refuses bidirectional controls (%s)', (_name, text) => {
    expect(clean(text)).toMatchObject({ ok: false, reason: expect.stringContaining('bidirectional') });
  });

  it.each([
    ['zero-width space', 'ad\u200Bmin'],
    ['zero-width non-joiner', 'ad\u200Cmin'],
    ['word joiner', 'ad\u2060min'],
    ['soft hyphen', 'ad\u00ADmin'],
    ['Hangul filler', '\u3164'],
    ['tag characters', 'a\u{E0041}'],
    ['lone zero-width joiner', 'ad\u200Dmin'],
  ])('refuses invisible characters (%s)', (_name, text) => {
    expect(clean(text)).toMatchObject({ ok: false, reason: expect.stringContaining('invisible') });
  });

  it('keeps emoji written with a zero-width joiner, and ordinary scripts', () => {
    for (const text of ['👩‍💻 coding', '🏳️‍🌈', '👨🏽‍🚀 launch', 'مرحبا بالعالم', 'こんにちは', 'Ünïcödé'])
      expect(clean(text)).toEqual({ ok: true, text });
  });

  it('counts code points against the bounds', () => {
    expect(clean('')).toMatchObject({ ok: false, reason: 'must not be empty' });
    expect(clean('   ')).toMatchObject({ ok: false });
    expect(clean('😀'.repeat(20))).toMatchObject({ ok: true });
    expect(clean('😀'.repeat(21))).toMatchObject({ ok: false, reason: 'must be at most 20 characters' });
  });
});
