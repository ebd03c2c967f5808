import { builder } from '../builder.ts';
import { unauthenticated } from '../errors.ts';
import { parseGlobalId } from '../lib/ids.ts';
import { pageSize } from '../lib/pagination.ts';
import { transformStream } from '../lib/streams.ts';
import { renewLoaders } from '../context.ts';
import { rowOfPayload, type NotificationRow } from '../services/notifications.ts';
import { badInput } from '../errors.ts';
import { Space } from './space.ts';
import { User } from './user.ts';
import { Fleet } from './fleet.ts';

export const NotificationKind = builder.enumType('NotificationKind', {
  description: 'What a notification is about.',
  values: {
    SPEAKER_INVITED: { description: 'A host or co-host (actor) invited the viewer to speak in `space`.' },
    HAND_RAISED: { description: 'Someone (actor) raised their hand in a live space the viewer hosts or co-hosts.' },
    SPACE_STARTED: {
      description: 'An account the viewer follows (actor) started `space`, or opened it live. Not sent to those with a reminder for it (they get SPACE_REMINDER).',
    },
    SPACE_REMINDER: { description: 'A scheduled space the viewer set a reminder for has started.' },
    SPACE_CANCELLED: { description: 'A scheduled space the viewer set a reminder for was cancelled by its host (actor).' },
    FLEET_REPLY: { description: 'Someone (actor) replied to or reacted to the viewer\'s `fleet`; read it in Fleet.replies. Gone when the fleet expires.' },
  } as const,
});

export const Notification = builder.nodeRef<NotificationRow>('Notification', {
  id: { resolve: (row) => row.id },
  loadOne: (id, ctx) => ctx.services.notifications.byIdFor(ctx.viewer?.id ?? null, id),
});
export const NotificationConnection = builder.connectionObject({ type: Notification, name: 'NotificationConnection', description: 'A page of Notification objects.' });

Notification.implement({
  description:
    'Something that happened to or for the viewer, kept 30 days. Only its recipient can see it (node(id) is null for anyone else). The same news (kind, actor and space) is not repeated while the viewer has it unread: a hand lowered and raised again makes one HAND_RAISED until it is read.',
  fields: (t) => ({
    kind: t.field({ type: NotificationKind, resolve: (n) => n.kind }),
    createdAt: t.field({ type: 'DateTime', resolve: (n) => n.createdAt }),
    read: t.boolean({ description: 'Whether markNotificationsRead has marked it read.', resolve: (n) => n.readAt !== null }),
    actor: t.field({
      type: User,
      nullable: true,
      description: 'Who did it: the inviter, the hand raiser, the host who started or cancelled.',
      resolve: (n, _a, ctx) => (n.actorId ? ctx.loaders.user.load(n.actorId) : null),
    }),
    space: t.field({
      type: Space,
      nullable: true,
      description: 'The space it is about.',
      resolve: (n, _a, ctx) => (n.spaceId ? ctx.loaders.space.load(n.spaceId) : null),
    }),
    fleet: t.field({
      type: Fleet,
      nullable: true,
      description: 'FLEET_REPLY: the fleet replied to (null once it expired).',
      resolve: (n, _a, ctx) => (n.fleetId ? ctx.services.fleets.byId(n.fleetId) : null),
    }),
  }),
});

/** Decodes notification ids; BAD_USER_INPUT (field ids) for anything that is not one. */
function notificationIds(ids: readonly (string | number)[]): string[] {
  if (ids.length > 100) throw badInput('ids', 'at most 100 at a time');
  return ids.map((id) => {
    const parsed = parseGlobalId(String(id));
    if (!parsed || parsed.type !== 'Notification') throw badInput('ids', 'not a notification id');
    return parsed.id;
  });
}

builder.queryFields((t) => ({
  notifications: t.withAuth({ signedIn: true }).field({
    type: NotificationConnection,
    description: "The viewer's notifications, newest first. `first` defaults to 20, at most 100. UNAUTHENTICATED signed out.",
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: (_r, args, ctx) => ctx.services.notifications.list(ctx.viewer.id, pageSize(args.first), args.after),
  }),
  unreadNotificationCount: t.int({
    description: "How many of the viewer's notifications are unread (0 signed out).",
    resolve: (_r, _a, ctx) => (ctx.viewer ? ctx.services.notifications.unreadCount(ctx.viewer.id) : 0),
  }),
}));

builder.mutationFields((t) => ({
  markNotificationsRead: t.withAuth({ signedIn: true }).int({
    description:
      "Mark these notifications read, or all of the viewer's when ids is omitted. Returns the unread count left. Ids of others' notifications are ignored; at most 100 ids (BAD_USER_INPUT, field ids).",
    args: { ids: t.arg.idList({ required: false }) },
    resolve: (_r, args, ctx) =>
      ctx.services.notifications.markRead(ctx.viewer.id, args.ids ? notificationIds(args.ids) : null),
  }),
}));

builder.subscriptionFields((t) => ({
  notifications: t.field({
    type: Notification,
    description: "The viewer's new notifications as they are created (UNAUTHENTICATED signed out).",
    subscribe: (_r, _a, ctx) => {
      if (!ctx.viewer) throw unauthenticated();
      // One topic per recipient, shared by every API instance through the event bus.
      const events = ctx.services.events.pubsub.subscribe('notification', ctx.viewer.id);
      return transformStream(events, (payload) => {
        renewLoaders(ctx);
        return { value: rowOfPayload(payload) };
      });
    },
    resolve: (row) => row,
  }),
}));
