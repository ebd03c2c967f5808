import { randomBytes } from 'node:crypto';

/**
 * SDP that Janus takes, for tests and benchmarks of signalling only: ICE never completes with
 * these (no real peer behind them), so no media flows.
 */

/** A complete WebRTC audio offer (as a browser sends to connectAudio). */
export function fakeOffer(direction: 'sendrecv' | 'recvonly' = 'sendrecv'): string {
  return fakeDescription({ mid: '0', pt: '111', setup: 'actpass', direction });
}

/** A receive-only answer to Janus's offer (listenAudio's), naming its mid and Opus payload type. */
export function fakeAnswerTo(janusOffer: string): string {
  const mid = /a=mid:(\S+)/.exec(janusOffer)?.[1] ?? 'a';
  const pt = /a=rtpmap:(\d+) opus\/48000/.exec(janusOffer)?.[1] ?? '111';
  return fakeDescription({ mid, pt, setup: 'active', direction: 'recvonly' });
}

function fakeDescription(o: { mid: string; pt: string; setup: 'actpass' | 'active'; direction: 'sendrecv' | 'recvonly' }): string {
  const fingerprint = Array.from(randomBytes(32), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  return [
    'v=0',
    `o=- ${Date.now()} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    `a=group:BUNDLE ${o.mid}`,
    `m=audio 9 UDP/TLS/RTP/SAVPF ${o.pt}`,
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=ice-ufrag:${randomBytes(4).toString('hex')}`,
    `a=ice-pwd:${randomBytes(12).toString('hex')}`,
    'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fingerprint}`,
    `a=setup:${o.setup}`,
    `a=mid:${o.mid}`,
    `a=${o.direction}`,
    'a=rtcp-mux',
    `a=rtpmap:${o.pt} opus/48000/2`,
    `a=fmtp:${o.pt} minptime=10;useinbandfec=1`,
    '',
  ].join('\r\n');
}
