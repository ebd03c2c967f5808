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

builder.mutationFields((t) => ({
  connectAudio: t.field({
    type: AudioSession,
    authScopes: { signedIn: true },
    description:
      "Connect the viewer's audio: a complete SDP offer (ICE gathering done) in, the mixer's answer out. Listeners send a receive-only or muted offer; the server decides who is heard. Calling again replaces the previous connection (e.g. after AUDIO_RECONNECT). CONFLICT when not in the space or voice is unavailable; RATE_LIMITED past 20 connects a minute.",
    args: { spaceId: t.arg.id({ required: true }), offer: t.arg.string({ required: true }) },
    resolve: async (_r, args, ctx) => {
      // Each connectAudio makes a Janus handle: reconnecting is normal, a storm is not.
      await ctx.services.limits.user('connectAudio', ctx.viewer!.id);
      return ctx.services.mixer.connect(ctx.viewer!.id, spaceIdArg(args.spaceId), args.offer);
    },
  }),
  disconnectAudio: t.boolean({
    authScopes: { signedIn: true },
    description: "Hang up the viewer's audio in a space; false when it was not connected.",
    args: { spaceId: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => ctx.services.mixer.disconnect(ctx.viewer!.id, spaceIdArg(args.spaceId)),
  }),
}));
