import { builder } from '../builder.ts';
import type { ParticipantRow } from '../services/spaces/index.ts';
import { Participant } from './participant.ts';
import { spaceIdArg } from './space.ts';

const AudioSession = builder.objectRef<{ answer: string; participant: ParticipantRow }>('AudioSession').implement({
  description: 'The answer to an audio offer: the client applies it as its remote description.',
  fields: (t) => ({
    answer: t.exposeString('answer', { description: 'SDP answer from the mixer.' }),
    participant: t.field({ type: Participant, resolve: (s) => s.participant }),
  }),
});

export const AudioTier = builder.enumType('AudioTier', {
  description: "Which tier carries a participant's audio: the stage mixes, the audience receives a relay of the mix.",
  values: {
    STAGE: { description: "A seat in the space's mixer (connectAudio): hears everyone but themselves, and may be heard." },
    AUDIENCE: { description: "A viewer of a relay of the space's mix (listenAudio): hears the stage, is never heard." },
  } as const,
});

builder.objectField(Participant, 'audioTier', (t) =>
  t.field({
    type: AudioTier,
    nullable: true,
    description: "Where this participant's audio is connected now; null when not connected.",
    resolve: (p) => (p.mixerParticipantId !== null && p.leftAt === null ? p.audioTier : null),
  }),
);

const AudioOffer = builder.objectRef<{ offerId: string; offer: string; participant: ParticipantRow }>('AudioOffer').implement({
  description: "The audience relay's offer: apply it as the remote description, answer with answerAudio.",
  fields: (t) => ({
    id: t.id({ description: 'Identifies this offer; answerAudio names it.', resolve: (o) => o.offerId }),
    offer: t.exposeString('offer', { description: 'SDP offer from the audience relay (receive-only audio).' }),
    participant: t.field({ type: Participant, resolve: (o) => o.participant }),
  }),
});

builder.mutationFields((t) => ({
  connectAudio: t.withAuth({ signedIn: true }).field({
    type: AudioSession,
    description:
      "Connect the viewer's audio: a complete SDP offer (ICE gathering done) in, the mixer's answer out. The stage (host, co-hosts, speakers) uses this; listeners should use listenAudio, and get a muted mixer seat here only while the space has seats to spare (CONFLICT with `extensions.useInstead: \"listenAudio\"` past that: AUDIO_LISTENER_SEATS, 50 by default). The server decides who is heard. Calling again replaces the previous connection (e.g. after AUDIO_RECONNECT, or when moving between tiers). CONFLICT when not in the space or voice is unavailable; RATE_LIMITED past 20 connects a minute.",
    args: { spaceId: t.arg.id({ required: true }), offer: t.arg.string({ required: true }) },
    resolve: async (_r, args, ctx) => {
      // Each connectAudio makes a Janus handle: reconnecting is normal, a storm is not.
      await ctx.services.limits.user('connectAudio', ctx.viewer.id);
      return ctx.services.mixer.connect(ctx.viewer.id, spaceIdArg(args.spaceId), args.offer);
    },
  }),
  listenAudio: t.withAuth({ signedIn: true }).field({
    type: AudioOffer,
    description:
      "Listen through the audience tier (a relay of the stage's mix, for any number of listeners): the relay's SDP offer out; the client answers with answerAudio. Replaces the viewer's previous connection. Stage members get CONFLICT (they use connectAudio). CONFLICT when not in the space or voice is unavailable; RATE_LIMITED with connectAudio's limit.",
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      await ctx.services.limits.user('connectAudio', ctx.viewer.id);
      return ctx.services.mixer.listen(ctx.viewer.id, spaceIdArg(args.spaceId));
    },
  }),
  answerAudio: t.withAuth({ signedIn: true }).field({
    type: Participant,
    description:
      "The viewer's complete SDP answer (ICE gathering done) to a listenAudio offer; the audio flows after it. CONFLICT when that offer is no longer the viewer's current one (call listenAudio again); BAD_USER_INPUT for an unusable answer.",
    args: { spaceId: t.arg.id({ required: true }), offerId: t.arg.id({ required: true }), answer: t.arg.string({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.mixer.answer(ctx.viewer.id, spaceIdArg(args.spaceId), String(args.offerId), args.answer),
  }),
  disconnectAudio: t.withAuth({ signedIn: true }).boolean({
    description: "Hang up the viewer's audio in a space (either tier); false when it was not connected.",
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.mixer.disconnect(ctx.viewer.id, spaceIdArg(args.spaceId)),
  }),
}));
