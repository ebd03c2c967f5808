import { describe, expect, it } from 'vitest';
import type { ScheduledSpaceData, UpcomingSpaceData } from '$lib/graphql/documents';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { ScheduledSpace, UpcomingList } from './scheduled.svelte';

const NOW = Date.parse('2026-06-01T12:00:00Z');

const upcoming = (id: string, extra: Partial<UpcomingSpaceData> = {}): UpcomingSpaceData => ({
  id,
  title: `Space ${id}`,
  state: 'SCHEDULED',
  speakerPolicy: 'EVERYONE',
  scheduledFor: '2026-06-02T18:00:00.000Z',
  startedAt: null,
  participantCount: 0,
  listenerCount: 0,
  host: { id: 'H', handle: 'hana', displayName: 'Hana', avatarUrl: null },
  stage: [],
  cancelled: false,
  viewerHasReminder: false,
  reminderCount: 2,
  ...extra,
});

const scheduledSpace = (extra: Partial<ScheduledSpaceData> = {}): ScheduledSpaceData => ({
  id: 'S1',
  title: 'Jazz talk',
  state: 'SCHEDULED',
  speakerPolicy: 'EVERYONE',
  scheduledFor: '2026-06-02T18:00:00.000Z',
  cancelled: false,
  viewerHasReminder: false,
  reminderCount: 0,
  host: { id: 'H' },
  ...extra,
});

const page = (nodes: UpcomingSpaceData[], endCursor: string | null, hasNextPage: boolean) => ({
  upcomingSpaces: { edges: nodes.map((node) => ({ node })), pageInfo: { endCursor, hasNextPage } },
});

describe('UpcomingList', () => {
  it('pages upcoming spaces without duplicates, leaving cancelled ones out', async () => {
    const api = new FakeApi().on('UpcomingSpaces', (v: Record<string, unknown>) =>
      v.after ? page([upcoming('b'), upcoming('c')], null, false) : page([upcoming('a'), upcoming('b'), upcoming('x', { cancelled: true })], 'c1', true),
    );
    const list = new UpcomingList(api);
    await list.refresh();
    expect(list.items.map((s) => s.id)).toEqual(['a', 'b']);
    await list.loadMore();
    expect(api.callsTo('UpcomingSpaces')[1]?.variables).toEqual({ first: 20, after: 'c1' });
    expect(list.items.map((s) => s.id)).toEqual(['a', 'b', 'c']);
    expect(list.hasMore).toBe(false);
  });

  it('sets a reminder at once, takes the server numbers, and goes back when refused', async () => {
    let refuse = false;
    const api = new FakeApi()
      .on('UpcomingSpaces', page([upcoming('a')], null, false))
      .on('SetReminder', (v: Record<string, unknown>) =>
        refuse ? graphQLError('CONFLICT', 'This space has already started.') : { setReminder: { id: 'a', viewerHasReminder: v.on, reminderCount: 7 } },
      );
    const list = new UpcomingList(api);
    await list.refresh();
    const setting = list.toggleReminder('a');
    expect(list.items[0]).toMatchObject({ viewerHasReminder: true, reminderCount: 3 });
    expect(list.isPending('a')).toBe(true);
    await setting;
    expect(api.callsTo('SetReminder')[0]?.variables).toEqual({ spaceId: 'a', on: true });
    expect(list.items[0]).toMatchObject({ viewerHasReminder: true, reminderCount: 7 });
    refuse = true;
    await expect(list.toggleReminder('a')).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(list.items[0]).toMatchObject({ viewerHasReminder: true, reminderCount: 7 });
    expect(list.isPending('a')).toBe(false);
  });
});

describe('ScheduledSpace', () => {
  it('edits only what changed, and sends the time as an instant', async () => {
    const api = new FakeApi()
      .on('ScheduledSpace', { space: scheduledSpace() })
      .on('UpdateSpace', (v: Record<string, unknown>) => ({ updateSpace: scheduledSpace({ title: 'Jazz night' }) }));
    const s = new ScheduledSpace(api, () => NOW);
    await s.load('S1');
    s.edit();
    expect(s.editing).toBe(true);
    expect(new Date(s.draft.scheduledFor).toISOString()).toBe('2026-06-02T18:00:00.000Z');
    s.draft.title = '  Jazz night ';
    expect(await s.save()).toBe(true);
    expect(api.callsTo('UpdateSpace')[0]?.variables).toEqual({ spaceId: 'S1', input: { title: 'Jazz night' } });
    expect(s.space?.title).toBe('Jazz night');
    expect(s.editing).toBe(false);

    s.edit();
    s.draft.scheduledFor = '2026-06-03T09:30';
    s.draft.speakerPolicy = 'INVITED';
    await s.save();
    expect(api.callsTo('UpdateSpace')[1]?.variables).toEqual({
      spaceId: 'S1',
      input: { scheduledFor: new Date('2026-06-03T09:30').toISOString(), speakerPolicy: 'INVITED' },
    });
  });

  it('checks the time (future, within 30 days) and shows the server’s field errors', async () => {
    const api = new FakeApi()
      .on('ScheduledSpace', { space: scheduledSpace() })
      .on('UpdateSpace', graphQLError('BAD_USER_INPUT', 'scheduledFor: must be in the future', { field: 'scheduledFor' }));
    const s = new ScheduledSpace(api, () => NOW);
    await s.load('S1');
    s.edit();
    s.draft.scheduledFor = '2026-05-01T10:00';
    expect(await s.save()).toBe(false);
    expect(s.errors.scheduledFor).toBe('Pick a time in the future.');
    s.draft.scheduledFor = '2026-08-01T10:00';
    expect(s.errors.scheduledFor).toBe('Pick a time within 30 days.');
    s.draft.title = '';
    expect(s.errors.title).toBe('Give your space a title.');
    expect(api.callsTo('UpdateSpace')).toHaveLength(0);
    s.draft.title = 'Ok';
    s.draft.scheduledFor = '2026-06-05T10:00';
    expect(await s.save()).toBe(false);
    expect(s.errors.scheduledFor).toMatch(/future/);
    expect(s.editing).toBe(true);
  });

  it('cancels, and says why when it cannot', async () => {
    let conflict = false;
    const api = new FakeApi()
      .on('ScheduledSpace', { space: scheduledSpace() })
      .on('CancelSpace', () => (conflict ? graphQLError('CONFLICT', 'This space is live already.') : { cancelSpace: scheduledSpace({ state: 'ENDED', cancelled: true }) }));
    const s = new ScheduledSpace(api, () => NOW);
    await s.load('S1');
    expect(await s.cancel()).toBe(true);
    expect(s.space).toMatchObject({ state: 'ENDED', cancelled: true });
    conflict = true;
    expect(await s.cancel()).toBe(false);
    expect(s.error?.message).toBe('This space is live already.');
  });

  it('toggles the reminder and keeps the count', async () => {
    const api = new FakeApi()
      .on('ScheduledSpace', { space: scheduledSpace({ reminderCount: 4 }) })
      .on('SetReminder', (v: Record<string, unknown>) => ({ setReminder: { id: 'S1', viewerHasReminder: v.on, reminderCount: v.on ? 5 : 4 } }));
    const s = new ScheduledSpace(api, () => NOW);
    await s.load('S1');
    await s.toggleReminder();
    expect(s.space).toMatchObject({ viewerHasReminder: true, reminderCount: 5 });
    await s.toggleReminder();
    expect(api.callsTo('SetReminder')[1]?.variables).toEqual({ spaceId: 'S1', on: false });
    expect(s.space).toMatchObject({ viewerHasReminder: false, reminderCount: 4 });
  });
});
