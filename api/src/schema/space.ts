import { getArgumentValues, Kind, type FieldNode, type GraphQLObjectType, type GraphQLResolveInfo, type SelectionNode } from 'graphql';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { canSeeRecap, isModerator, SCHEDULE_MAX_AHEAD_DAYS, type Role, type SpeakerPolicy as Policy } from '../domain/rules.ts';
import { expectId } from '../lib/ids.ts';
import { pageSize } from '../lib/pagination.ts';
import type { PageRequest, ParticipantGroup as ParticipantGroupValue, SpaceRecap as SpaceRecapValue, SpaceWithHost } from '../services/spaces/index.ts';
import { VIEWER_DEPENDENT } from '../lib/shared-execution.ts';
import { Participant, ParticipantConnection, ParticipantRole } from './participant.ts';
import { User } from './user.ts';

export const SpeakerPolicy = builder.enumType('SpeakerPolicy', {
  description: 'Who may take the mic in a space, chosen by its host.',
  values: {
    EVERYONE: { description: 'Any listener may ask to speak.' },
    FOLLOWING: { description: 'Only accounts the host follows may ask to speak.' },
    INVITED: { description: 'Only accounts the host invited may speak.' },
  } as const,
});

export const SpaceState = builder.enumType('SpaceState', {
  values: {
    SCHEDULED: { description: 'Announced for `scheduledFor`; the host starts it.' },
    LIVE: { description: 'On air: people can join and listen.' },
    ENDED: { description: 'Over, for good.' },
  } as const,
});

export const ParticipantGroup = builder.enumType('ParticipantGroup', {
  description: 'A part of a space\'s participants, for paging through one at a time.',
  values: {
    STAGE: { description: 'The host, co-hosts and speakers.' },
    HANDS: { description: 'Listeners with a raised hand.' },
    AUDIENCE: { description: 'Listeners (raised hands included).' },
  } as const,
});

const SpaceRecap = builder.objectRef<SpaceRecapValue>('SpaceRecap').implement({
  description: "How an ended space went, for its host's end screen.",
  fields: (t) => ({
    durationSeconds: t.exposeInt('durationSeconds', { description: 'From going live to ending.' }),
    peakListeners: t.exposeInt('peakListeners', {
      description: 'The most listeners at once (sampled every few seconds while live, and at the end).',
    }),
    speakers: t.field({
      type: [User],
      description: 'Everyone who was heard speaking in the space, the host included, in the order they joined.',
      resolve: (r) => r.speakers,
    }),
  }),
});

/** Spaces from the space loader carry their host; others load it. */
export const Space = builder.nodeRef<SpaceWithHost>('Space', { id: { resolve: (row) => row.id }, loadOne: (id, ctx) => ctx.loaders.space.load(id) });
export const SpaceConnection = builder.connectionObject({ type: Space, name: 'SpaceConnection', description: 'A page of Space objects.' });

