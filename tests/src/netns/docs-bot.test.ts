import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJanus, type RunningJanus } from '@spaces/janus';
import { startTestApp, type TestApp } from '../support/app.ts';
import { exampleToken, runExample, type RunningExample } from '../support/examples.ts';
import { must, Q, users } from '../support/spaces.ts';
import { TONES, ToneProbe } from '../support/audio.ts';
import { WebRtcAudioClient } from '../support/webrtc.ts';

/**
 * docs/examples/listen-bot.mjs, the WebRTC bot of docs/api.md, run as a developer would run it
 * (`node listen-bot.mjs`, endpoint and token from the environment) against a real app and Janus in
 * the test's network namespace: it joins a live space, takes the audience relay's offer
 * (listenAudio → answerAudio), and really hears the host — silence while the host sends silence,
 * a loud level while the host sends a tone — and Ctrl-C makes it leave the space. And
 * docs/examples/speak-bot.mjs: it opens a space and speaks into it through connectAudio; a werift
 * listener of the audience relay hears its tone, the space shows it speaking (the audio-level
 * extension it sends), and Ctrl-C ends the space.
 */
const CONNECT = `mutation($s: ID!, $o: String!) { connectAudio(spaceId: $s, offer: $o) { answer } }`;
const ME = `query($s: ID!) { space(id: $s) { viewerParticipant { role audioConnected audioTier } } }`;
const STAGE = `query($s: ID!) { space(id: $s) { state stage { role speaking } } }`;
const LISTEN = `mutation($s: ID!) { listenAudio(spaceId: $s) { id offer } }`;
const ANSWER = `mutation($s: ID!, $id: ID!, $a: String!) { answerAudio(spaceId: $s, offerId: $id, answer: $a) { id } }`;

interface Report {
  second: number;
  connection: string;
  packets: number;
  levelDbfs: number | null;
}

let janus: RunningJanus | undefined;
let t: TestApp | undefined;
let host: WebRtcAudioClient | undefined;
let bot: RunningExample | undefined;
let speaker: RunningExample | undefined;
let ear: WebRtcAudioClient | undefined;

beforeAll(async () => {
  janus = await startJanus({ ice: { enforceList: 'spaces0' } });
  t = await startTestApp({ mixers: [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }] });
  await t.app.start();
});
afterAll(async () => {
  await bot?.stop();
  await speaker?.stop();
  await host?.close();
  await ear?.close();
  await t?.close().catch((e) => console.error('[docs-bot] app close failed', e));
  await janus?.stop();
});

