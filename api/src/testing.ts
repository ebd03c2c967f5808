/**
 * Diagnostics for tests and benchmarks (`@spaces/api/testing`): what Janus itself says about a
 * space's room. Not used by the server.
 */
import { eq } from 'drizzle-orm';
import { participants } from '@spaces/db';
import type { App } from './app.ts';

/** The relay mountpoints' settings, so benchmarks measure what the API creates. */
export { RELAY_MOUNTPOINT_THREADS } from './services/mixer/relays.ts';

/** The room of a space as Janus lists it, each entry with the participant whose record holds its id. */
export async function inspectRoom(app: App, spaceId: string) {
  const { mixer, spaces } = app.services;
  const [space] = await spaces.byIds([spaceId]);
  const at = space && mixer.roomOf(space);
  if (!at) return null;
  const list = await at.instance.control!.listParticipants(at.room);
  const rows = await app.services.db
    .select({ id: participants.id, mixerId: participants.mixerParticipantId })
    .from(participants)
    .where(eq(participants.spaceId, spaceId));
  const byMixerId = new Map(rows.filter((r) => r.mixerId !== null).map((r) => [r.mixerId!, r.id]));
  return { instance: at.instance.name, room: at.room, participants: list.map((p) => ({ ...p, participantId: byMixerId.get(p.id) })) };
}

/** Forwards the room's mix as plain RTP to host:port: what a listener hears. */
export async function forwardMix(app: App, spaceId: string, host: string, port: number) {
  const [space] = await app.services.spaces.byIds([spaceId]);
  const at = space && app.services.mixer.roomOf(space);
  if (!at) throw new Error('No room for this space.');
  return at.instance.control!.rtpForward({ room: at.room, host, port, codec: 'opus', ptype: 111, secret: at.instance.roomSecret(at.room) });
}
