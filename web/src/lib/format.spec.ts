import { describe, expect, it } from 'vitest';
import { ago, clockTime, scheduledTime, when } from './format';

describe('scheduledTime', () => {
  // 19:00 UTC on Tue 1 Dec 2026: 20:00 in Berlin, 14:00 in New York, 04:00 next day in Tokyo.
  const at = '2026-12-01T19:00:00.000Z';

  it("says the day and time on the viewer's clock, with the zone's short name", () => {
    const now = new Date('2026-12-01T08:00:00.000Z');
    expect(scheduledTime(at, { now, timeZone: 'Europe/Berlin' })).toBe('Today at 20:00 CET');
    expect(scheduledTime(at, { now, timeZone: 'America/New_York' })).toBe('Today at 14:00 EST');
    // Already the next day in Tokyo.
    expect(scheduledTime(at, { now, timeZone: 'Asia/Tokyo' })).toBe('Tomorrow at 04:00 GMT+9');
  });

  it('says "Tomorrow" by the calendar of the zone, and a date further out', () => {
    expect(scheduledTime(at, { now: new Date('2026-11-30T22:30:00.000Z'), timeZone: 'UTC' })).toBe('Tomorrow at 19:00 UTC');
    // 23:30 on 30 Nov in London is already 1 Dec in Berlin: "Today" there.
    expect(scheduledTime(at, { now: new Date('2026-11-30T23:30:00.000Z'), timeZone: 'Europe/Berlin' })).toBe('Today at 20:00 CET');
    expect(scheduledTime(at, { now: new Date('2026-11-27T10:00:00.000Z'), timeZone: 'Europe/Berlin' })).toBe('Tue 1 Dec at 20:00 CET');
  });

  it('is empty for something that is not a time', () => {
    expect(scheduledTime('not a date')).toBe('');
  });
});

describe('clockTime and ago', () => {
  it('shows a 24-hour clock in the zone', () => {
    expect(clockTime('2026-12-01T19:05:00.000Z', { timeZone: 'Europe/Berlin' })).toBe('20:05');
  });
  it('says how long ago', () => {
    const now = new Date('2026-12-01T12:00:00.000Z');
    expect(ago('2026-12-01T11:59:30.000Z', now)).toBe('just now');
    expect(ago('2026-12-01T11:55:00.000Z', now)).toBe('5 min ago');
    expect(ago('2026-12-01T09:00:00.000Z', now)).toBe('3 h ago');
    expect(ago('2026-11-29T12:00:00.000Z', now)).toBe('2 d ago');
  });
});

describe('when', () => {
  const now = new Date('2026-12-01T08:00:00.000Z');
  it('counts minutes within the hour, and gives the zoned time in running text after', () => {
    expect(when('2026-12-01T08:20:00.000Z', now)).toBe('in 20 minutes');
    expect(when('2026-12-01T19:00:00.000Z', now, 'Europe/Berlin')).toBe('today at 20:00 CET');
    expect(when('2026-12-02T19:00:00.000Z', now, 'America/New_York')).toBe('tomorrow at 14:00 EST');
    expect(when('2026-12-05T19:00:00.000Z', now, 'Europe/Berlin')).toBe('Sat 5 Dec at 20:00 CET');
  });
});