Space.implement({
  description: 'A live voice room: a host, a stage of up to 2 co-hosts and 10 speakers, and an audience.',
  fields: (t) => ({
    title: t.exposeString('title'),
    state: t.field({ type: SpaceState, resolve: (s) => s.state }),
    speakerPolicy: t.field({ type: SpeakerPolicy, resolve: (s) => s.speakerPolicy }),
    host: t.field({ type: User, resolve: (s, _a, ctx) => s.host ?? ctx.loaders.user.load(s.hostId).then((user) => user!) }),
    scheduledFor: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.scheduledFor }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.startedAt }),
    endedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.endedAt }),
    stage: t.field({
      type: [Participant],
      description: 'Host, co-hosts and speakers currently on stage.',
      resolve: (s, _a, ctx) => ctx.loaders.stage.load(s.id),
    }),
    participants: t.field({
      type: ParticipantConnection,
      description:
        'Everyone currently in the space, stage first (by role, then join time). `first` ≤ 100. `role` and `group` narrow the list (given both, both apply).',
      args: {
        first: t.arg.int(),
        after: t.arg.string(),
        role: t.arg({ type: ParticipantRole }),
        group: t.arg({ type: ParticipantGroup }),
      },
      resolve: (s, args, ctx) =>
        ctx.loaders.participantsPage(
          s.id,
          pageSize(args.first),
          args.after,
          args.role as Role | null,
          args.group as ParticipantGroupValue | null,
        ),
    }),
    participantCount: t.int({
      description: 'Everyone in the space now, stage included.',
      resolve: async (s, _a, ctx) => (await ctx.loaders.counts.load(s.id)).participants,
    }),
    listenerCount: t.int({
      description: 'Listeners (audience) in the space now.',
      resolve: async (s, _a, ctx) => (await ctx.loaders.counts.load(s.id)).listeners,
    }),
    invitedSpeakers: t.field({
      extensions: VIEWER_DEPENDENT,
      type: [User],
      description: 'Users invited to speak (visible to the host and co-hosts; empty for others).',
      resolve: async (s, _a, ctx) => {
        const me = await ctx.loaders.viewerParticipant.load(s.id);
        return isModerator(me?.role as Role | undefined) ? ctx.services.spaces.invitedUsers(s.id) : [];
      },
    }),
    viewerParticipant: t.field({
      extensions: VIEWER_DEPENDENT,
      type: Participant,
      nullable: true,
      description: "The viewer's own participation, when the viewer is in the space.",
      resolve: (s, _a, ctx) => ctx.loaders.viewerParticipant.load(s.id),
    }),
    viewerRemoved: t.boolean({
      extensions: VIEWER_DEPENDENT,
      description: 'Whether a host or co-host removed the viewer from this space: they cannot join it again.',
      resolve: (s, _a, ctx) => (ctx.viewer ? ctx.services.spaces.isBanned(s.id, ctx.viewer.id) : false),
    }),
    recap: t.field({
      extensions: VIEWER_DEPENDENT,
      type: SpaceRecap,
      nullable: true,
      description: 'For the host, once the space has ended: duration, peak listeners and who spoke. Null for others and while not ended.',
      resolve: (s, _a, ctx) =>
        canSeeRecap({ isHost: ctx.viewer?.id === s.hostId }, s.state) ? ctx.services.spaces.recaps.of(s) : null,
    }),
    cancelled: t.exposeBoolean('cancelled', { description: 'A scheduled space its host cancelled (its state is ENDED).' }),
    viewerHasReminder: t.boolean({
      extensions: VIEWER_DEPENDENT,
      description: 'Whether the viewer set a reminder for this space (setReminder); false signed out.',
      resolve: (s, _a, ctx) => ctx.loaders.viewerHasReminder.load(s.id),
    }),
    reminderCount: t.int({
      description: 'How many people set a reminder for this space.',
      resolve: (s, _a, ctx) => ctx.loaders.reminderCount.load(s.id),
    }),
    viewerCanSpeak: t.boolean({
      extensions: VIEWER_DEPENDENT,
      description:
        'Whether the speaker policy lets the viewer ask for, or accept, the mic right now (never for a guest: guests listen only).',
      resolve: (s, _a, ctx) => (ctx.viewer?.isGuest ? false : ctx.services.spaces.viewerCanSpeak(s, ctx.viewer?.id ?? null)),
    }),
  }),
});

const UpdateSpaceInput = builder.inputType('UpdateSpaceInput', {
  description: 'What to change of a space; a field left out (or null) stays as it is.',
  fields: (t) => ({
    title: t.string({ description: '1–100 characters. While SCHEDULED or LIVE.' }),
    scheduledFor: t.field({
      type: 'DateTime',
      description: `The new start time: in the future, at most ${SCHEDULE_MAX_AHEAD_DAYS} days ahead. Only while SCHEDULED.`,
    }),
    speakerPolicy: t.field({ type: SpeakerPolicy, description: 'As setSpeakerPolicy. While SCHEDULED or LIVE.' }),
  }),
});

const CreateSpaceInput = builder.inputType('CreateSpaceInput', {
  fields: (t) => ({
    title: t.string({ required: true, description: '1–100 characters.' }),
    speakerPolicy: t.field({ type: SpeakerPolicy, required: true }),
    scheduledFor: t.field({
      type: 'DateTime',
      description: 'When set (in the future), the space is SCHEDULED; otherwise it goes LIVE at once with the creator as HOST.',
    }),
  }),
});

/** Decodes a spaceId argument (BAD_USER_INPUT when malformed or of another type). */
export const spaceIdArg = (id: string | number) => expectId('spaceId', String(id), 'Space');
export const userIdArg = (id: string | number) => expectId('userId', String(id), 'User');

const viewerId = (ctx: { viewer: { id: string } }) => ctx.viewer.id;

