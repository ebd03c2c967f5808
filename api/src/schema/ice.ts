import { builder } from '../builder.ts';
import type { IceServer as IceServerShape } from '../services/ice.ts';

const IceServer = builder.objectRef<IceServerShape>('IceServer').implement({
  description:
    'A STUN or TURN server for WebRTC, shaped like an entry of RTCConfiguration.iceServers: pass the list as `new RTCPeerConnection({ iceServers })` before making the offer for connectAudio.',
  fields: (t) => ({
    urls: t.exposeStringList('urls', { description: 'stun:, stuns:, turn: or turns: URLs of one server.' }),
    username: t.exposeString('username', {
      nullable: true,
      description: 'TURN username (`<unix expiry>:<user>`, short-lived and for the viewer only); null for STUN.',
    }),
    credential: t.exposeString('credential', {
      nullable: true,
      description: 'TURN password belonging to `username`, valid until the expiry in the username; null for STUN.',
    }),
  }),
});

builder.queryFields((t) => ({
  iceServers: t.withAuth({ signedIn: true }).field({
    type: [IceServer],
    description:
      'The STUN and TURN servers to use for the audio connection, TURN with fresh credentials for the viewer (they expire, by default after an hour: ask again before each connectAudio). Empty when the server needs none (clients then connect directly). UNAUTHENTICATED when signed out.',
    resolve: (_root, _args, ctx) => ctx.services.ice.forUser(ctx.viewer.id),
  }),
}));
