import { builder } from '../builder.ts';
import { createSharedLoaders, renewLoaders, type Context, type SharedLoaders } from '../context.ts';
import { notFound, unauthenticated } from '../errors.ts';
import { isModerator, type Role } from '../domain/rules.ts';
import { AUDIENCE_EVENT_THRESHOLD, AUDIENCE_SAMPLE_SIZE } from '../domain/rules.ts';
import type { AudiencePayload, SpaceEventPayload } from '../pubsub.ts';
import type { SpaceRow } from '../services/spaces/index.ts';
import { transformStream } from '../lib/streams.ts';
import { Participant } from './participant.ts';
import { Space, spaceIdArg } from './space.ts';
import { User } from './user.ts';

export const SpaceEventKind = builder.enumType('SpaceEventKind', {
  values: {
    PARTICIPANT_JOINED: {},
    PARTICIPANT_LEFT: {},
    PARTICIPANT_UPDATED: { description: 'Role, muted, handRaised or audioConnected changed.' },
    SPEAKING_CHANGED: {},
    SPEAKER_INVITED: { description: 'Sent to the host, co-hosts and the invitee.' },
    SPEAKER_INVITE_REVOKED: { description: 'An invitation was withdrawn. Sent to the host, co-hosts and the invitee.' },
    REACTION: {},
    SPACE_UPDATED: { description: 'Title, state or speaker policy changed.' },
    SPACE_ENDED: { description: 'The last event of a space: the subscription completes after it.' },
    REMOVED: { description: 'The viewer was removed from the space (others see PARTICIPANT_LEFT).' },
    AUDIO_RECONNECT: { description: 'The mixer restarted: connected clients should call connectAudio again with a new offer.' },
    AUDIENCE_UPDATED: {
      description: `Listeners joined or left a space of more than ${AUDIENCE_EVENT_THRESHOLD} listeners: \`audience\` sums them up.`,
    },
  } as const,
});

const AudienceUpdate = builder.objectRef<AudiencePayload>('AudienceUpdate').implement({
  description: `The audience changed: sent instead of PARTICIPANT_JOINED and PARTICIPANT_LEFT for listeners while a space has more than ${AUDIENCE_EVENT_THRESHOLD} listeners, at most once a second.`,
  fields: (t) => ({
    listenerCount: t.exposeInt('listenerCount'),
    joined: t.exposeInt('joined', { description: 'Listeners who joined and left since the previous update.' }),
    left: t.exposeInt('left'),
    sample: t.field({
      type: [User],
      description: `A few of those who joined (at most ${AUDIENCE_SAMPLE_SIZE}).`,
      resolve: async (a, _args, ctx) => {
        const users = await Promise.all(a.sampleUserIds.map((id) => ctx.loaders.user.load(id)));
        return users.filter((u) => u !== null && u !== undefined);
      },
    }),
  }),
});

const SpaceEvent = builder.objectRef<SpaceEventPayload>('SpaceEvent').implement({
  description: 'One change in a space. Entities are resolved when the event is delivered.',
  fields: (t) => ({
    kind: t.field({ type: SpaceEventKind, resolve: (e) => e.kind as never }),
    space: t.field({ type: Space, resolve: async (e, _a, ctx) => (await ctx.loaders.space.load(e.spaceId))! }),
    participant: t.field({
      type: Participant,
      nullable: true,
      resolve: (e, _a, ctx) => (e.participantId ? ctx.loaders.participant.load(e.participantId) : null),
    }),
    user: t.field({
      type: User,
      nullable: true,
      description: 'The user concerned (invitee, reactor, removed user, participant).',
      resolve: (e, _a, ctx) => (e.userId ? ctx.loaders.user.load(e.userId) : null),
    }),
    emoji: t.string({ nullable: true, resolve: (e) => e.emoji ?? null }),
    audience: t.field({ type: AudienceUpdate, nullable: true, resolve: (e) => e.audience ?? null }),
    at: t.field({ type: 'DateTime', resolve: (e) => new Date(e.at) }),
  }),
});

/**
 * Viewer-independent loaders by published event. Every local subscriber receives the very same
 * payload object (one dispatch per publish, or per NOTIFY with the PostgreSQL bus), so the first
 * delivery loads the event's space, participant and user and the other subscribers reuse them:
 * a few queries per event instead of a few per subscriber. The entry goes with the payload.
 */
