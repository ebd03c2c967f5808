import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ParticipantData, SpaceEventData, SpaceRoomData } from '$lib/graphql/documents';
import type { AppError } from '$lib/errors';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { describeAudienceActivity, describeMuteAll, moderationChoices, SpaceRoom, type Role } from './space-room.svelte';

const user = (n: string) => ({ id: `U${n}`, handle: `user${n}`, displayName: `User ${n}`, avatarUrl: null as string | null });
let joinedAt = 0;
const participant = (n: string, role: Role, extra: Partial<ParticipantData> = {}): ParticipantData => ({
  id: `P${n}`,
  role,
  muted: role === 'LISTENER',
  handRaised: false,
  handSeen: false,
  speaking: false,
  audioConnected: false,
  present: true,
  joinedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, joinedAt++)).toISOString(),
  user: user(n),
  ...extra,
});

const host = participant('1', 'HOST', { muted: false });

function space(extra: Partial<SpaceRoomData> = {}, audience: ParticipantData[] = [], truncated = false, hands: ParticipantData[] = []): SpaceRoomData {
  return {
    id: 'S1',
    title: 'Morning show',
    state: 'LIVE',
    speakerPolicy: 'EVERYONE',
    scheduledFor: null,
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: null,
    participantCount: 1 + audience.length,
    listenerCount: audience.length,
    viewerCanSpeak: true,
    viewerRemoved: false,
    host: host.user,
    stage: [host],
    invitedSpeakers: [],
    viewerParticipant: null,
    audience: { edges: audience.map((node) => ({ node })), pageInfo: { hasNextPage: truncated, endCursor: truncated ? 'C1' : null } },
    hands: { edges: hands.map((node) => ({ node })) },
    ...extra,
  };
}

const event = (kind: SpaceEventData['kind'], extra: Partial<SpaceEventData> = {}): SpaceEventData => ({
  kind,
  at: '2026-01-01T01:00:00.000Z',
  emoji: null,
  user: null,
  participant: null,
  audience: null,
  ...extra,
});

async function open(data: SpaceRoomData, viewer = user('9'), options: ConstructorParameters<typeof SpaceRoom>[2] = {}) {
  const api = new FakeApi().on('SpaceRoom', () => ({ viewer, space: data }));
  // Someone on stage with an open mic is muted as the page opens (after a reload): answered here.
  if (data.viewerParticipant) api.on('SetMuted', ({ muted }: Record<string, unknown>) => ({ setMuted: { ...data.viewerParticipant!, muted } }));
  const room = new SpaceRoom(api, 'S1', options);
  await room.start();
  const emit = (e: SpaceEventData) => api.emit('SpaceEvents', { spaceEvents: e });
  return { api, room, emit };
}

describe('SpaceRoom: loading', () => {
  it('loads the space, splits stage and audience, and follows its events', async () => {
    const listener = participant('2', 'LISTENER');
    const { room, api } = await open(space({}, [listener]));
    expect(room.status).toBe('ready');
    expect(room.space?.title).toBe('Morning show');
    expect(room.stage.map((p) => p.id)).toEqual(['P1']);
    expect(room.audience.map((p) => p.id)).toEqual(['P2']);
    expect(room.me).toBeNull();
    expect(api.subscriberCount('SpaceEvents')).toBe(1);
    expect(api.callsTo('SpaceEvents')[0]?.variables).toEqual({ spaceId: 'S1' });
    room.stop();
    expect(api.subscriberCount('SpaceEvents')).toBe(0);
  });

  it('says when the space does not exist', async () => {
    const api = new FakeApi().on('SpaceRoom', { viewer: null, space: null });
    const room = new SpaceRoom(api, 'nope');
    await room.start();
    expect(room.status).toBe('not-found');
  });

  it('keeps a failure in words', async () => {
    const api = new FakeApi().on('SpaceRoom', graphQLError('INTERNAL_SERVER_ERROR', 'db down'));
    const room = new SpaceRoom(api, 'S1');
    await room.start();
    expect(room.status).toBe('error');
    expect(room.error?.message).toMatch(/on our side/);
  });

  it('a listener who may speak under INVITED holds an invitation (it survives a reload)', async () => {
    const me = participant('9', 'LISTENER');
    const { room } = await open(space({ viewerParticipant: me, speakerPolicy: 'INVITED', viewerCanSpeak: true }, [me]));
    expect(room.invited).toBe(true);
    const other = await open(space({ viewerParticipant: me, speakerPolicy: 'EVERYONE', viewerCanSpeak: true }, [me]));
    expect(other.room.invited).toBe(false);
  });

  it("knows the viewer's own part: role, moderation, audio plan", async () => {
    const me = participant('9', 'CO_HOST', { muted: false });
    const { room } = await open(space({ stage: [host, me], viewerParticipant: me }));
    expect(room.role).toBe('CO_HOST');
    expect(room.isModerator).toBe(true);
    expect(room.isHost).toBe(false);
    expect(room.onStage).toBe(true);
    // On stage with an open mic as the page opens (a reload): muted until they open it again.
    expect(room.audioPlan).toEqual({ spaceId: 'S1', publish: true, muted: true });
  });
});

