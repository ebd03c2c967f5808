/** Small wording helpers shared by the screens. */

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

/**
 * "in 5 minutes" within the hour, else the viewer's clock and zone in running text: "today at
 * 20:00 CET", "tomorrow at 09:30 EST", "Sat 5 Dec at 18:00 CET" (see scheduledTime).
 */
export function when(iso: string, now: Date = new Date(), timeZone?: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const minutes = Math.round((at.getTime() - now.getTime()) / 60_000);
  if (minutes >= 0 && minutes < 60) return minutes <= 1 ? 'in a minute' : `in ${minutes} minutes`;
  const text = scheduledTime(iso, { now, timeZone });
  return text.startsWith('Today') || text.startsWith('Tomorrow') ? text[0]!.toLowerCase() + text.slice(1) : text;
}

/** A `datetime-local` value for a Date (local time, minutes). */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The parts of an instant as a wall clock in `timeZone` shows it (the day, for "today"/"tomorrow"). */
function dayKey(at: Date, timeZone: string | undefined): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** The zone's short name: "CET" (British English names Europe's), "EST" (American English names America's), else "GMT+9". */
function zoneName(at: Date, timeZone: string): string {
  const name = (locale: string) =>
    new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: 'short' }).formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? '';
  const british = name('en-GB');
  return /^GMT[+-]/.test(british) ? name('en-US') : british;
}

export interface ZonedOptions {
  now?: Date;
  /** An IANA zone; default the browser's own (what the viewer's clock shows). */
  timeZone?: string;
  locale?: string;
}

/**
 * When a scheduled space starts, in the viewer's timezone and with the zone's short name, so
 * people in different places read their own clock: "Today at 20:00 CET", "Tomorrow at 09:30
 * GMT+2", "Sat 5 Dec at 18:00 EST". A 24-hour clock: it never needs an am/pm guess.
 */
export function scheduledTime(iso: string, { now = new Date(), timeZone, locale = 'en-GB' }: ZonedOptions = {}): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const zone = timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const parts = new Intl.DateTimeFormat(locale, {
    timeZone: zone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).formatToParts(at);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  const clock = `${part('hour')}:${part('minute')} ${zoneName(at, zone)}`.trim();
  const day = dayKey(at, zone);
  if (day === dayKey(now, zone)) return `Today at ${clock}`;
  if (day === dayKey(new Date(now.getTime() + 86_400_000), zone)) return `Tomorrow at ${clock}`;
  const date = new Intl.DateTimeFormat(locale, { timeZone: zone, weekday: 'short', day: 'numeric', month: 'short' }).format(at);
  return `${date} at ${clock}`;
}

/** "20:00" in the viewer's zone: the short label under a "soon" bubble. */
export function clockTime(iso: string, { timeZone, locale = 'en-GB' }: ZonedOptions = {}): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  return new Intl.DateTimeFormat(locale, { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
}

/** "just now", "5 min ago", "3 h ago", "2 d ago": how old a notification is. */
export function ago(iso: string, now: Date = new Date()): string {
  const seconds = Math.max(0, Math.round((now.getTime() - new Date(iso).getTime()) / 1000));
  if (!Number.isFinite(seconds)) return '';
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

/** "30 Nov 2026": the day something happened or ends (tokens' created and expiry dates). */
export function calendarDay(iso: string, { timeZone, locale = 'en-GB' }: ZonedOptions = {}): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  return new Intl.DateTimeFormat(locale, { timeZone, day: 'numeric', month: 'short', year: 'numeric' }).format(at);
}
