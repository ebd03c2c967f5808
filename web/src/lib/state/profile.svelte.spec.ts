import { flushSync } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { AVATAR_MAX_BYTES, httpAvatarUploader, Profile, ProfileEditor, ProfileSpaces, UserList, type AvatarUploader } from './profile.svelte';

const grace = {
  id: 'U2',
  handle: 'grace',
  displayName: 'Grace',
  avatarUrl: null,
  avatarLargeUrl: null,
  bio: '',
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
  const node = (n: number) => ({ node: { id: `U${n}`, handle: `u${n}`, displayName: `U ${n}`, avatarUrl: null, viewerFollows: false } });

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

  it("shows only the open list when another user's list arrives late", async () => {
    let release!: () => void;
    const late = new Promise<void>((r) => (release = r));
    const api = new FakeApi().on('Followers', async (v: Record<string, unknown>) => {
      if (v.handle === 'ada') await late;
      return { user: { id: 'U2', followers: { edges: [node(v.handle === 'ada' ? 1 : 2)], pageInfo: { hasNextPage: false, endCursor: null } } } };
    });
    const list = new UserList(api);
    const first = list.load('ada', 'followers');
    await list.load('grace', 'followers');
    release();
    await first;
    expect(list.users.map((u) => u.id)).toEqual(['U2']);
    expect(list.status).toBe('ready');
  });

  it('keeps the users shown when a further page fails, and says why', async () => {
    const api = new FakeApi().on('Followers', (v: Record<string, unknown>) =>
      v.after ? graphQLError('INTERNAL_SERVER_ERROR', 'boom') : { user: { id: 'U2', followers: { edges: [node(1)], pageInfo: { hasNextPage: true, endCursor: 'c1' } } } },
    );
    const list = new UserList(api);
    await list.load('grace', 'followers');
    await list.loadMore();
    expect(list.users.map((u) => u.id)).toEqual(['U1']);
    expect(list.status).toBe('ready');
    expect(list.loadingMore).toBe(false);
    expect(list.error?.message).toMatch(/on our side/);
  });

  it('loads once when called from an effect, as the followers page does', async () => {
    const api = new FakeApi().on('Followers', { user: { id: 'U2', followers: { edges: [node(1)], pageInfo: { hasNextPage: false, endCursor: null } } } });
    const list = new UserList(api);
    const stop = $effect.root(() => {
      $effect(() => {
        void list.load('grace', 'followers');
      });
    });
    try {
      flushSync();
      await vi.waitFor(() => expect(list.status).toBe('ready'));
      flushSync();
      expect(api.callsTo('Followers')).toHaveLength(1);
    } finally {
      stop();
    }
  });

  it('follows someone listed at once, takes the server answer, and puts the button back when refused', async () => {
    const api = new FakeApi()
      .on('Followers', { user: { id: 'U2', followers: { edges: [node(1), node(2)], pageInfo: { hasNextPage: false, endCursor: null } } } })
      .on('Follow', { follow: { id: 'U1', viewerFollows: true, followerCount: 1 } });
    const list = new UserList(api);
    await list.load('grace', 'followers');
    const following = list.toggleFollow('U1');
    expect(list.users.find((u) => u.id === 'U1')?.viewerFollows).toBe(true);
    expect(list.isPending('U1')).toBe(true);
    await list.toggleFollow('U1'); // a second click while the first is on its way does nothing
    await following;
    expect(api.callsTo('Follow')).toEqual([{ name: 'Follow', variables: { userId: 'U1' } }]);
    expect(list.isPending('U1')).toBe(false);
    expect(list.users.map((u) => u.viewerFollows)).toEqual([true, false]);

    api.on('Follow', graphQLError('RATE_LIMITED', 'Slow down.'));
    await expect(list.toggleFollow('U2')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect(list.users.map((u) => u.viewerFollows)).toEqual([true, false]);
    expect(list.isPending('U2')).toBe(false);
  });

  it('says when the user does not exist', async () => {
    const list = new UserList(new FakeApi().on('Followers', { user: null }));
    await list.load('ghost', 'followers');
    expect(list.status).toBe('not-found');
  });
});