describe('SpaceRoom: events patch the state without refetching', () => {
  it('a join adds a listener and counts them once', async () => {
    const { room, api, emit } = await open(space());
    const guest = participant('2', 'LISTENER');
    emit(event('PARTICIPANT_JOINED', { participant: guest, user: guest.user }));
    emit(event('PARTICIPANT_JOINED', { participant: guest, user: guest.user }));
    expect(room.audience.map((p) => p.id)).toEqual(['P2']);
    expect(room.space?.participantCount).toBe(2);
    expect(room.space?.listenerCount).toBe(1);
    expect(api.callsTo('SpaceRoom')).toHaveLength(1);
  });

  it('a role change moves a participant between audience and stage, in stage order', async () => {
    const guest = participant('2', 'LISTENER', { handRaised: true });
    const { room, emit } = await open(space({}, [guest]));
    expect(room.requests.map((p) => p.id)).toEqual(['P2']);
    emit(event('PARTICIPANT_UPDATED', { participant: { ...guest, role: 'SPEAKER', handRaised: false } }));
    expect(room.stage.map((p) => p.id)).toEqual(['P1', 'P2']);
    expect(room.audience).toEqual([]);
    expect(room.requests).toEqual([]);
    expect(room.space?.listenerCount).toBe(0);
    expect(room.space?.participantCount).toBe(2);
    emit(event('PARTICIPANT_UPDATED', { participant: { ...guest, role: 'CO_HOST' } }));
    emit(event('PARTICIPANT_UPDATED', { participant: { ...guest, role: 'LISTENER' } }));
    expect(room.stage.map((p) => p.id)).toEqual(['P1']);
    expect(room.space?.listenerCount).toBe(1);
  });

  it('speaking and mute changes update the tile', async () => {
    const { room, emit } = await open(space());
    emit(event('SPEAKING_CHANGED', { participant: { ...host, speaking: true } }));
    expect(room.stage[0]?.speaking).toBe(true);
    emit(event('PARTICIPANT_UPDATED', { participant: { ...host, muted: true } }));
    expect(room.stage[0]?.muted).toBe(true);
  });

  it('a departure removes the participant and the counts', async () => {
    const guest = participant('2', 'LISTENER');
    const { room, emit } = await open(space({}, [guest]));
    emit(event('PARTICIPANT_LEFT', { participant: { ...guest, present: false } }));
    expect(room.audience).toEqual([]);
    expect(room.space?.participantCount).toBe(1);
    expect(room.space?.listenerCount).toBe(0);
    // Leaving twice changes nothing.
    emit(event('PARTICIPANT_LEFT', { participant: { ...guest, present: false } }));
    expect(room.space?.participantCount).toBe(1);
  });

  it('past the first page of the audience, unknown listeners still count', async () => {
    const { room, emit } = await open(space({ participantCount: 300, listenerCount: 299 }, [], true));
    const far = participant('7', 'LISTENER');
    emit(event('PARTICIPANT_LEFT', { participant: { ...far, present: false } }));
    expect(room.space?.listenerCount).toBe(298);
    emit(event('PARTICIPANT_UPDATED', { participant: { ...participant('8', 'SPEAKER') } }));
    expect(room.space?.listenerCount).toBe(297);
    expect(room.stage.map((p) => p.id)).toEqual(['P1', 'P8']);
  });

  it("the viewer's own updates become `me`; an approval puts them on stage with the mic", async () => {
    const me = participant('9', 'LISTENER', { handRaised: true });
    const { room, emit } = await open(space({ viewerParticipant: me }, [me]));
    expect(room.audioPlan).toEqual({ spaceId: 'S1', publish: false, muted: true });
    emit(event('PARTICIPANT_UPDATED', { participant: { ...me, role: 'SPEAKER', handRaised: false } }));
    expect(room.me?.role).toBe('SPEAKER');
    expect(room.audioPlan.publish).toBe(true);
  });

  it('reactions float for a while, at most 30 at once', async () => {
    vi.useFakeTimers();
    try {
      const { room, emit } = await open(space(), user('9'), { reactionMs: 1_000, random: () => 0.5 });
      emit(event('REACTION', { emoji: '🔥', user: user('2') }));
      expect(room.reactions).toEqual([{ id: 1, emoji: '🔥', by: 'User 2', left: 48 }]);
      for (let i = 0; i < 40; i++) emit(event('REACTION', { emoji: '👏', user: user('3') }));
      expect(room.reactions).toHaveLength(30);
      vi.advanceTimersByTime(1_001);
      expect(room.reactions).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('an invitation for the viewer offers to accept it; for moderators it joins the invited list', async () => {
    const notices: string[] = [];
    const me = participant('9', 'LISTENER');
    const { room, emit } = await open(space({ viewerParticipant: me, viewerCanSpeak: false }, [me]), user('9'), {
      onNotice: (m) => notices.push(m.message),
    });
    emit(event('SPEAKER_INVITED', { user: user('9') }));
    expect(room.invited).toBe(true);
    expect(room.space?.viewerCanSpeak).toBe(true);
    expect(notices[0]).toMatch(/invited to speak/);

    const cohost = participant('5', 'CO_HOST');
    const mod = await open(space({ stage: [host, cohost], viewerParticipant: cohost }), user('5'));
    mod.emit(event('SPEAKER_INVITED', { user: user('6') }));
    mod.emit(event('SPEAKER_INVITED', { user: user('6') }));
    expect(mod.room.invitedSpeakers.map((u) => u.id)).toEqual(['U6']);
    mod.emit(event('SPEAKER_INVITE_REVOKED', { user: user('6') }));
    expect(mod.room.invitedSpeakers).toEqual([]);
  });

  it('being removed ends the viewer\'s part (and their audio)', async () => {
    const me = participant('9', 'SPEAKER', { muted: false });
    const { room, emit } = await open(space({ stage: [host, me], viewerParticipant: me, participantCount: 2 }));
    emit(event('REMOVED', { user: user('9') }));
    expect(room.removed).toBe(true);
    expect(room.me).toBeNull();
    expect(room.stage.map((p) => p.id)).toEqual(['P1']);
    expect(room.audioPlan.spaceId).toBeNull();
  });

  it('the end of the space stops its audio and the subscription', async () => {
    const me = participant('9', 'LISTENER');
    const { room, api, emit } = await open(space({ viewerParticipant: me }, [me]));
    emit(event('SPACE_ENDED'));
    expect(room.ended).toBe(true);
    expect(room.space?.endedAt).toBe('2026-01-01T01:00:00.000Z');
    expect(room.audioPlan.spaceId).toBeNull();
    expect(api.subscriberCount('SpaceEvents')).toBe(0);
  });

  it('a mixer restart asks the audio to reconnect', async () => {
    const onAudioReconnect = vi.fn();
    const { emit } = await open(space(), user('9'), { onAudioReconnect });
    emit(event('AUDIO_RECONNECT'));
    expect(onAudioReconnect).toHaveBeenCalledOnce();
  });
});

describe('SpaceRoom: a large audience', () => {
  const listeners = (from: number, n: number) => Array.from({ length: n }, (_, i) => participant(String(from + i), 'LISTENER'));

  it('loads only the first page of the audience, by group, and the rest when asked', async () => {
    const first = listeners(100, 50);
    const { room, api } = await open(space({ participantCount: 121, listenerCount: 120 }, first, true));
    expect(api.callsTo('SpaceRoom')).toHaveLength(1);
    expect(room.audience).toHaveLength(50);
    expect(room.audienceTruncated).toBe(true);
    const second = listeners(150, 50);
    api.on('AudiencePage', (v: Record<string, unknown>) => ({
      space: {
        id: 'S1',
        listenerCount: 121,
        audience: {
          edges: (v.after === 'C1' ? [first[49]!, ...second] : []).map((node) => ({ node })),
          pageInfo: { hasNextPage: true, endCursor: 'C2' },
        },
      },
    }));
    expect(await room.loadMoreAudience()).toBe(true);
    expect(api.callsTo('AudiencePage')[0]?.variables).toEqual({ id: 'S1', after: 'C1' });
    // One already shown is not shown twice.
    expect(room.audience).toHaveLength(100);
    expect(new Set(room.audience.map((p) => p.id)).size).toBe(100);
    expect(room.audienceTruncated).toBe(true);
    expect(room.space?.listenerCount).toBe(121);
    expect(room.space?.participantCount).toBe(122);
    await room.loadMoreAudience();
    expect(api.callsTo('AudiencePage')[1]?.variables).toEqual({ id: 'S1', after: 'C2' });
  });

  it('does not ask for more once the last page is in', async () => {
    const { room, api } = await open(space({}, listeners(100, 3), false));
    api.on('AudiencePage', () => ({ space: null }));
    await room.loadMoreAudience();
    expect(api.callsTo('AudiencePage')).toHaveLength(0);
  });

  it('AUDIENCE_UPDATED sets the counts from the server and keeps who joined', async () => {
    const { room, emit, api } = await open(space({ participantCount: 61, listenerCount: 60 }, listeners(100, 50), true));
    emit(
      event('AUDIENCE_UPDATED', {
        audience: { listenerCount: 72, joined: 14, left: 2, sample: [user('a'), user('b'), user('c')] },
      }),
    );
    expect(room.space?.listenerCount).toBe(72);
    expect(room.space?.participantCount).toBe(73);
    expect(room.audienceActivity).toMatchObject({ joined: 14, left: 2 });
    expect(describeAudienceActivity(room.audienceActivity)).toBe('User a, User b and 12 others joined, 2 left');
    // Nothing to say: the count still follows.
    emit(event('AUDIENCE_UPDATED', { audience: { listenerCount: 70, joined: 0, left: 0, sample: [] } }));
    expect(room.space?.listenerCount).toBe(70);
    expect(room.space?.participantCount).toBe(71);
    // Patched in place: no refetch.
    expect(api.callsTo('SpaceRoom')).toHaveLength(1);
  });

  it('puts activity into words', () => {
    const at = '2026-01-01T00:00:00Z';
    expect(describeAudienceActivity(null)).toBeNull();
    expect(describeAudienceActivity({ joined: 1, left: 0, sample: [user('a')], at })).toBe('User a joined');
    expect(describeAudienceActivity({ joined: 2, left: 0, sample: [user('a'), user('b')], at })).toBe('User a and User b joined');
    expect(describeAudienceActivity({ joined: 3, left: 0, sample: [user('a'), user('b')], at })).toBe('User a, User b and 1 other joined');
    expect(describeAudienceActivity({ joined: 5, left: 1, sample: [], at })).toBe('5 people joined, 1 left');
    expect(describeAudienceActivity({ joined: 0, left: 4, sample: [], at })).toBe('4 left');
  });

  it("raised hands past the audience's first page reach the moderators' queue", async () => {
    const far = participant('300', 'LISTENER', { handRaised: true });
    const { room, emit } = await open(
      space({ viewerParticipant: host, participantCount: 301, listenerCount: 300 }, listeners(100, 50), true, [far]),
      host.user,
    );
    expect(room.requests.map((p) => p.id)).toEqual(['P300']);
    const later = participant('301', 'LISTENER');
    emit(event('PARTICIPANT_UPDATED', { participant: { ...later, handRaised: true } }));
    expect(room.requests.map((p) => p.id)).toEqual(['P300', 'P301']);
    emit(event('PARTICIPANT_UPDATED', { participant: { ...far, handRaised: false } }));
    expect(room.requests.map((p) => p.id)).toEqual(['P301']);
    emit(event('PARTICIPANT_UPDATED', { participant: { ...later, role: 'SPEAKER', handRaised: false } }));
    expect(room.requests).toEqual([]);
    expect(room.stage.map((p) => p.id)).toEqual(['P1', 'P301']);
  });
});

describe('SpaceRoom: refetches are coalesced', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a burst of policy changes costs one request', async () => {
    const { room, api, emit } = await open(space());
    for (let i = 0; i < 20; i++) emit(event('SPACE_UPDATED'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(api.callsTo('SpaceRoom')).toHaveLength(2);
    expect(room.fetches).toBe(2);
  });

  it('changes during a request cause exactly one more after it', async () => {
    const { api, emit } = await open(space());
    let release: () => void = () => {};
    api.on('SpaceRoom', () => new Promise((resolve) => (release = () => resolve({ viewer: user('9'), space: space() }))));
    emit(event('SPACE_UPDATED'));
    await vi.advanceTimersByTimeAsync(500);
    expect(api.callsTo('SpaceRoom')).toHaveLength(2);
    for (let i = 0; i < 5; i++) emit(event('SPACE_UPDATED'));
    release();
    await vi.advanceTimersByTimeAsync(2_000);
    release();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(api.callsTo('SpaceRoom')).toHaveLength(3);
  });

  it('the socket coming back refetches (events may have been missed)', async () => {
    const { api } = await open(space());
    api.reconnected();
    await vi.advanceTimersByTimeAsync(10);
    expect(api.callsTo('SpaceRoom')).toHaveLength(2);
  });

  it('nothing is fetched after stop()', async () => {
    const { room, api, emit } = await open(space());
    emit(event('SPACE_UPDATED'));
    room.stop();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(api.callsTo('SpaceRoom')).toHaveLength(1);
  });
});

describe('SpaceRoom: actions', () => {
  it('join makes the viewer a listener at once', async () => {
    const { room, api } = await open(space());
    const me = participant('9', 'LISTENER');
    api.on('JoinSpace', { joinSpace: me });
    expect(await room.join()).toBe(true);
    expect(room.me?.id).toBe('P9');
    expect(room.space?.participantCount).toBe(2);
    expect(room.audioPlan).toEqual({ spaceId: 'S1', publish: false, muted: true });
  });

  it('errors reach onError in words, and the action says it failed', async () => {
    const errors: AppError[] = [];
    const { room, api } = await open(space(), user('9'), { onError: (e) => errors.push(e) });
    api.on('React', graphQLError('RATE_LIMITED', 'slow down', { retryAfterMs: 4_000 }));
    expect(await room.react('🔥')).toBe(false);
    expect(errors[0]?.message).toBe("You're doing that too often. Try again in 4 seconds.");
    expect(room.busy).toBeNull();
  });

  it('muting is immediate; a refused unmute leaves the mic muted', async () => {
    const me = participant('9', 'SPEAKER', { muted: false });
    const { room, api } = await open(space({ stage: [host, me], viewerParticipant: me }));
    let answer: (v: unknown) => void = () => {};
    api.on('SetMuted', () => new Promise((resolve) => (answer = resolve)));
    const muting = room.setMuted(true);
    expect(room.me?.muted).toBe(true);
    answer({ setMuted: { ...me, muted: true } });
    await muting;
    api.on('SetMuted', graphQLError('FORBIDDEN', 'The host muted you.'));
    expect(await room.setMuted(false)).toBe(false);
    expect(room.me?.muted).toBe(true);
  });

  it('approving a raised hand puts them on stage', async () => {
    const guest = participant('2', 'LISTENER', { handRaised: true });
    const { room, api } = await open(space({ viewerParticipant: host }, [guest]), host.user);
    api.on('SetParticipantRole', { setParticipantRole: { ...guest, role: 'SPEAKER', handRaised: false } });
    expect(await room.approve('U2')).toBe(true);
    expect(api.callsTo('SetParticipantRole')[0]?.variables).toEqual({ spaceId: 'S1', userId: 'U2', role: 'SPEAKER' });
    expect(room.stage.map((p) => p.id)).toEqual(['P1', 'P2']);
    expect(room.requests).toEqual([]);
  });

  it('invites by handle (with or without @), and says when no one has it', async () => {
    const errors: AppError[] = [];
    const { room, api } = await open(space({ viewerParticipant: host }), host.user, { onError: (e) => errors.push(e) });
    api
      .on('UserByHandle', (v: Record<string, unknown>) => ({ user: v.handle === 'user2' ? user('2') : null }))
      .on('InviteSpeaker', { inviteSpeaker: { id: 'S1', invitedSpeakers: [user('2')] } });
    expect(await room.inviteByHandle(' @user2 ')).toBe(true);
    expect(api.callsTo('InviteSpeaker')[0]?.variables).toEqual({ spaceId: 'S1', userId: 'U2' });
    expect(room.invitedSpeakers.map((u) => u.id)).toEqual(['U2']);
    expect(await room.inviteByHandle('ghost')).toBe(false);
    expect(errors[0]?.message).toBe('No one has the handle @ghost.');
  });

  it('removing someone drops them from the lists', async () => {
    const guest = participant('2', 'LISTENER');
    const { room, api } = await open(space({ viewerParticipant: host }, [guest]), host.user);
    api.on('RemoveParticipant', { removeParticipant: { id: 'S1' } });
    await room.remove('U2');
    expect(room.audience).toEqual([]);
    expect(room.space?.listenerCount).toBe(0);
  });

  it('mute all mutes the speakers but not the hosts', async () => {
    const speaker = participant('2', 'SPEAKER', { muted: false });
    const coHost = participant('3', 'CO_HOST', { muted: true });
    const { room, api } = await open(space({ stage: [host, coHost, speaker], viewerParticipant: coHost }), coHost.user);
    api.on('MuteAll', { muteAll: { id: 'S1' } });
    await room.muteAll();
    expect(room.stage.map((p) => [p.id, p.muted])).toEqual([
      ['P1', false],
      ['P3', true],
      ['P2', true],
    ]);
  });

  it('ending the space marks it ended', async () => {
    const { room, api } = await open(space({ viewerParticipant: host }), host.user);
    api.on('EndSpace', { endSpace: { id: 'S1', state: 'ENDED', endedAt: '2026-01-01T02:00:00.000Z' } });
    await room.end();
    expect(room.ended).toBe(true);
  });

  it('an action in flight is not sent twice', async () => {
    const { room, api } = await open(space());
    api.on('React', () => new Promise((resolve) => setTimeout(() => resolve({ react: true }), 10)));
    const first = room.react('🔥');
    expect(await room.react('🔥')).toBe(false);
    expect(await first).toBe(true);
    expect(api.callsTo('React')).toHaveLength(1);
  });
});

describe('moderationChoices', () => {
  const speaker = participant('2', 'SPEAKER', { muted: false });
  const listener = participant('3', 'LISTENER');
  const raised = participant('4', 'LISTENER', { handRaised: true });
  const cohost = participant('5', 'CO_HOST');

  it('offers nothing to listeners and speakers, or about oneself or the host', () => {
    expect(Object.values(moderationChoices({ userId: 'U3', role: 'LISTENER' }, speaker)).some(Boolean)).toBe(false);
    expect(Object.values(moderationChoices({ userId: 'U2', role: 'SPEAKER' }, listener)).some(Boolean)).toBe(false);
    expect(Object.values(moderationChoices({ userId: 'U1', role: 'HOST' }, host)).some(Boolean)).toBe(false);
    expect(Object.values(moderationChoices({ userId: 'U5', role: 'CO_HOST' }, host)).some(Boolean)).toBe(false);
  });

  it('lets the host do everything to others', () => {
    expect(moderationChoices({ userId: 'U1', role: 'HOST' }, speaker)).toEqual({
      mute: true,
      takeOffStage: true,
      makeSpeaker: false,
      makeCoHost: true,
      inviteToSpeak: false,
      remove: true,
    });
    expect(moderationChoices({ userId: 'U1', role: 'HOST' }, raised)).toMatchObject({ makeSpeaker: true, inviteToSpeak: false });
    expect(moderationChoices({ userId: 'U1', role: 'HOST' }, listener)).toMatchObject({ makeSpeaker: false, inviteToSpeak: true });
    expect(moderationChoices({ userId: 'U1', role: 'HOST' }, cohost)).toMatchObject({ makeSpeaker: true, makeCoHost: false });
  });

  it('keeps co-hosts off each other and off appointing co-hosts', () => {
    expect(Object.values(moderationChoices({ userId: 'U9', role: 'CO_HOST' }, cohost)).some(Boolean)).toBe(false);
    expect(moderationChoices({ userId: 'U9', role: 'CO_HOST' }, speaker)).toMatchObject({ mute: true, makeCoHost: false });
  });
});

describe('SpaceRoom: presence, removal and the end screen (issue 11)', () => {
  const recap = { durationSeconds: 754, peakListeners: 12, speakers: [{ ...host.user, avatarUrl: null }] };

  it('a removed viewer is told so on load, and cannot join (no audio is planned)', async () => {
    const { room } = await open(space({ viewerRemoved: true }));
    expect(room.removed).toBe(true);
    expect(room.me).toBeNull();
    expect(room.audioPlan.spaceId).toBeNull();
    const fine = await open(space());
    expect(fine.room.removed).toBe(false);
  });

  it('back on stage after a reload, the mic starts muted', async () => {
    const api = new FakeApi()
      .on('SpaceRoom', () => ({ viewer: host.user, space: space({ viewerParticipant: host }) }))
      .on('SetMuted', ({ muted }: Record<string, unknown>) => ({ setMuted: { ...host, muted } }));
    const room = new SpaceRoom(api, 'S1');
    await room.start();
    expect(room.me?.muted).toBe(true);
    expect(room.audioPlan.muted).toBe(true);
    expect(api.callsTo('SetMuted').map((c) => c.variables)).toEqual([{ spaceId: 'S1', muted: true }]);
    // Later refetches leave the mic as the person set it.
    api.on('SpaceRoom', () => ({ viewer: host.user, space: space({ viewerParticipant: host }) }));
    await room.refetch();
    expect(api.callsTo('SetMuted')).toHaveLength(1);
  });

  it('a listener, or a muted speaker, is not muted again on load', async () => {
    const me = participant('5', 'LISTENER');
    const { api } = await open(space({ viewerParticipant: me }, [me]), me.user);
    expect(api.callsTo('SetMuted')).toHaveLength(0);
  });

  it('the host gets the recap when the space ends', async () => {
    const { room, api, emit } = await open(space({ viewerParticipant: host }), host.user);
    api.on('SpaceRecap', { space: { id: 'S1', recap } });
    emit(event('SPACE_ENDED'));
    await vi.waitFor(() => expect(room.recap).toEqual(recap));
    expect(api.callsTo('SpaceRecap')).toHaveLength(1);
  });

  it('an ended space opened by its host shows the recap; by anyone else, no recap is asked for', async () => {
    const ended = space({ state: 'ENDED', endedAt: '2026-01-01T02:00:00.000Z', stage: [] });
    const hostView = new FakeApi().on('SpaceRoom', { viewer: host.user, space: ended }).on('SpaceRecap', { space: { id: 'S1', recap } });
    const room = new SpaceRoom(hostView, 'S1');
    await room.start();
    await vi.waitFor(() => expect(room.recap?.peakListeners).toBe(12));

    const { room: other, api } = await open(ended, user('7'));
    expect(other.recap).toBeNull();
    expect(api.callsTo('SpaceRecap')).toHaveLength(0);
  });
});

describe('SpaceRoom: what happens to the viewer is told to them', () => {
  async function openAsListener(extra: Partial<ParticipantData> = {}) {
    const notices: { message: string; key?: string }[] = [];
    const me = participant('9', 'LISTENER', extra);
    const opened = await open(space({ viewerParticipant: me }, [me]), user('9'), { onNotice: (n) => notices.push(n) });
    return { ...opened, me, notices };
  }

  it('made a speaker, then a co-host, then back in the audience: one notice each, keyed to replace each other', async () => {
    const { emit, me, notices } = await openAsListener({ handRaised: true });
    emit(event('PARTICIPANT_UPDATED', { participant: { ...me, role: 'SPEAKER', handRaised: false } }));
    emit(event('PARTICIPANT_UPDATED', { participant: { ...me, role: 'CO_HOST', handRaised: false } }));
    emit(event('PARTICIPANT_UPDATED', { participant: { ...me, role: 'LISTENER', handRaised: false } }));
    expect(notices.map((n) => n.message)).toEqual([
      "You're a speaker now. Your mic is off — unmute when you're ready.",
      "You're a co-host now: you can manage speakers.",
      "You're back in the audience.",
    ]);
    expect(new Set(notices.map((n) => n.key))).toEqual(new Set(['role']));
  });

  it('a host muting them is told; their own mute is not', async () => {
    const notices: string[] = [];
    const me = participant('9', 'SPEAKER', { muted: false });
    const { room, api, emit } = await open(space({ stage: [host, me], viewerParticipant: me }), user('9'), {
      onNotice: (n) => notices.push(n.message),
    });
    // The page opened with an open mic: it was muted by the viewer's own page (no notice).
    await vi.waitFor(() => expect(room.me?.muted).toBe(true));
    api.on('SetMuted', ({ muted }: Record<string, unknown>) => ({ setMuted: { ...me, muted } }));
    await room.setMuted(false);
    expect(notices).toEqual([]);
    emit(event('PARTICIPANT_UPDATED', { participant: { ...me, muted: true } }));
    expect(notices).toEqual(['A host muted your microphone.']);
  });

  it('"Request sent" after raising a hand, and "A host saw your request" when handSeen turns true', async () => {
    const { room, api, emit, me, notices } = await openAsListener();
    api.on('RequestToSpeak', { requestToSpeak: { ...me, handRaised: true } });
    expect(await room.raiseHand(true)).toBe(true);
    emit(event('PARTICIPANT_UPDATED', { participant: { ...me, handRaised: true, handSeen: true } }));
    expect(notices.map((n) => n.message)).toEqual(['Request sent. The hosts will see your raised hand.', 'A host saw your request.']);
    // Seen once is told once.
    emit(event('PARTICIPANT_UPDATED', { participant: { ...me, handRaised: true, handSeen: true, speaking: true } }));
    expect(notices).toHaveLength(2);
  });

  it('an invitation prompts in the room until accepted or put off with "Not now" (the invitation stays)', async () => {
    const { room, emit } = await openAsListener();
    expect(room.invitePrompt).toBe(false);
    emit(event('SPEAKER_INVITED', { user: user('9') }));
    expect(room.invitePrompt).toBe(true);
    room.dismissInvite();
    expect(room.invitePrompt).toBe(false);
    expect(room.invited).toBe(true);
  });

  it('a policy change by the host is announced after the refetch', async () => {
    vi.useFakeTimers();
    try {
      const notices: string[] = [];
      const me = participant('9', 'LISTENER');
      let policy: SpaceRoomData['speakerPolicy'] = 'EVERYONE';
      const api = new FakeApi().on('SpaceRoom', () => ({ viewer: user('9'), space: space({ viewerParticipant: me, speakerPolicy: policy }, [me]) }));
      const room = new SpaceRoom(api, 'S1', { onNotice: (n) => notices.push(n.message) });
      await room.start();
      expect(room.policyText).toBe('Anyone can ask to speak');
      policy = 'FOLLOWING';
      api.emit('SpaceEvents', { spaceEvents: event('SPACE_UPDATED') });
      await vi.advanceTimersByTimeAsync(500);
      expect(room.policyText).toBe('People @user1 follows can speak');
      expect(notices).toEqual(['The host changed who can speak: People @user1 follows can speak.']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('SpaceRoom: why the viewer may not ask to speak', () => {
  it('says the policy from the host, a guest is asked to sign in, a removed person is told', async () => {
    const me = participant('9', 'LISTENER');
    const following = await open(space({ viewerParticipant: me, speakerPolicy: 'FOLLOWING', viewerCanSpeak: false }, [me]));
    expect(following.room.speakRefusalText).toBe('Only people @user1 follows can speak');
    const invited = await open(space({ viewerParticipant: me, speakerPolicy: 'INVITED', viewerCanSpeak: false }, [me]));
    expect(invited.room.speakRefusalText).toBe('Only people @user1 invites can speak');
    const guest = await open(space({ viewerParticipant: me, viewerCanSpeak: false }, [me]), { ...user('9'), isGuest: true } as never);
    expect(guest.room.speakRefusalText).toBe('Sign in to ask to speak');
    const removed = await open(space({ viewerRemoved: true, viewerCanSpeak: false }));
    expect(removed.room.speakRefusal).toBe('REMOVED');
    const free = await open(space({ viewerParticipant: me }, [me]));
    expect(free.room.speakRefusalText).toBeNull();
  });
});

describe('SpaceRoom: managing speakers', () => {
  it('counts raised hands no host has seen; markHandsSeen clears the badge, once', async () => {
    const cohost = participant('5', 'CO_HOST');
    const a = participant('2', 'LISTENER', { handRaised: true });
    const b = participant('3', 'LISTENER', { handRaised: true, handSeen: true });
    const { room, api } = await open(space({ stage: [host, cohost], viewerParticipant: cohost }, [a, b], false, [a, b]), user('5'));
    expect(room.requests).toHaveLength(2);
    expect(room.unseenRequests).toBe(1);
    api.on('MarkHandsSeen', { markHandsSeen: 1 });
    expect(await room.markHandsSeen()).toBe(true);
    expect(room.unseenRequests).toBe(0);
    expect(await room.markHandsSeen()).toBe(false);
    expect(api.callsTo('MarkHandsSeen')).toHaveLength(1);
  });

  it('"Mute all" mutes open-mic speakers only and says how many', async () => {
    const cohost = participant('5', 'CO_HOST', { muted: false });
    const s1 = participant('6', 'SPEAKER', { muted: false });
    const s2 = participant('7', 'SPEAKER', { muted: false });
    const s3 = participant('8', 'SPEAKER', { muted: true });
    const { room, api } = await open(space({ stage: [host, cohost, s1, s2, s3], viewerParticipant: host }), user('1'));
    api.on('MuteAll', { muteAll: { id: 'S1' } });
    expect(await room.muteAll()).toBe(2);
    expect(room.stage.find((p) => p.id === 'P5')?.muted).toBe(false);
    expect(room.stage.filter((p) => p.role === 'SPEAKER').every((p) => p.muted)).toBe(true);
    expect(describeMuteAll(2)).toBe('Muted 2 speakers; co-hosts keep their mics.');
  });

  it('an invitee who goes on stage or is removed is no longer listed as invited', async () => {
    const { room, emit } = await open(space({ viewerParticipant: host, invitedSpeakers: [user('6'), user('7')] }), user('1'));
    const six = participant('6', 'LISTENER');
    emit(event('PARTICIPANT_UPDATED', { participant: { ...six, role: 'SPEAKER' } }));
    emit(event('REMOVED', { user: user('7') }));
    expect(room.invitedSpeakers).toEqual([]);
  });

  it('the action in flight is typed, per target', async () => {
    const listener = participant('2', 'LISTENER', { handRaised: true });
    const { room, api } = await open(space({ viewerParticipant: host }, [listener]), user('1'));
    let answer: (v: unknown) => void = () => {};
    api.on('SetParticipantRole', () => new Promise((resolve) => (answer = resolve)));
    const approving = room.approve('U2');
    expect(room.busy).toEqual({ name: 'setRole', userId: 'U2' });
    expect(room.isBusy('setRole', 'U2')).toBe(true);
    expect(room.isBusy('setRole', 'U3')).toBe(false);
    expect(room.isBusy('join')).toBe(false);
    answer({ setParticipantRole: { ...listener, role: 'SPEAKER', handRaised: false } });
    expect(await approving).toBe(true);
    expect(room.busy).toBeNull();
  });
});

describe('SpaceRoom: accepting an invitation', () => {
  it('puts the viewer on stage (the answer and the event agree)', async () => {
    const me = participant('9', 'LISTENER');
    const { room, api, emit } = await open(space({ viewerParticipant: me }, [me]));
    emit(event('SPEAKER_INVITED', { user: user('9') }));
    const onStage = { ...me, role: 'SPEAKER' as const, muted: true };
    api.on('AcceptSpeakerInvite', async () => {
      emit(event('PARTICIPANT_UPDATED', { participant: onStage }));
      return { acceptSpeakerInvite: onStage };
    });
    expect(await room.acceptInvite()).toBe(true);
    expect(room.role).toBe('SPEAKER');
    expect(room.onStage).toBe(true);
    expect(room.invitePrompt).toBe(false);
    expect(room.audioPlan.publish).toBe(true);
  });
});
