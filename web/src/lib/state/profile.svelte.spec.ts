import { describe, expect, it } from 'vitest';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { Profile, UserList } from './profile.svelte';

const grace = {
  id: 'U2',
  handle: 'grace',
  displayName: 'Grace',
  followerCount: 3,
  followingCount: 1,
  followsViewer: false,
  viewerFollows: false,
};

describe('Profile', () => {
  it('loads a user with counts, and knows when it is the viewer', async () => {
    const api = new FakeApi().on('Profile', { viewer: { id: 'U1' }, user: grace });
    const profile = new Profile(api);
    await profile.load('grace');
    expect(profile.status).toBe('ready');
    expect(profile.user?.followerCount).toBe(3);
    expect(profile.isSelf).toBe(false);
    api.on('Profile', { viewer: { id: 'U2' }, user: grace });
    await profile.load('grace');
    expect(profile.isSelf).toBe(true);
  });

  it('says when no one has the handle', async () => {
    const profile = new Profile(new FakeApi().on('Profile', { viewer: null, user: null }));
    await profile.load('ghost');
    expect(profile.status).toBe('not-found');
  });

  it('follows at once, then takes the server numbers', async () => {
    const api = new FakeApi()
      .on('Profile', { viewer: { id: 'U1' }, user: grace })
      .on('Follow', { follow: { id: 'U2', viewerFollows: true, followerCount: 10 } });
    const profile = new Profile(api);
    await profile.load('grace');
    const following = profile.toggleFollow();
    expect(profile.user?.viewerFollows).toBe(true);
    expect(profile.user?.followerCount).toBe(4);
    await following;
    expect(profile.user?.followerCount).toBe(10);
    expect(api.callsTo('Follow')[0]?.variables).toEqual({ userId: 'U2' });
  });

  it('puts the counts back when the server refuses, and throws the words', async () => {
    const api = new FakeApi()
      .on('Profile', { viewer: { id: 'U1' }, user: { ...grace, viewerFollows: true } })
      .on('Unfollow', graphQLError('UNAUTHENTICATED', 'Sign in first.'));
    const profile = new Profile(api);
    await profile.load('grace');
    await expect(profile.toggleFollow()).rejects.toMatchObject({ message: 'You need to sign in to do that.' });
    expect(profile.user?.viewerFollows).toBe(true);
    expect(profile.user?.followerCount).toBe(3);
  });
});

describe('UserList', () => {
  const node = (n: number) => ({ node: { id: `U${n}`, handle: `u${n}`, displayName: `U ${n}`, viewerFollows: false } });

  it('pages through followers', async () => {
    const api = new FakeApi().on('Followers', (v: Record<string, unknown>) => ({
      user: {
        id: 'U2',
        followers: v.after
          ? { edges: [node(2), node(3)], pageInfo: { hasNextPage: false, endCursor: 'c2' } }
          : { edges: [node(1), node(2)], pageInfo: { hasNextPage: true, endCursor: 'c1' } },
      },
    }));
    const list = new UserList(api);
    await list.load('grace', 'followers');
    expect(list.users.map((u) => u.id)).toEqual(['U1', 'U2']);
    await list.loadMore();
    expect(api.callsTo('Followers')[1]?.variables).toEqual({ handle: 'grace', first: 30, after: 'c1' });
    expect(list.users.map((u) => u.id)).toEqual(['U1', 'U2', 'U3']);
    expect(list.hasMore).toBe(false);
  });

  it('lists following with its own query', async () => {
    const api = new FakeApi().on('Following', {
      user: { id: 'U2', following: { edges: [node(7)], pageInfo: { hasNextPage: false, endCursor: null } } },
    });
    const list = new UserList(api);
    await list.load('grace', 'following');
    expect(list.users.map((u) => u.id)).toEqual(['U7']);
    expect(api.callsTo('Followers')).toHaveLength(0);
  });

  it('says when the user does not exist', async () => {
    const list = new UserList(new FakeApi().on('Followers', { user: null }));
    await list.load('ghost', 'followers');
    expect(list.status).toBe('not-found');
  });
});
