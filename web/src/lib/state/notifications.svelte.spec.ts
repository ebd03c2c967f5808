import { describe, expect, it } from 'vitest';
import type { NotificationData } from '$lib/graphql/documents';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { describeNotification, NotificationCenter, type Permission, type SystemNotifier } from './notifications.svelte';

const hana = { id: 'H', handle: 'hana', displayName: 'Hana', avatarUrl: null };
const note = (id: string, kind: NotificationData['kind'] = 'SPACE_STARTED', read = false): NotificationData => ({
  id,
  kind,
  createdAt: '2026-06-01T12:00:00.000Z',
  read,
  actor: hana,
  space: { id: 'S1', title: 'Jazz talk', state: 'LIVE', scheduledFor: null, cancelled: false },
  fleet: null,
});

const page = (nodes: NotificationData[], unread: number, endCursor: string | null = null, hasNextPage = false) => ({
  notifications: { edges: nodes.map((node) => ({ node })), pageInfo: { endCursor, hasNextPage } },
  unreadNotificationCount: unread,
});

class FakeSystem implements SystemNotifier {
  granted: Permission = 'default';
  isHidden = false;
  shown: { title: string; body: string; href: string }[] = [];
  asked = 0;
  permission = () => this.granted;
  async requestPermission() {
    this.asked++;
    this.granted = 'granted';
    return this.granted;
  }
  hidden = () => this.isHidden;
  show(title: string, options: { body: string; tag: string; href: string }) {
    this.shown.push({ title, body: options.body, href: options.href });
  }
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('describeNotification', () => {
  it('puts each kind in words, with a link to the space', () => {
    expect(describeNotification(note('1', 'SPACE_STARTED'))).toEqual({ text: 'Hana started “Jazz talk”', href: '/s/S1' });
    expect(describeNotification(note('1', 'SPEAKER_INVITED')).text).toBe('Hana invited you to speak in “Jazz talk”');
    expect(describeNotification(note('1', 'HAND_RAISED')).text).toBe('Hana raised their hand in “Jazz talk”');
    expect(describeNotification(note('1', 'SPACE_REMINDER')).text).toBe('Hana started “Jazz talk”: you set a reminder');
    expect(describeNotification({ ...note('1', 'SPACE_REMINDER'), actor: null }).text).toBe('“Jazz talk” is starting now: you set a reminder');
    expect(describeNotification(note('1', 'SPACE_CANCELLED')).text).toBe('Hana cancelled “Jazz talk”');
    expect(describeNotification({ kind: 'SPACE_STARTED', actor: hana, space: null }).href).toBe('/u/hana');
  });

  it('says who replied to a fleet and links to that fleet with its replies open', () => {
    const reply = { ...note('2', 'FLEET_REPLY'), space: null, fleet: { id: 'F:1', author: { handle: 'me' } } };
    expect(describeNotification(reply)).toEqual({ text: '@hana replied to your fleet', href: '/fleets/me?fleet=F%3A1&show=replies' });
    // Expired: the words stay, the link goes to the replier.
    expect(describeNotification({ ...reply, fleet: null })).toEqual({ text: '@hana replied to your fleet (it has expired)', href: '/u/hana' });
  });
});

describe('NotificationCenter', () => {
  it('keeps the unread count live, and shows a browser notification only in the background with permission', async () => {
    const system = new FakeSystem();
    const api = new FakeApi().on('UnreadNotificationCount', { unreadNotificationCount: 2 });
    const center = new NotificationCenter(api, system);
    center.start(true);
    await flush();
    expect(center.unread).toBe(2);

    api.emit('NotificationsLive', { notifications: note('n1') });
    expect(center.unread).toBe(3);
    expect(system.shown).toEqual([]);

    system.isHidden = true;
    api.emit('NotificationsLive', { notifications: note('n2') });
    expect(system.shown).toEqual([]); // no permission yet
    await center.requestPermission();
    expect(system.asked).toBe(1);
    api.emit('NotificationsLive', { notifications: note('n3', 'SPEAKER_INVITED') });
    expect(system.shown).toEqual([{ title: 'Spaces', body: 'Hana invited you to speak in “Jazz talk”', href: '/s/S1' }]);
    expect(center.unread).toBe(5);

    center.start(false);
    expect(center.unread).toBe(0);
    expect(api.subscriberCount('NotificationsLive')).toBe(0);
  });

  it('opening the page loads it, marks everything read, and reads what arrives while it is shown', async () => {
    const api = new FakeApi()
      .on('UnreadNotificationCount', { unreadNotificationCount: 1 })
      .on('Notifications', page([note('n1')], 1))
      .on('MarkNotificationsRead', (v: Record<string, unknown>) => ({ markNotificationsRead: 0 }));
    const center = new NotificationCenter(api, new FakeSystem());
    center.start(true);
    await center.open();
    expect(center.items.map((n) => n.id)).toEqual(['n1']);
    expect(api.callsTo('MarkNotificationsRead')[0]?.variables).toEqual({});
    expect(center.unread).toBe(0);

    api.emit('NotificationsLive', { notifications: note('n2') });
    expect(center.items.map((n) => n.id)).toEqual(['n2', 'n1']);
    await flush();
    expect(api.callsTo('MarkNotificationsRead')[1]?.variables).toEqual({ ids: ['n2'] });
    expect(center.unread).toBe(0);

    // The same notification twice (a reconnect) is listed once.
    api.emit('NotificationsLive', { notifications: note('n2') });
    expect(center.items).toHaveLength(2);

    center.close();
    api.emit('NotificationsLive', { notifications: note('n3') });
    expect(center.unread).toBe(1);
  });

  it('pages older notifications, and keeps an error in words', async () => {
    const api = new FakeApi()
      .on('UnreadNotificationCount', { unreadNotificationCount: 0 })
      .on('Notifications', (v: Record<string, unknown>) => (v.after ? page([note('n2', 'SPACE_STARTED', true), note('n3', 'SPACE_STARTED', true)], 0) : page([note('n1', 'SPACE_STARTED', true), note('n2', 'SPACE_STARTED', true)], 0, 'c1', true)));
    const center = new NotificationCenter(api, new FakeSystem());
    await center.load();
    expect(center.hasMore).toBe(true);
    await center.loadMore();
    expect(api.callsTo('Notifications')[1]?.variables).toEqual({ first: 20, after: 'c1' });
    expect(center.items.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);

    const failing = new NotificationCenter(new FakeApi().on('Notifications', graphQLError('INTERNAL_SERVER_ERROR', 'boom')), new FakeSystem());
    await failing.load();
    expect(failing.status).toBe('error');
    expect(failing.error?.message).toMatch(/on our side/);
  });
});
