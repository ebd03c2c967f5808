// A bot that speaks: it opens a live space as its host and plays a tone into it over WebRTC
// (werift), encoded with opusscript, until Ctrl-C ends the space.
//   SPACES_URL=https://spaces.example.org SPACES_TOKEN=spaces_pat_... node speak-bot.mjs
// Needs the scopes spaces:write (createSpace, setMuted, endSpace) and audio. TITLE and TONE_HZ
// are optional; ICE_ADDRESS (optional): the local IPv4 address to send media from.
import OpusScript from 'opusscript';
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTP_EXTENSION_URI,
  RtpHeader,
  RtpPacket,
  serializeAudioLevelIndication,
  useAudioLevelIndication,
} from 'werift';

const { SPACES_URL, SPACES_TOKEN, TITLE = 'A bot is speaking', TONE_HZ = '400', ICE_ADDRESS } = process.env;
if (!SPACES_URL || !SPACES_TOKEN) throw new Error('Set SPACES_URL and SPACES_TOKEN.');

async function graphql(query, variables = {}) {
  const response = await fetch(new URL('/graphql', SPACES_URL), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SPACES_TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  const { data, errors } = await response.json();
  if (errors) throw new Error(errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('\n'));
  return data;
}

// 1. Open a live space (no scheduledFor: it starts now). Hosts start muted: unmute.
const { createSpace: space } = await graphql(
  'mutation ($input: CreateSpaceInput!) { createSpace(input: $input) { id title state } }',
  { input: { title: TITLE, speakerPolicy: 'INVITED' } },
);
await graphql('mutation ($id: ID!) { setMuted(spaceId: $id, muted: false) { muted } }', { id: space.id });
console.log(JSON.stringify({ space }));
const { iceServers } = await graphql('{ iceServers { urls username credential } }');

// 2. The stage connects with connectAudio: the client offers (Opus, plus the RFC 6464 audio level
//    header extension, from which the server derives who is speaking), the server answers.
const pc = new RTCPeerConnection({
  iceServers,
  iceUseIpv6: false,
  ...(ICE_ADDRESS ? { iceInterfaceAddresses: { udp4: ICE_ADDRESS } } : {}),
  codecs: {
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 })],
    video: [],
  },
  headerExtensions: { audio: [useAudioLevelIndication()], video: [] },
});
const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
await pc.setLocalDescription(await pc.createOffer());
// The API takes a complete offer (no trickle ICE): wait until every candidate is in it.
if (pc.iceGatheringState !== 'complete') await pc.iceGatheringStateChange.watch((state) => state === 'complete');
const { connectAudio } = await graphql('mutation ($id: ID!, $offer: String!) { connectAudio(spaceId: $id, offer: $offer) { answer } }', {
  id: space.id,
  offer: pc.localDescription.sdp,
});
await pc.setRemoteDescription({ type: 'answer', sdp: connectAudio.answer });
const audioLevelId = Number(Object.entries(pc.extIdUriMap).find(([, uri]) => uri === RTP_EXTENSION_URI.audioLevelIndication)?.[0]);

// 3. Once connected, send one 20 ms Opus frame (960 samples, 48 kHz mono) every 20 ms: a sine at
//    0.3 of full scale, with its level (-dBov, 0 loudest .. 127 silent) in the header extension.
const SAMPLE_RATE = 48000;
const FRAME = 960;
const encoder = new OpusScript(SAMPLE_RATE, 1, OpusScript.Application.AUDIO);
const frequency = Number(TONE_HZ);
let sample = 0;
let sequenceNumber = Math.floor(Math.random() * 0xffff);
let timestamp = Math.floor(Math.random() * 2 ** 31);
let packetsSent = 0;
function sendFrame() {
  const pcm = Buffer.alloc(FRAME * 2);
  for (let i = 0; i < FRAME; i++, sample++) pcm.writeInt16LE(Math.round(Math.sin((2 * Math.PI * frequency * sample) / SAMPLE_RATE) * 0.3 * 32767), i * 2);
  const header = new RtpHeader({
    payloadType: 111,
    marker: packetsSent === 0,
    sequenceNumber,
    timestamp,
    extensions: Number.isNaN(audioLevelId) ? [] : [{ id: audioLevelId, payload: Buffer.from(serializeAudioLevelIndication(13)) }],
  });
  sequenceNumber = (sequenceNumber + 1) & 0xffff;
  timestamp = (timestamp + FRAME) >>> 0;
  packetsSent++;
  transceiver.sender.sendRtp(new RtpPacket(header, encoder.encode(pcm, FRAME))).catch(() => {});
}
await pc.connectionStateChange.watch((state) => state === 'connected');
const startedAt = performance.now();
let framesDue = 0;
// Timers drift: send however many frames are due by the clock, never a burst of more than 5.
const sender = setInterval(() => {
  const due = Math.floor((performance.now() - startedAt) / 20) + 1;
  framesDue = Math.max(framesDue, due - 5);
  for (; framesDue < due; framesDue++) sendFrame();
}, 20);
const report = setInterval(() => console.log(JSON.stringify({ connection: pc.connectionState, packetsSent })), 1000);

// 4. Ctrl-C ends the space for everyone (a host who only disconnects leaves it open for a while).
async function end() {
  clearInterval(sender);
  clearInterval(report);
  await graphql('mutation ($id: ID!) { endSpace(spaceId: $id) { state } }', { id: space.id });
  await pc.close();
  encoder.delete();
  process.exit(0);
}
process.once('SIGINT', end);
process.once('SIGTERM', end);