describe('examples/listen-bot.mjs', () => {
  it('hears what the host says, and leaves the space on Ctrl-C', async () => {
    const [hostUser, botUser] = await users(t!, 2, 'db');
    const s = (await must(t!, Q.create, { input: { title: 'Bot test', speakerPolicy: 'EVERYONE' } }, hostUser)).createSpace.id as string;
    await must(t!, Q.setMuted, { s, m: false }, hostUser);
    // The host on stage through connectAudio, sending silence for now.
    host = await WebRtcAudioClient.create({ name: 'host', direction: 'sendrecv' });
    host.setTone(null);
    host.start();
    await host.accept((await must(t!, CONNECT, { s, o: host.offer }, hostUser)).connectAudio.answer);
    await host.waitConnected();

    const { token, kind } = await exampleToken(t!, botUser!.token, ['READ', 'SPACES_WRITE', 'AUDIO']);
    console.log(`[docs-bot] listen-bot.mjs authenticates with a ${kind === 'pat' ? 'personal access token' : 'session token'}`);
    const startedAt = performance.now();
    bot = runExample('listen-bot.mjs', { SPACES_URL: t!.app.url!, SPACES_TOKEN: token, SPACE_ID: s });

    // Connected and receiving: the relay sends packets, silent ones while the host is silent.
    await bot.waitForLine<Report>((r) => r.connection === 'connected' && r.packets > 0, 20_000);
    console.log(`[docs-bot] bot start → receiving audio: ${Math.round(performance.now() - startedAt)} ms`);
    const silent = await bot.waitForLine<Report>((r) => r.packets > 40);
    expect(silent.levelDbfs === null || silent.levelDbfs < -50).toBe(true);
    const me = (await must(t!, ME, { s }, botUser)).space.viewerParticipant;
    expect(me).toEqual({ role: 'LISTENER', audioConnected: true, audioTier: 'AUDIENCE' });

    // The host speaks (a 400 Hz sine at 0.3 of full scale, about -13 dBFS): the bot hears it.
    const toneFrom = bot.lines.length;
    host.setTone(TONES.host);
    const loud = await bot.waitForLine<Report>((r) => r.second > toneFrom + 1 && r.packets > 40, 10_000);
    expect(loud.levelDbfs).not.toBeNull();
    expect(loud.levelDbfs!).toBeGreaterThan(-25);
    // ...and silence again when the host stops.
    const quietFrom = bot.lines.length;
    host.setTone(null);
    const quiet = await bot.waitForLine<Report>((r) => r.second > quietFrom + 1 && r.packets > 40, 10_000);
    expect(quiet.levelDbfs === null || quiet.levelDbfs < -50).toBe(true);
    console.log(`[docs-bot] heard: silent ${JSON.stringify(silent)}, tone ${JSON.stringify(loud)}, silent again ${JSON.stringify(quiet)}`);

    // Ctrl-C: the bot leaves the space and exits cleanly.
    bot.process.kill('SIGINT');
    expect(await bot.exited).toBe(0);
    expect((await must(t!, ME, { s }, botUser)).space.viewerParticipant).toBeNull();
  });
});

describe('examples/speak-bot.mjs', () => {
  it('opens a space and is heard in it (and seen speaking); Ctrl-C ends the space', async () => {
    const [botUser, listener] = await users(t!, 2, 'ds');
    const { token, kind } = await exampleToken(t!, botUser!.token, ['SPACES_WRITE', 'AUDIO']);
    console.log(`[docs-bot] speak-bot.mjs authenticates with a ${kind === 'pat' ? 'personal access token' : 'session token'}`);
    speaker = runExample('speak-bot.mjs', { SPACES_URL: t!.app.url!, SPACES_TOKEN: token, TITLE: 'Bot on air', TONE_HZ: String(TONES.speaker) });
    const { space } = await speaker.waitForLine<{ space: { id: string; title: string; state: string } }>((l) => 'space' in l, 20_000);
    expect(space).toMatchObject({ title: 'Bot on air', state: 'LIVE' });
    await speaker.waitForLine<{ connection: string; packetsSent: number }>((l) => l.connection === 'connected' && l.packetsSent > 0, 20_000);

    // A listener through the audience relay hears the bot's tone.
    await must(t!, Q.join, { s: space.id }, listener);
    const { listenAudio } = await must(t!, LISTEN, { s: space.id }, listener);
    ear = await WebRtcAudioClient.answering(listenAudio.offer, { name: 'ear' });
    await must(t!, ANSWER, { s: space.id, id: listenAudio.id, a: ear.answerSdp }, listener);
    await ear.waitConnected();
    const tone = new ToneProbe(ear, TONES.speaker);
    const other = new ToneProbe(ear, TONES.host);
    await tone.waitFor(true, { timeoutMs: 8000 });
    expect(await other.fractionOver(500)).toBe(0);
    // The level it sends makes it "speaking" on the stage.
    await expect
      .poll(async () => (await must(t!, STAGE, { s: space.id }, listener)).space.stage.map((p: { role: string; speaking: boolean }) => [p.role, p.speaking]), {
        timeout: 8000,
      })
      .toEqual([['HOST', true]]);

    speaker.process.kill('SIGINT');
    expect(await speaker.exited).toBe(0);
    expect((await must(t!, STAGE, { s: space.id }, listener)).space.state).toBe('ENDED');
  });
});