describe('ProfileEditor', () => {
  const start = { displayName: 'Grace', bio: '', avatarUrl: null, avatarLargeUrl: null };
  const saved = (input: { displayName: string; bio: string }) => ({
    updateProfile: { id: 'U2', handle: 'grace', ...input, avatarUrl: null, avatarLargeUrl: null },
  });
  const urls = { create: (b: Blob) => `blob:${b.size}`, revoke: () => undefined };
  const never: AvatarUploader = () => Promise.reject(new Error('no upload expected'));

  it('saves name and bio as one line each, and knows when nothing changed', async () => {
    const api = new FakeApi().on('UpdateProfile', (v: Record<string, unknown>) => saved((v as { input: { displayName: string; bio: string } }).input));
    const editor = new ProfileEditor(api, start, never, urls);
    expect(editor.dirty).toBe(false);
    editor.bio = 'Makes  radio\nfor the 🌍 ';
    expect(editor.bio).toBe('Makes  radio for the 🌍 ');
    expect(editor.dirty).toBe(true);
    const result = await editor.save();
    expect(api.callsTo('UpdateProfile')[0]?.variables).toEqual({ input: { displayName: 'Grace', bio: 'Makes radio for the 🌍' } });
    expect(result?.bio).toBe('Makes radio for the 🌍');
    expect(editor.dirty).toBe(false);
  });

  it('counts the bio in characters as the API does (an emoji is one), and refuses 161', async () => {
    const api = new FakeApi();
    const editor = new ProfileEditor(api, start, never, urls);
    editor.bio = '🎙'.repeat(160);
    expect(editor.bioLeft).toBe(0);
    expect(editor.errors.bio).toBeUndefined();
    editor.bio += 'x';
    expect(editor.bioLeft).toBe(-1);
    expect(editor.errors.bio).toBe('Use at most 160 characters.');
    editor.displayName = '   ';
    expect(await editor.save()).toBeNull();
    expect(editor.errors.displayName).toBe('Enter the name people will see.');
    expect(api.calls).toHaveLength(0);
  });

  it('shows the API refusal beside its field, and other errors for the form', async () => {
    const api = new FakeApi().on('UpdateProfile', graphQLError('BAD_USER_INPUT', 'bio: must not contain invisible characters', { field: 'bio' }));
    const editor = new ProfileEditor(api, start, never, urls);
    editor.bio = 'hi';
    await editor.save();
    expect(editor.errors.bio).toBe('Bio must not contain invisible characters.');
    expect(editor.error).toBeNull();
    editor.bio = 'hello';
    expect(editor.errors.bio).toBeUndefined();
    api.on('UpdateProfile', graphQLError('RATE_LIMITED', 'slow'));
    await editor.save();
    expect(editor.error?.code).toBe('RATE_LIMITED');
  });

  it('uploads a chosen picture with a preview meanwhile, then shows the new avatar', async () => {
    let finish: ((value: { avatarUrl: string; avatarSmallUrl: string }) => void) | undefined;
    const sent: Blob[] = [];
    const upload: AvatarUploader = (image) => {
      sent.push(image);
      return new Promise((resolve) => (finish = resolve));
    };
    const revoked: string[] = [];
    const editor = new ProfileEditor(new FakeApi(), start, upload, { create: (b) => `blob:${b.size}`, revoke: (u) => revoked.push(u) });
    const picture = new Blob([new Uint8Array(10)], { type: 'image/png' });
    const done = editor.chooseAvatar(picture);
    expect(editor.uploading).toBe(true);
    expect(editor.avatarPreview).toBe('blob:10');
    finish!({ avatarUrl: '/media/avatars/a-400.webp', avatarSmallUrl: '/media/avatars/a-96.webp' });
    expect(await done).toEqual({ avatarUrl: '/media/avatars/a-400.webp', avatarSmallUrl: '/media/avatars/a-96.webp' });
    expect(sent).toEqual([picture]);
    expect(editor.avatarPreview).toBe('/media/avatars/a-400.webp');
    expect(editor.hasAvatar).toBe(true);
    expect(revoked).toEqual(['blob:10']);
  });

  it('refuses what is not a picture or too big before sending it, in the same words as the server', async () => {
    const editor = new ProfileEditor(new FakeApi(), start, never, urls);
    expect(await editor.chooseAvatar(new Blob(['%PDF'], { type: 'application/pdf' }))).toBeNull();
    expect(editor.avatarError).toMatchObject({ reason: 'NOT_AN_IMAGE', message: expect.stringMatching(/isn't a picture/) });
    const huge = { type: 'image/jpeg', size: AVATAR_MAX_BYTES + 1 } as Blob;
    expect(await editor.chooseAvatar(huge)).toBeNull();
    expect(editor.avatarError?.message).toMatch(/too big/);
  });

  it('shows the server refusal of an upload and keeps the old avatar', async () => {
    const refuse: AvatarUploader = () =>
      Promise.reject(graphQLError('BAD_USER_INPUT', 'avatar: has 40,000,000 pixels', { field: 'avatar', reason: 'TOO_MANY_PIXELS' }));
    const editor = new ProfileEditor(new FakeApi(), { ...start, avatarLargeUrl: '/media/old-400.webp' }, refuse, urls);
    expect(await editor.chooseAvatar(new Blob([new Uint8Array(4)], { type: 'image/png' }))).toBeNull();
    expect(editor.avatarError?.message).toMatch(/too many pixels/);
    expect(editor.avatarPreview).toBe('/media/old-400.webp');
    expect(editor.uploading).toBe(false);
  });

  it('removes the avatar', async () => {
    const api = new FakeApi().on('RemoveAvatar', { removeAvatar: { id: 'U2', handle: 'grace', displayName: 'Grace', avatarUrl: null, avatarLargeUrl: null } });
    const editor = new ProfileEditor(api, { ...start, avatarLargeUrl: '/media/old-400.webp' }, never, urls);
    expect(editor.hasAvatar).toBe(true);
    expect(await editor.removeAvatar()).toBe(true);
    expect(editor.hasAvatar).toBe(false);
    expect(editor.avatarPreview).toBeNull();
  });
});

describe('httpAvatarUploader', () => {
  it('posts the image itself with its content type, and reads the URLs', async () => {
    const requests: { url: string; init: RequestInit }[] = [];
    const upload = httpAvatarUploader(async (url, init) => {
      requests.push({ url: String(url), init: init! });
      return new Response(JSON.stringify({ data: { avatarUrl: '/a-400.webp', avatarSmallUrl: '/a-96.webp' } }), { status: 200 });
    });
    const image = new Blob([new Uint8Array(3)], { type: 'image/jpeg' });
    expect(await upload(image)).toEqual({ avatarUrl: '/a-400.webp', avatarSmallUrl: '/a-96.webp' });
    expect(requests[0]?.url).toBe('/media/avatar');
    expect(requests[0]?.init.method).toBe('POST');
    expect(requests[0]?.init.body).toBe(image);
    expect(requests[0]?.init.headers).toEqual({ 'content-type': 'image/jpeg' });
  });

  it('turns the error answers into words', async () => {
    const refusing = httpAvatarUploader(async () =>
      new Response(JSON.stringify({ errors: [{ message: 'avatar: not an image', extensions: { code: 'BAD_USER_INPUT', field: 'avatar', reason: 'NOT_AN_IMAGE' } }] }), { status: 415 }),
    );
    await expect(refusing(new Blob(['x'], { type: 'image/png' }))).rejects.toMatchObject({ reason: 'NOT_AN_IMAGE' });
    const proxy = httpAvatarUploader(async () => new Response('<html>413</html>', { status: 413 }));
    await expect(proxy(new Blob(['x'], { type: 'image/png' }))).rejects.toMatchObject({ reason: 'TOO_LARGE' });
    const offline = httpAvatarUploader(async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(offline(new Blob(['x'], { type: 'image/png' }))).rejects.toMatchObject({ code: 'NETWORK' });
  });
});

describe('ProfileSpaces', () => {
  const upcoming = (id: string, cancelled = false) => ({
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
    cancelled,
    viewerHasReminder: false,
    reminderCount: 0,
  });
  const recent = (id: string) => ({ id, title: `Old ${id}`, startedAt: '2026-05-01T10:00:00.000Z', endedAt: '2026-05-01T11:00:00.000Z' });

  it('loads the live space, the upcoming ones and the recent ones page by page', async () => {
    const api = new FakeApi()
      .on('ProfileSpaces', { user: { id: 'H', liveSpace: { id: 'L1', title: 'On air' }, upcomingSpaces: [upcoming('u1'), upcoming('u2', true)] } })
      .on('RecentSpaces', (v: Record<string, unknown>) => ({
        user: {
          id: 'H',
          recentSpaces: v.after
            ? { edges: [{ node: recent('r2') }, { node: recent('r3') }], pageInfo: { endCursor: null, hasNextPage: false } }
            : { edges: [{ node: recent('r1') }, { node: recent('r2') }], pageInfo: { endCursor: 'c1', hasNextPage: true } },
        },
      }));
    const spaces = new ProfileSpaces(api);
    await spaces.load('hana');
    expect(spaces.liveSpace).toEqual({ id: 'L1', title: 'On air' });
    expect(spaces.upcoming.items.map((s) => s.id)).toEqual(['u1']);
    expect(spaces.recent.map((s) => s.id)).toEqual(['r1', 'r2']);
    await spaces.loadMoreRecent();
    expect(api.callsTo('RecentSpaces')[1]?.variables).toEqual({ handle: 'hana', first: 10, after: 'c1' });
    expect(spaces.recent.map((s) => s.id)).toEqual(['r1', 'r2', 'r3']);
    expect(spaces.recentHasMore).toBe(false);
  });

  it("shows only the open profile's recent spaces when the previous profile's arrive late", async () => {
    let release!: () => void;
    const late = new Promise<void>((r) => (release = r));
    const api = new FakeApi()
      .on('ProfileSpaces', { user: { id: 'H', liveSpace: null, upcomingSpaces: [] } })
      .on('RecentSpaces', async (v: Record<string, unknown>) => {
        if (v.handle === 'ada') await late;
        return { user: { id: 'H', recentSpaces: { edges: [{ node: recent(`${v.handle}-1`) }], pageInfo: { endCursor: null, hasNextPage: false } } } };
      });
    const spaces = new ProfileSpaces(api);
    const first = spaces.load('ada');
    await spaces.load('hana');
    release();
    await first;
    expect(spaces.recent.map((s) => s.id)).toEqual(['hana-1']);
    expect(spaces.loadingRecent).toBe(false);
  });

  it('loads once when called from an effect, as the profile page does (no effect depending on the list it replaces)', async () => {
    const api = new FakeApi()
      .on('ProfileSpaces', { user: { id: 'H', liveSpace: null, upcomingSpaces: [] } })
      .on('RecentSpaces', { user: { id: 'H', recentSpaces: { edges: [{ node: recent('r1') }], pageInfo: { endCursor: null, hasNextPage: false } } } });
    const spaces = new ProfileSpaces(api);
    const stop = $effect.root(() => {
      $effect(() => {
        void spaces.load('hana');
      });
    });
    try {
      flushSync();
      await vi.waitFor(() => expect(spaces.recent.map((s) => s.id)).toEqual(['r1']));
      flushSync();
      expect(api.callsTo('RecentSpaces')).toHaveLength(1);
    } finally {
      stop();
    }
  });

  it('keeps the error in words when they cannot load', async () => {
    const spaces = new ProfileSpaces(new FakeApi().on('ProfileSpaces', graphQLError('INTERNAL_SERVER_ERROR', 'boom')).on('RecentSpaces', { user: null }));
    await spaces.load('hana');
    expect(spaces.error?.message).toMatch(/on our side/);
    expect(spaces.liveSpace).toBeNull();
  });
});
