// A bot that listens to a live space: it joins as a listener, receives the stage's audio over
// WebRTC (werift), decodes it (opusscript) and prints how loud it was, once a second.
//   SPACES_URL=https://spaces.example.org SPACES_TOKEN=spaces_pat_... SPACE_ID=U3BhY2U6... node listen-bot.mjs
// Needs the scopes read, spaces:write (joinSpace, leaveSpace) and audio. Ctrl-C leaves the space.
// ICE_ADDRESS (optional): the local IPv4 address to receive media on, on a machine with several.
import OpusScript from 'opusscript';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';

const { SPACES_URL, SPACES_TOKEN, SPACE_ID, ICE_ADDRESS } = process.env;
if (!SPACES_URL || !SPACES_TOKEN || !SPACE_ID) throw new Error('Set SPACES_URL, SPACES_TOKEN and SPACE_ID.');

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

// 1. Join the space as a listener, and get the STUN/TURN servers to use (TURN credentials are
//    fresh: ask again before each connection).
await graphql('mutation ($id: ID!) { joinSpace(spaceId: $id) { role } }', { id: SPACE_ID });
const { iceServers } = await graphql('{ iceServers { urls username credential } }');

// 2. Listeners get the stage's mix from the audience relay: the server makes the SDP offer
//    (listenAudio), the bot answers (answerAudio). Stage members (host, co-hosts, speakers) use
//    connectAudio instead: the client offers, the server answers.
const { listenAudio } = await graphql('mutation ($id: ID!) { listenAudio(spaceId: $id) { id offer } }', { id: SPACE_ID });

const pc = new RTCPeerConnection({
  iceServers,
  iceUseIpv6: false,
  ...(ICE_ADDRESS ? { iceInterfaceAddresses: { udp4: ICE_ADDRESS } } : {}),
  codecs: {
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 })],
    video: [],
  },
});

// 3. Decode each 20 ms Opus packet to 48 kHz mono PCM and keep the sum of squares for the level.
const SAMPLE_RATE = 48000;
const decoder = new OpusScript(SAMPLE_RATE, 1, OpusScript.Application.AUDIO);
let packets = 0;
let samples = 0;
let sumOfSquares = 0;
pc.onTrack.subscribe((track) => {
  track.onReceiveRtp.subscribe((rtp) => {
    packets++;
    const pcm = decoder.decode(rtp.payload); // a Buffer of 16-bit little-endian samples
    for (let i = 0; i + 1 < pcm.length; i += 2) {
      const sample = pcm.readInt16LE(i) / 32768;
      sumOfSquares += sample * sample;
      samples++;
    }
  });
});

await pc.setRemoteDescription({ type: 'offer', sdp: listenAudio.offer });
await pc.setLocalDescription(await pc.createAnswer());
// The API takes a complete answer (no trickle ICE): wait until every candidate is in it.
if (pc.iceGatheringState !== 'complete') await pc.iceGatheringStateChange.watch((state) => state === 'complete');
await graphql('mutation ($id: ID!, $offerId: ID!, $answer: String!) { answerAudio(spaceId: $id, offerId: $offerId, answer: $answer) { audioTier } }', {
  id: SPACE_ID,
  offerId: listenAudio.id,
  answer: pc.localDescription.sdp,
});

// 4. Once a second: packets received and the level in dBFS (null: digital silence).
let second = 0;
const report = setInterval(() => {
  const rms = samples > 0 ? Math.sqrt(sumOfSquares / samples) : 0;
  console.log(JSON.stringify({ second: ++second, connection: pc.connectionState, packets, levelDbfs: Math.round(20 * Math.log10(rms) * 10) / 10 }));
  packets = samples = sumOfSquares = 0;
}, 1000);

// 5. Leave cleanly: the space shows the bot gone at once (instead of after the presence timeout).
async function leave() {
  clearInterval(report);
  await pc.close();
  decoder.delete();
  await graphql('mutation ($id: ID!) { leaveSpace(spaceId: $id) }', { id: SPACE_ID });
  process.exit(0);
}
process.once('SIGINT', leave);
process.once('SIGTERM', leave);