/** The fields selected on the space (through fragments too); those under a directive are left out. */
function* spaceSelections(selections: readonly SelectionNode[], info: GraphQLResolveInfo, depth = 0): Generator<FieldNode> {
  for (const selection of selections) {
    if (selection.directives?.length || depth > 4) continue;
    if (selection.kind === Kind.FIELD) yield selection;
    else if (selection.kind === Kind.INLINE_FRAGMENT) yield* spaceSelections(selection.selectionSet.selections, info, depth + 1);
    else {
      const fragment = info.fragments[selection.name.value];
      if (fragment) yield* spaceSelections(fragment.selectionSet.selections, info, depth + 1);
    }
  }
}

/**
 * Opening a space (the web's SpaceRoom query) asks for its stage, counts, the viewer's seat and a
 * page of participants. They come with the space in one statement (Loaders.room); a further page
 * (another alias) starts alongside, in the same tick. The fields then read what was read (the
 * loaders' caches, Loaders.participantsPage). Arguments that do not coerce are left to the field
 * itself, which answers with the coded error. Says whether the room statement is worth it, and
 * which page it should read.
 */
function roomReads(ctx: Context, spaceId: string, info: GraphQLResolveInfo): { room: boolean; page: PageRequest | null } {
  let room = false;
  let page: PageRequest | null = null;
  const selections = info.fieldNodes.flatMap((node) => node.selectionSet?.selections ?? []);
  for (const field of spaceSelections(selections, info)) {
    switch (field.name.value) {
      case 'stage':
      case 'viewerParticipant':
      case 'participantCount':
      case 'listenerCount':
        room = true;
        break;
      case 'participants': {
        const definition = (info.schema.getType('Space') as GraphQLObjectType).getFields().participants;
        if (!definition) break;
        try {
          const args = getArgumentValues(definition, field, info.variableValues) as {
            first?: number | null;
            after?: string | null;
            role?: Role | null;
            group?: ParticipantGroupValue | null;
          };
          const request = { first: pageSize(args.first), after: args.after, role: args.role, group: args.group };
          room = true;
          if (page) ctx.loaders.prefetchParticipants(spaceId, request);
          else page = request;
        } catch {
          // Bad arguments: the field reports them.
        }
        break;
      }
    }
  }
  return { room, page };
}

builder.queryFields((t) => ({
  space: t.field({
    type: Space,
    nullable: true,
    description: 'A space by id, or null.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, { id }, ctx, info) => {
      const spaceId = spaceIdArg(id);
      const { room, page } = roomReads(ctx, spaceId, info);
      return room ? ctx.loaders.room(spaceId, page) : ctx.loaders.space.load(spaceId);
    },
  }),
  liveSpaces: t.field({
    type: SpaceConnection,
    description: 'Live spaces, most listened first. `first` defaults to 20, at most 100.',
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: (_r, args, ctx) => ctx.services.spaces.listLive(pageSize(args.first), args.after),
  }),
  upcomingSpaces: t.field({
    type: SpaceConnection,
    description:
      'Scheduled spaces (not cancelled), soonest first: signed in, the viewer\'s own and those of people they follow; signed out, all. `first` defaults to 20, at most 100.',
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: (_r, args, ctx) => ctx.services.spaces.listUpcoming(ctx.viewer?.id ?? null, pageSize(args.first), args.after),
  }),
  spacesBar: t.field({
    type: [Space],
    description:
      'The bar at the top of the home screen: live spaces hosted by, or with on stage, accounts the viewer follows (most listened first); then the scheduled spaces those accounts host that start within the next 24 hours (soonest first). Empty signed out.',
    resolve: (_r, _a, ctx) => (ctx.viewer ? ctx.services.spaces.spacesBar(ctx.viewer.id) : []),
  }),
}));

