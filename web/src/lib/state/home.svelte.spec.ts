import { describe, expect, it } from 'vitest';
import type { SpaceCardData } from '$lib/graphql/documents';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { followedByText, HomeFeed, SpaceDraft, SuggestedPeople, SUGGESTIONS } from './home.svelte';

const card = (id: string, title = `Space ${id}`): SpaceCardData => ({
  id,
  title,
  state: 'LIVE',
  speakerPolicy: 'EVERYONE',
  scheduledFor: null,
  startedAt: '2026-01-01T00:00:00.000Z',
  participantCount: 1,
  listenerCount: 0,
  host: { id: 'U1', handle: 'ada', displayName: 'Ada', avatarUrl: null },
  stage: [],
});

const page = (nodes: SpaceCardData[], endCursor: string | null, hasNextPage: boolean) => ({
  liveSpaces: { edges: nodes.map((node) => ({ node })), pageInfo: { endCursor, hasNextPage } },
});

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('HomeFeed', () => {
  it('lists live spaces page by page without duplicates', async () => {
    const api = new FakeApi().on('LiveSpaces', (v: Record<string, unknown>) =>
      v.after ? page([card('b'), card('c')], 'c2', false) : page([card('a'), card('b')], 'c1', true),
    );
    const feed = new HomeFeed(api);
    feed.start(false);
    await flush();
    expect(feed.live.map((s) => s.id)).toEqual(['a', 'b']);
    expect(feed.liveHasMore).toBe(true);
    await feed.loadMoreLive();
    expect(api.callsTo('LiveSpaces')[1]?.variables).toEqual({ first: 20, after: 'c1' });
    expect(feed.live.map((s) => s.id)).toEqual(['a', 'b', 'c']);
    expect(feed.liveHasMore).toBe(false);
    // Signed out: no spaces bar at all.
    expect(api.callsTo('SpacesBar')).toHaveLength(0);
    expect(api.subscriberCount('SpacesBarUpdates')).toBe(0);
  });

  it('follows the spaces bar live when signed in, and stops', async () => {
    const api = new FakeApi().on('LiveSpaces', page([], null, false)).on('SpacesBar', { spacesBar: [card('x')] });
    const feed = new HomeFeed(api);
    feed.start(true);
    await flush();
    expect(feed.bar.map((s) => s.id)).toEqual(['x']);
    api.emit('SpacesBarUpdates', { spacesBar: [card('y'), card('x')] });
    expect(feed.bar.map((s) => s.id)).toEqual(['y', 'x']);
    feed.stop();
    expect(api.subscriberCount('SpacesBarUpdates')).toBe(0);
  });

  it('lists upcoming spaces, and loads them and the live list again when the bar changes', async () => {
    const upcoming = { ...card('u1'), state: 'SCHEDULED', scheduledFor: '2026-01-02T18:00:00.000Z', cancelled: false, viewerHasReminder: false, reminderCount: 0 };
    const api = new FakeApi()
      .on('LiveSpaces', page([], null, false))
      .on('SpacesBar', { spacesBar: [] })
      .on('UpcomingSpaces', { upcomingSpaces: { edges: [{ node: upcoming }], pageInfo: { endCursor: null, hasNextPage: false } } });
    const feed = new HomeFeed(api);
    feed.start(true);
    await flush();
    expect(feed.upcoming.items.map((s) => s.id)).toEqual(['u1']);
    // The subscription's first answer is the bar as it is: nothing to reload.
    api.emit('SpacesBarUpdates', { spacesBar: [] });
    await flush();
    expect(api.callsTo('UpcomingSpaces')).toHaveLength(1);
    api.emit('SpacesBarUpdates', { spacesBar: [{ ...card('soon'), state: 'SCHEDULED' }] });
    await flush();
    expect(api.callsTo('UpcomingSpaces')).toHaveLength(2);
    expect(api.callsTo('LiveSpaces')).toHaveLength(2);
    feed.stop();
  });

  it('refreshes live spaces after the socket comes back', async () => {
    const api = new FakeApi().on('LiveSpaces', page([], null, false));
    const feed = new HomeFeed(api);
    feed.start(false);
    await flush();
    api.reconnected();
    await flush();
    expect(api.callsTo('LiveSpaces')).toHaveLength(2);
    feed.stop();
    api.reconnected();
    expect(api.callsTo('LiveSpaces')).toHaveLength(2);
  });

  it('keeps an error in words when the list cannot load', async () => {
    const feed = new HomeFeed(new FakeApi().on('LiveSpaces', graphQLError('INTERNAL_SERVER_ERROR', 'boom')));
    await feed.refreshLive();
    expect(feed.liveError?.message).toMatch(/on our side/);
  });
});

