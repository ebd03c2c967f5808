import { JanusSession, startJanus } from '@spaces/janus';
import { ToneProbe, WebRtcAudioClient } from '../support/webrtc.ts';

const janus = await startJanus({ ice: { enforceList: 'spaces0' }, debugLevel: 4 });
const clients: WebRtcAudioClient[] = [];
if (process.env.STRACE) { (await import('node:child_process')).spawn('strace', ['-f', '-tt', '-e', 'trace=network,poll,ppoll', '-o', '/tmp/janus.strace', '-p', String(janus.pid)], { stdio: 'ignore' }); await new Promise((r) => setTimeout(r, 500)); }
try {
  const session = await JanusSession.create({ url: janus.httpUrl });
  const admin = await session.attachAudioBridge({ adminKey: janus.adminKey });
  const { room } = await admin.create({ secret: 'x', sampling_rate: 48000, default_prebuffering: 2, audiolevel_event: true, audio_active_packets: 25, audio_level_average: 55 } as never) as any;
  async function join(name: string, tone: number | null) {
    const c = await WebRtcAudioClient.create({ name, address: process.env.ADDR || undefined });
    clients.push(c);
    const h = await session.attachAudioBridge({});
    h.on('talking', (e) => console.log(name, 'sees talking', e));
    h.on('stopped-talking', (e) => console.log(name, 'sees stopped-talking', e));
    c.markRequestSent();
    const joined: any = await h.join({ room, display: name, jsep: { type: 'offer', sdp: c.offer } } as never);
    await c.accept(joined.jsep.sdp);
    if (name === 'a') console.log(c.offer);
    c.setTone(tone);
    c.start();
    await c.waitConnected();
    console.log(name, 'ext id', c.audioLevelExtensionId, 'connected', c.span('requestSentAt', 'connectedAt'));
    return c;
  }
  const a = await join('a', 400);
  const b = await join('b', null);
  const probe = new ToneProbe(b, 400);
  console.log('heard after', await probe.waitFor(true, { timeoutMs: 6000 }));
  console.log('b first packet', b.span('requestSentAt', 'firstPacketAt'), 'ice', b.span('answerAppliedAt', 'iceConnectedAt'), 'dtls', b.span('answerAppliedAt', 'connectedAt'));
  await new Promise((r) => setTimeout(r, 1500));
  a.setTone(null);
  console.log('silent after', await probe.waitFor(false));
  await new Promise((r) => setTimeout(r, 1500));
  await session.destroy();
} finally {
  for (const c of clients) await c.close();
  await janus.stop();
}
