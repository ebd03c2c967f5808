/**
 * One policy for every user-written text (names, titles): what others see must be what was
 * meant. Text is normalized to NFC and whitespace runs collapse to one space; control characters
 * are refused; bidirectional controls and invisible characters that can disguise text are
 * refused too — except the zero-width joiner inside an emoji sequence (👩‍💻), which is how
 * those emoji are written.
 */

export type TextVerdict = { ok: true; text: string } | { ok: false; reason: string };

// C0 and C1 controls, DEL. (Tabs and newlines are whitespace in single-line fields: collapsed first.)
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u;
// Bidi embeddings, overrides, isolates and marks; Arabic letter mark.
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/u;
// Invisible or blank-looking characters used to spoof: zero-width space/non-joiner, word joiner
// and invisible operators, BOM, soft hyphen, Mongolian vowel separator, Hangul fillers,
// combining grapheme joiner, tag characters, interlinear annotation, object replacement.
const INVISIBLE = /[\u200b\u200c\u2060-\u2064\ufeff\u00ad\u180e\u115f\u1160\u3164\uffa0\u{e0000}-\u{e007f}\ufff9-\ufffb]|\u034f/u;
/** A zero-width joiner is fine between two pictographs (an emoji sequence), nowhere else. */
const LONE_ZWJ = /(?<!\p{Extended_Pictographic}(?:\ufe0f|\p{Emoji_Modifier})?)\u200d|\u200d(?!\p{Extended_Pictographic})/u;

/** Checks and normalizes one line of user text, `min`–`max` characters (code points). */
export function cleanLine(raw: string, { min = 1, max }: { min?: number; max: number }): TextVerdict {
  const text = raw.normalize('NFC').replace(/[\s\u0085]+/gu, ' ').trim();
  if (CONTROL.test(text)) return { ok: false, reason: 'must not contain control characters' };
  if (BIDI.test(text)) return { ok: false, reason: 'must not contain bidirectional control characters' };
  if (INVISIBLE.test(text) || LONE_ZWJ.test(text)) return { ok: false, reason: 'must not contain invisible characters' };
  const length = [...text].length;
  if (length < min) return { ok: false, reason: min === 1 ? 'must not be empty' : `must be at least ${min} characters` };
  if (length > max) return { ok: false, reason: `must be at most ${max} characters` };
  return { ok: true, text };
}
