import { builder } from '../builder.ts';
import { effectiveMuted, type Role } from '../domain/rules.ts';
import type { ParticipantWithUser } from '../services/spaces/index.ts';
import { User } from './user.ts';
import { expectId } from '../lib/ids.ts';
import { Space } from './space.ts';

export const ParticipantRole = builder.enumType('ParticipantRole', {
  values: {
    HOST: { description: 'Opened the space; moderates; cannot be moderated.' },
    CO_HOST: { description: 'Appointed by the host (at most 2); moderates speakers and listeners.' },
    SPEAKER: { description: 'On stage with a mic (at most 10).' },
    LISTENER: { description: 'In the audience; always muted.' },
  } as const,
});

/** Participants from the read path carry their user; others load it. */
export const Participant = builder.nodeRef<ParticipantWithUser>('Participant', { id: { resolve: (row) => row.id }, loadOne: (id, ctx) => ctx.loaders.participant.load(id) });

export const ParticipantConnection = builder.connectionObject({ type: Participant, name: 'ParticipantConnection', description: 'A page of Participant objects.' });

Participant.implement({
  description: "A user's presence in a space.",
  fields: (t) => ({
    // Not async: a seat from the read path has its user, and an answer of many seats should not
    // wait on a promise for each.
    user: t.field({ type: User, resolve: (p, _a, ctx) => p.user ?? ctx.loaders.user.load(p.userId).then((user) => user!) }),
    space: t.field({ type: Space, resolve: async (p, _a, ctx) => (await ctx.loaders.space.load(p.spaceId))! }),
    role: t.field({ type: ParticipantRole, resolve: (p) => p.role as Role }),
    muted: t.boolean({
      description: 'Muted at the mixer: nothing this participant sends is heard. Always true for listeners.',
      resolve: (p) => p.leftAt !== null || effectiveMuted(p.role as Role, p.muted),
    }),
    handRaised: t.exposeBoolean('handRaised', { description: 'Raised hand: asked the hosts for the mic.' }),
    handSeen: t.boolean({
      description: 'A host or co-host saw the raised hand (markHandsSeen); false again once the hand is lowered or the participant goes on stage.',
      resolve: (p) => p.handRaised && p.handSeen,
    }),
    speaking: t.exposeBoolean('speaking', { description: 'Voice activity as the mixer detects it.' }),
    audioConnected: t.exposeBoolean('audioConnected', { description: 'Connected to the audio mixer right now.' }),
    joinedAt: t.field({ type: 'DateTime', resolve: (p) => p.joinedAt }),
    present: t.boolean({
      description: 'Still in the space (false after leaving or being removed).',
      resolve: (p) => p.leftAt === null,
    }),
  }),
});

builder.mutationFields((t) => ({
  markHandsSeen: t.withAuth({ signedIn: true }).int({
    description:
      'Host or co-host: tell the people whose hands are raised that a host saw them (Participant.handSeen). Returns how many.',
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.spaces.markHandsSeen(ctx.viewer.id, expectId('spaceId', String(args.spaceId), 'Space')),
  }),
}));
