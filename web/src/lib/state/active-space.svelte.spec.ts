import { flushSync } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import type { ParticipantData, SpaceRoomData } from '$lib/graphql/documents';
import { FakeApi } from '$lib/testing/fake-api';
import { ActiveSpace, type LiveSpaceDeps } from './active-space.svelte';
import type { AudioEnvironment, AudioSignaling } from './audio.svelte';

const user = (n: string) => ({ id: `U${n}`, handle: `user${n}`, displayName: `User ${n}`, avatarUrl: null as string | null });
const participant = (n: string, role: ParticipantData['role'], extra: Partial<ParticipantData> = {}): ParticipantData => ({
  id: `P${n}`,
  role,
  muted: true,
  handRaised: false,
  handSeen: false,
  speaking: false,
  audioConnected: false,
  present: true,
  joinedAt: '2026-01-01T00:00:00.000Z',
  user: user(n),
  ...extra,
});
const host = participant('1', 'HOST');

function space(id: string, extra: Partial<SpaceRoomData> = {}): SpaceRoomData {
  return {
    id,
    title: `Space ${id}`,
    state: 'LIVE',
    speakerPolicy: 'EVERYONE',
    scheduledFor: null,
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: null,
    participantCount: 1,
    listenerCount: 0,
    viewerCanSpeak: true,
    viewerRemoved: false,
    host: host.user,
    stage: [host],
    invitedSpeakers: [],
    viewerParticipant: null,
    audience: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } },
    hands: { edges: [] },
    ...extra,
  };
}

/** An API with spaces S1 and S2 (the viewer, U9, joins and leaves them) and audio that never comes up. */
function setup() {
  const me = participant('9', 'LISTENER');
  const inSpace = new Set<string>();
  const api = new FakeApi()
    .on('SpaceRoom', ({ id }: Record<string, unknown>) => ({
      viewer: { ...user('9'), isGuest: false },
      space: space(String(id), inSpace.has(String(id)) ? { viewerParticipant: me } : {}),
    }))
    .on('JoinSpace', ({ spaceId }: Record<string, unknown>) => {
      inSpace.add(String(spaceId));
      return { joinSpace: me };
    })
    .on('LeaveSpace', ({ spaceId }: Record<string, unknown>) => {
      inSpace.delete(String(spaceId));
      return { leaveSpace: { id: String(spaceId) } };
    });
  const signaling: AudioSignaling = {
    iceServers: vi.fn(async () => []),
    connect: vi.fn(() => new Promise<never>(() => {})),
    listen: vi.fn(() => new Promise<never>(() => {})),
    answer: vi.fn(() => new Promise<never>(() => {})),
    disconnect: vi.fn(async () => {}),
  };
  const environment = {
    createPeerConnection: () => {
      throw new Error('not in specs');
    },
    getUserMedia: () => Promise.reject(new Error('not in specs')),
    play: () => ({ stop() {}, started: Promise.resolve() }),
  } as unknown as AudioEnvironment;
  const deps: LiveSpaceDeps = { api, signaling, environment };
  return { api, deps, inSpace };
}

const settle = async () => {
  await vi.waitFor(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 0));
  flushSync();
};

describe('ActiveSpace: the room and its audio outlive the page', () => {
  it('nothing to confirm or dock outside a space', () => {
    const active = new ActiveSpace();
    expect(active.signOutWarning).toBeNull();
    expect(active.docked).toBeNull();
  });

  it('a page left while in the space keeps it (docked, audio on); opening its page again reuses it', async () => {
    const { deps, api } = setup();
    const active = new ActiveSpace();
    const live = active.open('S1', deps);
    await settle();
    expect(await live.room.join()).toBe(true);
    await settle();
    expect(active.held).toBe(live);
    expect(active.docked).toBeNull(); // its page is on screen
    expect(live.audio.state).not.toBe('idle'); // the audio follows the room's plan
    expect(active.signOutWarning).toBe('You\'re in “Space S1”. Signing out makes you leave it.');

    active.close(live);
    await settle();
    expect(active.docked).toBe(live);
    expect(live.disposed).toBe(false);
    expect(api.subscriberCount('SpaceEvents')).toBe(1);

    const again = active.open('S1', deps);
    expect(again).toBe(live);
    expect(active.docked).toBeNull();
    expect(api.callsTo('SpaceRoom')).toHaveLength(1);
  });

  it('a page of a space the viewer is not in stops with the page', async () => {
    const { deps, api } = setup();
    const active = new ActiveSpace();
    const live = active.open('S1', deps);
    await settle();
    active.close(live);
    expect(live.disposed).toBe(true);
    expect(active.held).toBeNull();
    expect(api.subscriberCount('SpaceEvents')).toBe(0);
  });

  it('leaving from the docked player lets go of the space and its audio', async () => {
    const { deps, api, inSpace } = setup();
    const active = new ActiveSpace();
    const live = active.open('S1', deps);
    await settle();
    await live.room.join();
    await settle();
    active.close(live);
    await settle();
    expect(await active.leave()).toBe(true);
    expect(inSpace.has('S1')).toBe(false);
    expect(active.held).toBeNull();
    expect(live.disposed).toBe(true);
    expect(live.audio.state).toBe('idle');
    expect(api.subscriberCount('SpaceEvents')).toBe(0);
  });

  it('the space ending (or the viewer removed) while docked releases it', async () => {
    const { deps, api } = setup();
    const active = new ActiveSpace();
    const live = active.open('S1', deps);
    await settle();
    await live.room.join();
    await settle();
    active.close(live);
    await settle();
    api.emit('SpaceEvents', { spaceEvents: { kind: 'SPACE_ENDED', at: '2026-01-01T01:00:00.000Z', emoji: null, user: null, participant: null, audience: null } });
    await settle();
    expect(active.held).toBeNull();
    expect(active.docked).toBeNull();
    expect(live.disposed).toBe(true);
  });

  it('joining a second space leaves the first (one space at a time)', async () => {
    const { deps, inSpace } = setup();
    const active = new ActiveSpace();
    const first = active.open('S1', deps);
    await settle();
    await first.room.join();
    await settle();
    active.close(first);
    await settle();
    const second = active.open('S2', deps);
    await settle();
    expect(active.docked).toBe(first); // browsing another space's page: the first still plays
    await second.room.join();
    await settle();
    expect(active.held).toBe(second);
    await vi.waitFor(() => expect(first.disposed).toBe(true));
    expect(inSpace.has('S1')).toBe(false);
    expect(inSpace.has('S2')).toBe(true);
  });

  it('warns a host about the grace period', async () => {
    const { deps, api } = setup();
    api.on('SpaceRoom', () => ({ viewer: { ...user('1'), isGuest: false }, space: space('S1', { viewerParticipant: host }) }));
    const active = new ActiveSpace();
    active.open('S1', deps);
    await settle();
    expect(active.signOutWarning).toMatch(/^You're hosting “Space S1”\..*ends for everyone\.$/);
  });
});
