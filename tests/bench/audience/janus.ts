/**
 * The Janus requests of the audience benchmark, raw over a JanusSession (no typed Streaming client
 * needed): a Streaming mountpoint fed by the AudioBridge room's rtp_forward, a viewer's
 * watch/start, and an AudioBridge listener's muted recvonly join. Request shapes as in
 * ../shared/VOICE-NOTES.md ("Audiences through the Streaming plugin").
 */
import type { JanusSession } from '@spaces/janus';
import type { WebRtcListener } from './listener.ts';

export interface Mountpoint {
  id: number;
  /** UDP port the mountpoint receives the room's mix on. */
  port: number;
}

/** A Streaming RTP mountpoint with one Opus stream, on a free port of the plugin's range. */
export async function createMountpoint(
  session: JanusSession,
  handleId: number,
  options: { id: number; adminKey: string; threads?: number },
): Promise<Mountpoint> {
  const { data } = await session.sendMessage(handleId, {
    request: 'create',
    type: 'rtp',
    id: options.id,
    name: `audience-${options.id}`,
    admin_key: options.adminKey,
    permanent: false,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    media: [{ type: 'audio', mid: 'a', label: 'audio', port: 0, pt: 111, codec: 'opus' }],
  });
  const stream = data.stream as { id: number; ports?: { port: number }[]; audio_port?: number } | undefined;
  const port = stream?.ports?.[0]?.port ?? stream?.audio_port;
  if (!stream || typeof port !== 'number') throw new Error(`mountpoint create: no port in ${JSON.stringify(data)}`);
  return { id: stream.id, port };
}

export async function destroyMountpoint(session: JanusSession, handleId: number, id: number, adminKey: string) {
  await session.sendMessage(handleId, { request: 'destroy', id, admin_key: adminKey, permanent: false });
}

/** Streaming viewer: watch (Janus offers), answer, start. Returns the handle ID. */
export async function watchMountpoint(session: JanusSession, mountpoint: number, listener: WebRtcListener): Promise<number> {
  const handleId = await session.attach('janus.plugin.streaming');
  try {
    const watched = await session.sendMessage(handleId, { request: 'watch', id: mountpoint });
    if (!watched.jsep?.sdp) throw new Error(`watch: no offer in ${JSON.stringify(watched.data)}`);
    const answer = await listener.answer(watched.jsep.sdp);
    await session.sendMessage(handleId, { request: 'start' }, { type: 'answer', sdp: answer });
    return handleId;
  } catch (error) {
    await detach(session, handleId);
    throw error;
  }
}

/** AudioBridge listener: a muted participant joined with a recvonly offer. Returns the handle ID. */
export async function joinRoomMuted(session: JanusSession, room: number, listener: WebRtcListener, display: string): Promise<number> {
  const handleId = await session.attach('janus.plugin.audiobridge');
  try {
    const offer = await listener.offer();
    const joined = await session.sendMessage(handleId, { request: 'join', room, display, muted: true }, { type: 'offer', sdp: offer });
    if (!joined.jsep?.sdp) throw new Error(`join: no answer in ${JSON.stringify(joined.data)}`);
    await listener.accept(joined.jsep.sdp);
    return handleId;
  } catch (error) {
    await detach(session, handleId);
    throw error;
  }
}

export async function detach(session: JanusSession, handleId: number) {
  await session.request({ janus: 'detach' }, handleId).catch(() => {});
}