const sharedLoaders = new WeakMap<object, SharedLoaders>();

/** A subscription's context lives as long as the socket: each delivery gets fresh loaders. */
function refresh(ctx: Context, event?: object) {
  let shared = event ? sharedLoaders.get(event) : undefined;
  if (!shared) {
    shared = createSharedLoaders(ctx.services);
    if (event) sharedLoaders.set(event, shared);
  }
  renewLoaders(ctx, shared);
}

/** A targeted event's addressees as a Set, made once per payload for all its subscribers. */
const addressees = new WeakMap<SpaceEventPayload, ReadonlySet<string>>();

function addresseesOf(event: SpaceEventPayload & { userIds: string[] }): ReadonlySet<string> {
  let set = addressees.get(event);
  if (!set) addressees.set(event, (set = new Set(event.userIds)));
  return set;
}

/**
 * What this viewer sees of an event: targeted ones only reach their addressees, private ones are
 * filtered, removal is personal. Synchronous except for invitations (thousands of subscribers run
 * this for every event).
 */
function visibleTo(ctx: Context, event: SpaceEventPayload): SpaceEventPayload | null | Promise<SpaceEventPayload | null> {
  const viewerId = ctx.viewer?.id ?? null;
  if (event.userIds && !(viewerId && addresseesOf(event as SpaceEventPayload & { userIds: string[] }).has(viewerId))) return null;
  switch (event.kind) {
    case 'SPEAKER_INVITED':
    case 'SPEAKER_INVITE_REVOKED': {
      if (viewerId && viewerId === event.userId) return event;
      if (!viewerId) return null;
      return ctx.loaders.viewerParticipant
        .load(event.spaceId)
        .then((me) => (isModerator(me?.role as Role | undefined) ? event : null));
    }
    case 'REMOVED':
      if (viewerId && viewerId === event.userId) return event;
      return event.participantId ? { ...event, kind: 'PARTICIPANT_LEFT' } : null;
    default:
      return event;
  }
}

builder.subscriptionFields((t) => ({
  spaceEvents: t.field({
    type: SpaceEvent,
    description:
      'Everything that happens in one space, in order, as it happens. Completes after SPACE_ENDED. While it is open the viewer counts as there (see joinSpace).',
    args: { spaceId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const spaceId = spaceIdArg(args.spaceId);
      // Listen before checking the space exists, so nothing between the two is lost.
      const events = ctx.services.events.pubsub.subscribe('space', spaceId);
      const [space] = await ctx.services.spaces.byIds([spaceId]);
      if (!space) {
        await events.return?.();
        throw notFound('No such space.');
      }
      // Nothing more will happen in an ended space: say so at once and complete.
      if (space.state === 'ENDED') {
        await events.return?.();
        const ended: SpaceEventPayload = { kind: 'SPACE_ENDED', spaceId, at: (space.endedAt ?? new Date()).toISOString() };
        return transformStream(events, () => null, async () => (refresh(ctx, ended), ended));
      }
      // While this subscription is open the viewer is there (presence.ts); its end lets go.
      const release = ctx.viewer ? ctx.services.spaces.presence.watch(spaceId, ctx.viewer.id) : () => {};
      const watched: AsyncIterator<SpaceEventPayload> = {
        next: () => events.next(),
        return: async (value?: unknown) => {
          release();
          return (await events.return?.(value)) ?? { done: true, value: undefined };
        },
      };
      return transformStream(watched, (event) => {
        refresh(ctx, event);
        const last = event.kind === 'SPACE_ENDED';
        const wrap = (visible: SpaceEventPayload | null) => (visible ? { value: visible, last } : null);
        const visible = visibleTo(ctx, event);
        return visible instanceof Promise ? visible.then(wrap) : wrap(visible);
      });
    },
    resolve: (event) => event,
  }),
  spacesBar: t.field({
    type: [Space],
    description: "The viewer's spaces bar: sent at once, then again whenever it changes.",
    subscribe: (_root, _args, ctx) => {
      if (!ctx.viewer) throw unauthenticated();
      // The instance's bars decide from each event whose bar it concerns (services/bars.ts).
      return transformStream(ctx.services.bars.subscribe(ctx.viewer.id), (bar: SpaceRow[]) => {
        refresh(ctx);
        return { value: bar };
      });
    },
    resolve: (bar) => bar,
  }),
}));