builder.mutationFields((t) => ({
  createSpace: t.withAuth({ signedIn: true }).field({
    type: Space,
    description: 'Open a space (LIVE at once, creator as HOST) or schedule one. CONFLICT when already hosting a live space.',
    args: { input: t.arg({ type: CreateSpaceInput, required: true }) },
    resolve: (_r, { input }, ctx) =>
      ctx.services.spaces.create(viewerId(ctx), {
        title: input.title,
        speakerPolicy: input.speakerPolicy as Policy,
        scheduledFor: input.scheduledFor ?? null,
      }),
  }),
  startSpace: t.withAuth({ signedIn: true }).field({
    type: Space,
    description: 'Host only: SCHEDULED -> LIVE.',
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.spaces.start(viewerId(ctx), spaceIdArg(args.spaceId)),
  }),
  updateSpace: t.withAuth({ signedIn: true }).field({
    type: Space,
    description:
      `Host only. title and speakerPolicy while SCHEDULED or LIVE; scheduledFor only while SCHEDULED (in the future, at most ${SCHEDULE_MAX_AHEAD_DAYS} days ahead; BAD_USER_INPUT with extensions.field). FORBIDDEN for others, CONFLICT when ended (or rescheduling a space that started). SPACE_UPDATED is sent.`,
    args: { spaceId: t.arg.id({ required: true }), input: t.arg({ type: UpdateSpaceInput, required: true }) },
    resolve: (_r, { spaceId, input }, ctx) =>
      ctx.services.spaces.update(viewerId(ctx), spaceIdArg(spaceId), {
        title: input.title ?? undefined,
        scheduledFor: input.scheduledFor ?? undefined,
        speakerPolicy: (input.speakerPolicy as Policy | null | undefined) ?? undefined,
      }),
  }),
  cancelSpace: t.withAuth({ signedIn: true }).field({
    type: Space,
    description:
      'Host only (FORBIDDEN otherwise), SCHEDULED only (CONFLICT otherwise): the space becomes ENDED with cancelled = true; people with a reminder get SPACE_CANCELLED.',
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.spaces.cancel(viewerId(ctx), spaceIdArg(args.spaceId)),
  }),
  setReminder: t.withAuth({ signedIn: true }).field({
    type: Space,
    description:
      'Set (on: true) or clear a reminder for a SCHEDULED space (CONFLICT otherwise). Idempotent. When it starts, the viewer gets a SPACE_REMINDER notification (and SPACE_CANCELLED if the host cancels it). RATE_LIMITED past 60 a minute (as follow).',
    args: { spaceId: t.arg.id({ required: true }), on: t.arg.boolean({ required: true, defaultValue: true }) },
    resolve: async (_r, args, ctx) => {
      await ctx.services.limits.user('setReminder', viewerId(ctx));
      const space = await ctx.services.spaces.setReminder(viewerId(ctx), spaceIdArg(args.spaceId), args.on);
      ctx.loaders.viewerHasReminder.clear(space.id);
      ctx.loaders.reminderCount.clear(space.id);
      return space;
    },
  }),
  endSpace: t.withAuth({ signedIn: true }).field({
    type: Space,
    description: 'Host only: ends the space for everyone and disconnects all audio.',
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.spaces.end(viewerId(ctx), spaceIdArg(args.spaceId)),
  }),
  setSpeakerPolicy: t.withAuth({ signedIn: true }).field({
    type: Space,
    description: 'Host only. Takes effect at once: speakers no longer eligible return to the audience.',
    args: { spaceId: t.arg.id({ required: true }), policy: t.arg({ type: SpeakerPolicy, required: true }) },
    resolve: (_r, args, ctx) =>
      ctx.services.spaces.setPolicy(viewerId(ctx), spaceIdArg(args.spaceId), args.policy as Policy),
  }),
  joinSpace: t.withAuth({ signedIn: true }).field({
    type: Participant,
    description:
      'Enter as a LISTENER (the host re-enters as HOST), muted. FORBIDDEN for removed users; CONFLICT when not LIVE; RATE_LIMITED past 60 joins and leaves a minute. ' +
      'Presence follows the person: a participant is there while a client of theirs holds a `spaceEvents` subscription of the space or their audio is connected. ' +
      'Joining counts as being seen; someone seen by neither for the presence grace period (30 s by default) leaves the space (PARTICIPANT_LEFT), and a host is away (the space ends if they stay away). ' +
      'A client that only uses HTTP keeps its presence by subscribing to `spaceEvents` or connecting audio.',
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      await ctx.services.limits.user('joinLeave', viewerId(ctx));
      return ctx.services.spaces.join(viewerId(ctx), spaceIdArg(args.spaceId));
    },
  }),
  leaveSpace: t.withAuth({ signedIn: true }).boolean({
    description:
      'Leave the space (false when not in it). A host who leaves has a grace period to come back before the space ends. Counts with joinSpace toward RATE_LIMITED.',
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      await ctx.services.limits.user('joinLeave', viewerId(ctx));
      return ctx.services.spaces.leave(viewerId(ctx), spaceIdArg(args.spaceId));
    },
  }),
  requestToSpeak: t.withAuth({ signedIn: true }).field({
    type: Participant,
    description:
      "Raise (or lower) the viewer's hand. FORBIDDEN when the speaker policy does not allow the viewer; RATE_LIMITED past 30 a minute.",
    args: { spaceId: t.arg.id({ required: true }), raised: t.arg.boolean({ defaultValue: true }) },
    resolve: async (_r, args, ctx) => {
      await ctx.services.limits.user('requestToSpeak', viewerId(ctx));
      return ctx.services.spaces.requestToSpeak(viewerId(ctx), spaceIdArg(args.spaceId), args.raised ?? true);
    },
  }),
  inviteSpeaker: t.withAuth({ signedIn: true }).field({
    type: Space,
    description: 'Host or co-host: invite a user to speak (makes them eligible under any policy).',
    args: { spaceId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) =>
      ctx.services.spaces.invite(viewerId(ctx), spaceIdArg(args.spaceId), userIdArg(args.userId)),
  }),
  revokeSpeakerInvite: t.withAuth({ signedIn: true }).field({
    type: Space,
    description: 'Host or co-host: withdraw an invitation; if that user is on stage only by it, they return to the audience.',
    args: { spaceId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) =>
      ctx.services.spaces.revokeInvite(viewerId(ctx), spaceIdArg(args.spaceId), userIdArg(args.userId)),
  }),
  acceptSpeakerInvite: t.withAuth({ signedIn: true }).field({
    type: Participant,
    description: 'The invited viewer accepts and goes on stage as SPEAKER (muted until they unmute).',
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.spaces.acceptInvite(viewerId(ctx), spaceIdArg(args.spaceId)),
  }),
  setParticipantRole: t.withAuth({ signedIn: true }).field({
    type: Participant,
    description:
      'Host or co-host: change a participant\'s role. SPEAKER needs an eligible user (raised hand or invited, and allowed by the policy); CO_HOST is host only; at most 2 co-hosts and 10 speakers (CONFLICT past that). LISTENER takes someone off stage; anyone but the host may also step down themselves.',
    args: {
      spaceId: t.arg.id({ required: true }),
      userId: t.arg.id({ required: true }),
      role: t.arg({ type: ParticipantRole, required: true }),
    },
    resolve: (_r, args, ctx) =>
      ctx.services.spaces.setRole(viewerId(ctx), spaceIdArg(args.spaceId), userIdArg(args.userId), args.role as Role),
  }),
  setMuted: t.withAuth({ signedIn: true }).field({
    type: Participant,
    description: 'The viewer mutes or unmutes their own mic (unmuting needs a stage role).',
    args: { spaceId: t.arg.id({ required: true }), muted: t.arg.boolean({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.spaces.setMuted(viewerId(ctx), spaceIdArg(args.spaceId), args.muted),
  }),
  muteParticipant: t.withAuth({ signedIn: true }).field({
    type: Participant,
    description: 'Host or co-host: mute a participant at the mixer (they may unmute later).',
    args: { spaceId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) =>
      ctx.services.spaces.muteParticipant(viewerId(ctx), spaceIdArg(args.spaceId), userIdArg(args.userId)),
  }),
  muteAll: t.withAuth({ signedIn: true }).field({
    type: Space,
    description: 'Host or co-host: mute everyone on stage but the hosts.',
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.spaces.muteAll(viewerId(ctx), spaceIdArg(args.spaceId)),
  }),
  removeParticipant: t.withAuth({ signedIn: true }).field({
    type: Space,
    description: 'Host or co-host: remove a user from the space; they cannot rejoin it.',
    args: { spaceId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) =>
      ctx.services.spaces.remove(viewerId(ctx), spaceIdArg(args.spaceId), userIdArg(args.userId)),
  }),
  react: t.withAuth({ signedIn: true }).boolean({
    description: 'Send an emoji reaction to everyone in the space. One of: 👏 ❤️ 😂 😮 😢 🔥 💯 🙌 👍 👎 🎉 🤔. Rate limited.',
    args: { spaceId: t.arg.id({ required: true }), emoji: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.spaces.react(viewerId(ctx), spaceIdArg(args.spaceId), args.emoji),
  }),
}));