describe('SpaceDraft', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');

  it('needs a title of at most 100 characters', () => {
    const draft = new SpaceDraft(new FakeApi(), () => now);
    expect(draft.errors.title).toBe('Give your space a title.');
    draft.title = 'x'.repeat(101);
    expect(draft.errors.title).toBe('Use at most 100 characters.');
    draft.title = '  Morning show ';
    expect(draft.valid).toBe(true);
  });

  it('needs a future time within a year when scheduled', () => {
    const draft = new SpaceDraft(new FakeApi(), () => now);
    draft.title = 'Later';
    draft.schedule = true;
    expect(draft.errors.scheduledFor).toBe('Pick a date and time.');
    draft.scheduledFor = '2020-01-01T10:00';
    expect(draft.errors.scheduledFor).toBe('Pick a time in the future.');
    draft.scheduledFor = '2029-01-01T10:00';
    expect(draft.errors.scheduledFor).toBe('Pick a time within a year.');
    draft.scheduledFor = '2026-06-02T10:00';
    expect(draft.valid).toBe(true);
  });

  it('creates a live space and resolves with its id', async () => {
    const api = new FakeApi().on('CreateSpace', { createSpace: { id: 'S1', state: 'LIVE' } });
    const draft = new SpaceDraft(api, () => now);
    draft.title = ' Hello ';
    draft.speakerPolicy = 'INVITED';
    expect(await draft.submit()).toBe('S1');
    expect(api.callsTo('CreateSpace')[0]?.variables).toEqual({
      input: { title: 'Hello', speakerPolicy: 'INVITED', scheduledFor: null },
    });
  });

  it('sends a scheduled time as an ISO instant', async () => {
    const api = new FakeApi().on('CreateSpace', { createSpace: { id: 'S2', state: 'SCHEDULED' } });
    const draft = new SpaceDraft(api, () => now);
    draft.title = 'Later';
    draft.schedule = true;
    draft.scheduledFor = '2026-06-02T10:00';
    await draft.submit();
    const input = api.callsTo('CreateSpace')[0]?.variables.input as { scheduledFor: string };
    expect(input.scheduledFor).toBe(new Date('2026-06-02T10:00').toISOString());
  });

  it('does not submit an invalid form, and shows server errors beside their field', async () => {
    const api = new FakeApi().on('CreateSpace', graphQLError('BAD_USER_INPUT', 'title: too rude', { field: 'title' }));
    const draft = new SpaceDraft(api, () => now);
    expect(await draft.submit()).toBeNull();
    expect(api.calls).toHaveLength(0);
    expect(draft.touched).toBe(true);
    draft.title = 'ok';
    expect(await draft.submit()).toBeNull();
    expect(draft.errors.title).toBe('Title: too rude.');
  });

  it('keeps errors without a field for the form (a CONFLICT)', async () => {
    const api = new FakeApi().on('CreateSpace', graphQLError('CONFLICT', 'You are already hosting a live space; end it first.'));
    const draft = new SpaceDraft(api, () => now);
    draft.title = 'Again';
    expect(await draft.submit()).toBeNull();
    expect(draft.error?.message).toBe('You are already hosting a live space; end it first.');
    expect(draft.errors).toEqual({});
  });
});

describe('SuggestedPeople', () => {
  const person = (n: number, viewerFollows = false) => ({
    id: `U${n}`,
    handle: `p${n}`,
    displayName: `Person ${n}`,
    avatarUrl: null,
    bio: '',
    viewerFollows,
    followsViewer: false,
  });
  const suggestion = (n: number, followedBy: string[] = [], count = followedBy.length) => ({
    user: person(n),
    followedBy: followedBy.map((handle, i) => ({ id: `F${i}`, handle })),
    followedByFollowingCount: count,
  });

  it('loads a few people, with why each is suggested', async () => {
    const api = new FakeApi().on('SuggestedUsers', { suggestedUsers: [suggestion(1), suggestion(2, ['ana', 'bo'], 4)] });
    const suggested = new SuggestedPeople(api);
    await suggested.load();
    expect(api.callsTo('SuggestedUsers')[0]?.variables).toEqual({ first: SUGGESTIONS });
    expect(suggested.status).toBe('ready');
    expect(suggested.people.items.map((p) => [p.handle, p.reason])).toEqual([
      ['p1', null],
      ['p2', 'Followed by @ana and 3 others'],
    ]);
  });

  it('follows at once, keeps the person listed, and takes it back when refused', async () => {
    const api = new FakeApi()
      .on('SuggestedUsers', { suggestedUsers: [suggestion(1), suggestion(2)] })
      .on('Follow', (v: Record<string, unknown>) =>
        v.userId === 'U1' ? { follow: { id: 'U1', viewerFollows: true, followerCount: 1 } } : graphQLError('RATE_LIMITED', 'slow down'),
      );
    const suggested = new SuggestedPeople(api);
    await suggested.load();
    const following = suggested.people.toggleFollow('U1');
    expect(suggested.people.items[0]?.viewerFollows).toBe(true);
    expect(suggested.people.isPending('U1')).toBe(true);
    await following;
    expect(suggested.people.isPending('U1')).toBe(false);
    expect(suggested.people.items.map((p) => p.id)).toEqual(['U1', 'U2']);
    await expect(suggested.people.toggleFollow('U2')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(suggested.people.items[1]?.viewerFollows).toBe(false);
  });

  it('keeps the error in words when suggestions cannot load', async () => {
    const suggested = new SuggestedPeople(new FakeApi().on('SuggestedUsers', graphQLError('INTERNAL_SERVER_ERROR', 'boom')));
    await suggested.load();
    expect(suggested.status).toBe('error');
    expect(suggested.error?.message).toMatch(/on our side/);
  });
});

describe('followedByText', () => {
  const by = (handles: string[], count = handles.length) => ({
    followedBy: handles.map((handle, i) => ({ id: `F${i}`, handle })),
    followedByFollowingCount: count,
  });
  it('names one or two, and counts the rest', () => {
    expect(followedByText(by([]))).toBeNull();
    expect(followedByText(by(['ana']))).toBe('Followed by @ana');
    expect(followedByText(by(['ana', 'bo']))).toBe('Followed by @ana and @bo');
    expect(followedByText(by(['ana', 'bo', 'cy'], 3))).toBe('Followed by @ana and 2 others');
    expect(followedByText(by(['ana'], 2))).toBe('Followed by @ana and 1 other');
  });
});
