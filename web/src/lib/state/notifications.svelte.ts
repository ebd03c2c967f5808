import { getContext, setContext } from 'svelte';
import { toAppError, type AppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import {
  MarkNotificationsReadMutation,
  NotificationsQuery,
  NotificationsSubscription,
  UnreadNotificationCountQuery,
  type NotificationData,
} from '$lib/graphql/documents';

const PAGE = 20;

/** A notification in words, and where tapping it goes. */
export interface NotificationText {
  text: string;
  href: string;
}

/** "Hana started “Jazz talk”": what happened, who did it, to which space. */
export function describeNotification(n: Pick<NotificationData, 'kind' | 'actor' | 'space'> & { fleet?: NotificationData['fleet'] }): NotificationText {
  const who = n.actor?.displayName ?? 'Someone';
  const title = n.space ? `“${n.space.title}”` : 'a space';
  const href = n.space ? `/s/${n.space.id}` : n.actor ? `/u/${n.actor.handle}` : '/notifications';
  switch (n.kind) {
    case 'SPEAKER_INVITED':
      return { text: `${who} invited you to speak in ${title}`, href };
    case 'HAND_RAISED':
      return { text: `${who} raised their hand in ${title}`, href };
    case 'SPACE_STARTED':
      return { text: `${who} started ${title}`, href };
    case 'SPACE_REMINDER':
      // The actor is the host who started it.
      return { text: n.actor ? `${who} started ${title}: you set a reminder` : `${title} is starting now: you set a reminder`, href };
    case 'SPACE_CANCELLED':
      return { text: `${n.actor ? who : 'The host'} cancelled ${title}`, href };
    case 'FLEET_REPLY': {
      // Replies are private to the author: the link opens the fleet with its replies.
      const replier = n.actor ? `@${n.actor.handle}` : 'Someone';
      if (!n.fleet) return { text: `${replier} replied to your fleet (it has expired)`, href: n.actor ? `/u/${n.actor.handle}` : '/notifications' };
      return {
        text: `${replier} replied to your fleet`,
        href: `/fleets/${n.fleet.author.handle}?fleet=${encodeURIComponent(n.fleet.id)}&show=replies`,
      };
    }
    default:
      return { text: `${who}: ${title}`, href };
  }
}

export type Permission = NotificationPermission | 'unsupported';

/** The browser's Notification API, as the center uses it (a spec passes a fake). */
export interface SystemNotifier {
  permission(): Permission;
  requestPermission(): Promise<Permission>;
  /** Whether the app is in the background (another tab, minimised). */
  hidden(): boolean;
  show(title: string, options: { body: string; tag: string; href: string }): void;
}

/** The real one: window.Notification; a click brings the tab forward and opens the link. */
export function browserNotifier(open: (href: string) => void): SystemNotifier {
  const supported = typeof window !== 'undefined' && 'Notification' in window;
  return {
    permission: () => (supported ? Notification.permission : 'unsupported'),
    requestPermission: async () => (supported ? await Notification.requestPermission() : 'unsupported'),
    hidden: () => typeof document !== 'undefined' && document.hidden,
    show(title, { body, tag, href }) {
      if (!supported || Notification.permission !== 'granted') return;
      const shown = new Notification(title, { body, tag, icon: '/icons/icon-192.png' });
      shown.onclick = () => {
        window.focus();
        open(href);
        shown.close();
      };
    },
  };
}

/**
 * The viewer's notifications: the unread count for the navigation's badge (live through
 * Subscription.notifications), the list the notifications page shows (newest first, paged), and
 * the browser's own notifications while the app is in the background.
 */
export class NotificationCenter {
  #items = $state<NotificationData[]>([]);
  #unread = $state(0);
  #status = $state<'idle' | 'loading' | 'ready' | 'error'>('idle');
  #error = $state<AppError | null>(null);
  #cursor: string | null = null;
  #hasMore = $state(false);
  #loadingMore = $state(false);
  #permission = $state<Permission>('unsupported');
  /** The notifications page is on screen: what arrives is read at once. */
  #viewing = false;
  #stop: (() => void)[] = [];
  #api: Api;
  #system: SystemNotifier;

  constructor(api: Api, system: SystemNotifier) {
    this.#api = api;
    this.#system = system;
    this.#permission = system.permission();
  }

  get items(): NotificationData[] {
    return this.#items;
  }
  get unread(): number {
    return this.#unread;
  }
  get status() {
    return this.#status;
  }
  get error(): AppError | null {
    return this.#error;
  }
  get hasMore(): boolean {
    return this.#hasMore;
  }
  get loadingMore(): boolean {
    return this.#loadingMore;
  }
  get permission(): Permission {
    return this.#permission;
  }

  /** Follows the viewer's notifications (signed in), or forgets them (signed out). */
  start(signedIn: boolean): void {
    this.stop();
    this.#items = [];
    this.#unread = 0;
    this.#status = 'idle';
    this.#hasMore = false;
    this.#cursor = null;
    if (!signedIn) return;
    void this.refreshCount();
    this.#stop.push(
      this.#api.subscribe(NotificationsSubscription, {}, {
        next: (data) => this.#arrived(data.notifications),
        error: (error) => console.warn('[notifications] subscription failed', error.message),
      }),
      // Whatever came while the socket was down: the count, and the list if it is shown.
      this.#api.onReconnected(() => {
        void this.refreshCount();
        if (this.#status !== 'idle') void this.load();
      }),
    );
  }

  stop(): void {
    for (const stop of this.#stop) stop();
    this.#stop = [];
  }

  async refreshCount(): Promise<void> {
    try {
      this.#unread = (await this.#api.query(UnreadNotificationCountQuery, {})).unreadNotificationCount;
    } catch (error) {
      console.warn('[notifications] unread count failed', toAppError(error).message);
    }
  }

  /** The first page (newest first). */
  async load(): Promise<void> {
    if (this.#status !== 'ready') this.#status = 'loading';
    try {
      const data = await this.#api.query(NotificationsQuery, { first: PAGE, after: null });
      this.#items = data.notifications.edges.map((e) => e.node);
      this.#cursor = data.notifications.pageInfo.endCursor ?? null;
      this.#hasMore = data.notifications.pageInfo.hasNextPage;
      this.#unread = data.unreadNotificationCount;
      this.#status = 'ready';
      this.#error = null;
    } catch (error) {
      this.#error = toAppError(error);
      this.#status = 'error';
    }
  }

  async loadMore(): Promise<void> {
    if (!this.#hasMore || !this.#cursor || this.#loadingMore) return;
    this.#loadingMore = true;
    try {
      const data = await this.#api.query(NotificationsQuery, { first: PAGE, after: this.#cursor });
      const seen = new Set(this.#items.map((n) => n.id));
      this.#items = [...this.#items, ...data.notifications.edges.map((e) => e.node).filter((n) => !seen.has(n.id))];
      this.#cursor = data.notifications.pageInfo.endCursor ?? null;
      this.#hasMore = data.notifications.pageInfo.hasNextPage;
      this.#error = null;
    } catch (error) {
      this.#error = toAppError(error);
    } finally {
      this.#loadingMore = false;
    }
  }

  /**
   * The notifications page is shown: load it and mark everything read (the items keep their
   * "new" look until the next visit, so the person sees what was new).
   */
  async open(): Promise<void> {
    this.#viewing = true;
    await this.load();
    if (this.#unread > 0 || this.#items.some((n) => !n.read)) await this.#markRead();
  }

  close(): void {
    this.#viewing = false;
  }

  async #markRead(ids?: string[]): Promise<void> {
    const before = this.#unread;
    this.#unread = ids ? Math.max(0, this.#unread - ids.length) : 0;
    try {
      const left = (await this.#api.mutate(MarkNotificationsReadMutation, ids ? { ids } : {})).markNotificationsRead;
      this.#unread = left;
    } catch (error) {
      this.#unread = before;
      console.warn('[notifications] marking read failed', toAppError(error).message);
    }
  }

  #arrived(notification: NotificationData): void {
    if (this.#items.some((n) => n.id === notification.id)) return;
    if (this.#status !== 'idle') this.#items = [notification, ...this.#items];
    const { text, href } = describeNotification(notification);
    if (this.#viewing && !this.#system.hidden()) {
      void this.#markRead([notification.id]);
      return;
    }
    this.#unread += 1;
    if (this.#system.hidden() && this.#permission === 'granted') {
      this.#system.show('Spaces', { body: text, tag: notification.id, href });
    }
  }

  /** Asks the browser for permission to notify (only ever from a click). */
  async requestPermission(): Promise<Permission> {
    try {
      this.#permission = await this.#system.requestPermission();
    } catch {
      this.#permission = this.#system.permission();
    }
    return this.#permission;
  }
}

const KEY = Symbol('spaces-notifications');

export function setNotificationCenter(center: NotificationCenter): NotificationCenter {
  return setContext(KEY, center);
}

/** The app's notification center, from the root layout. */
export function useNotificationCenter(): NotificationCenter {
  const center = getContext<NotificationCenter | undefined>(KEY);
  if (!center) throw new Error('useNotificationCenter() outside the root layout');
  return center;
}
