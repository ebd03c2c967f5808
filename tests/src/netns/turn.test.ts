import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { startJanus, type RunningJanus } from '@spaces/janus';
import { handle, startTestApp, type TestApp } from '../support/app.ts';
import { TONES } from '../support/audio.ts';
import { closeAll, inboundAudio, launchPerson, receivedLoudness, signUpWithForm, type Person } from '../support/browser.ts';
import { must, Q, type U } from '../support/spaces.ts';
import { startTurn, type RunningTurn } from '../support/turn.ts';
import { NETNS_JANUS_ADDRESS, NETNS_PEER_ADDRESS, WebRtcAudioClient, assertInTestNamespace } from '../support/webrtc.ts';
import { createTurnClient } from 'werift';

/**
 * Voice through TURN, as for a listener behind a NAT that lets nothing but a relay through. Runs
 * in scripts/netns.sh's namespace: Janus on spaces0 (10.99.0.1), coturn on spaces1 (10.99.0.2)
 * with `use-auth-secret` and a secret of its own, no users, relaying only to Janus's address
 * (every other peer address denied, as docs/deploy.md advises).
 *
 * The API is told TURN_URLS/TURN_SECRET (as `ice`); the PWA, in Chromium, asks the API's
 * iceServers query before connecting and, with the hidden relay-only switch set
 * (localStorage 'spaces.iceTransportPolicy' = 'relay'), may use nothing but relay candidates. A
 * host (werift) sends a tone; the listener must hear it, and getStats() must show the selected
 * candidate pair's local candidate is a relay candidate on coturn.
 *
 * A TURN client of our own (werift's) with credentials from the iceServers query shows the relay
 * reaches Janus and nothing else (another namespace address, loopback, a public address), and
 * that coturn refuses an expired credential.
 *
 * Then a second API instance on the same database whose TURN secret is wrong: a relay-only
 * listener there never connects (10 s bounded wait), coturn says why (401), and after its connect
 * timeout the PWA says it couldn't reach the audio server.
 */
const RELAY_SWITCH = 'spaces.iceTransportPolicy'; // web/src/lib/state/audio.svelte.ts ICE_TRANSPORT_POLICY_KEY
const TTL_SECONDS = 600;

/** Keeps every peer connection's ICE candidate errors and connection states (window.__iceWatch). */
const ICE_WATCH = `(() => {
  if (window.__iceWatch) return;
  const watch = { errors: [], states: [], candidateTypes: [] };
  Object.defineProperty(window, '__iceWatch', { value: watch });
  const Base = window.RTCPeerConnection;
  if (!Base) return;
  window.RTCPeerConnection = class extends Base {
    constructor(...args) {
      super(...args);
      this.addEventListener('icecandidateerror', (e) => watch.errors.push({ url: e.url, errorCode: e.errorCode, errorText: e.errorText }));
      this.addEventListener('connectionstatechange', () => watch.states.push(this.connectionState));
      this.addEventListener('icecandidate', (e) => { if (e.candidate) watch.candidateTypes.push(e.candidate.type); });
    }
  };
})();`;

interface IceWatch {
  errors: { url: string; errorCode: number; errorText: string }[];
  states: string[];
  candidateTypes: string[];
}

let janus: RunningJanus | undefined;
let turn: RunningTurn | undefined;
let t: TestApp | undefined;
let wrongDb: DbHandle | undefined;
let wrong: App | undefined;
let base = '';
let wrongBase = '';
let listener: Person | undefined;
let stranger: Person | undefined;
let host: U | undefined;
let hostAudio: WebRtcAudioClient | undefined;
let spaceId = '';

beforeAll(async () => {
  assertInTestNamespace();
  const started = performance.now();
  janus = await startJanus({ ice: { enforceList: 'spaces0' } });
  turn = await startTurn({ address: NETNS_PEER_ADDRESS, allowedPeers: [NETNS_JANUS_ADDRESS] });
  const mixers = [{ name: 'local', url: janus.httpUrl, adminKey: janus.adminKey, apiSecret: janus.apiSecret }];
  t = await startTestApp({
    serveWeb: true,
    mixers,
    ice: { stunUrls: [], turnUrls: [turn.url], turnSecret: turn.secret, turnTtlSeconds: TTL_SECONDS },
  });
  base = await t.app.start();
  // Another API instance on the same database and Janus whose TURN secret is not coturn's.
  wrongDb = await createDb({ url: t.databaseUrl, migrate: false });
  wrong = await buildApp({
    database: wrongDb,
    serveWeb: true,
    port: 0,
    host: '127.0.0.1',
    mixers,
    ice: { stunUrls: [], turnUrls: [turn.url], turnSecret: `${turn.secret}-not`, turnTtlSeconds: TTL_SECONDS },
    // As startTestApp: the werift host holds no spaceEvents subscription; nobody leaves for going unseen.
    presenceGraceMs: 600_000,
  });
  wrongBase = await wrong.start();
  const launched = await Promise.allSettled([launchPerson('relay-listener'), launchPerson('relay-stranger')]);
  [listener, stranger] = launched.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
  const failed = launched.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  for (const person of [listener!, stranger!]) await person.context.addInitScript({ content: ICE_WATCH });
  console.log(`[turn] Janus, coturn (${turn.url}), two API instances and two Chromiums up in ${Math.round(performance.now() - started)} ms`);
}, 90_000);

afterAll(async () => {
  await closeAll([listener, stranger]);
  await hostAudio?.close().catch(() => undefined);
  await wrong?.stop().catch((e) => console.error('[turn] second app stop failed', e));
  await wrongDb?.close().catch(() => undefined);
  await t?.close().catch((e) => console.error('[turn] app close failed', e));
  await turn?.stop();
  await janus?.stop().catch((e) => console.error('[turn] janus stop failed', e));
}, 60_000);

/** The page's newest open peer connection: its configuration and the selected candidate pair. */
async function selectedPath(person: Person) {
  return person.page.evaluate(async () => {
    const pc = (((window as any).__spacesPeers ?? []) as RTCPeerConnection[]).filter((p) => p.connectionState !== 'closed').at(-1);
    if (!pc) return null;
    const stats = await pc.getStats();
    let pairId: string | undefined;
    stats.forEach((s: any) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    const pair: any = pairId ? stats.get(pairId) : undefined;
    const candidate = (id: string | undefined) => {
      const c: any = id ? stats.get(id) : undefined;
      return c ? { candidateType: c.candidateType, address: c.address, port: c.port, protocol: c.protocol, relayProtocol: c.relayProtocol, url: c.url } : null;
    };
    const config = pc.getConfiguration();
    return {
      iceTransportPolicy: config.iceTransportPolicy,
      iceServers: (config.iceServers ?? []).map((s) => ({ urls: ([] as string[]).concat(s.urls), username: s.username, credential: s.credential })),
      pair: pair ? { state: pair.state as string, bytesReceived: pair.bytesReceived as number } : null,
      local: candidate(pair?.localCandidateId),
      remote: candidate(pair?.remoteCandidateId),
    };
  });
}

/** coturn's log lines containing `text` (its stdout arrives in chunks: poll for what must come). */
const logLines = (text: string) => turn!.log().split('\n').filter((line) => line.includes(text));

/** Usernames coturn processed any request of successfully (its verbose log). */
const successfulUsers = () => [
  ...new Set([...turn!.log().matchAll(/user <([^>]+)>: incoming packet \S+ processed, success/g)].map((m) => m[1])),
];

const iceWatch = (person: Person) => person.page.evaluate(() => (window as any).__iceWatch as IceWatch);

/** Signs up through the form with relay-only switched on, opens the space and joins it. */
async function joinRelayOnly(person: Person, origin: string, name: string) {
  await person.page.goto(origin);
  await person.page.evaluate((key) => localStorage.setItem(key, 'relay'), RELAY_SWITCH);
  const h = handle('tr');
  await signUpWithForm(person.page, origin, h, name);
  await person.page.goto(`${origin}/s/${spaceId}`);
  await person.page.getByRole('button', { name: 'Join space' }).click();
  const joinedAt = performance.now();
  return { handle: h, joinedAt };
}

describe('voice through TURN (coturn, REST-API credentials from the API)', () => {
  it('a listener whose browser may use only the relay hears the host, through coturn', async () => {
    host = await t!.signUp(handle('th'));
    spaceId = (await must(t!, Q.create, { input: { title: 'Behind a strict NAT', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id as string;
    // The host starts muted (issue 11); the listener must hear the host's tone.
    await must(t!, Q.setMuted, { s: spaceId, m: false }, host);
    // The host speaks from werift (host candidates, no relay), a tone the whole time.
    hostAudio = await WebRtcAudioClient.create({ name: 'host', direction: 'sendrecv' });
    hostAudio.setTone(TONES.host);
    hostAudio.start();
    const { connectAudio } = await must(
      t!,
      `mutation($s: ID!, $o: String!) { connectAudio(spaceId: $s, offer: $o) { answer } }`,
      { s: spaceId, o: hostAudio.offer },
      host,
    );
    await hostAudio.accept(connectAudio.answer);
    await hostAudio.waitConnected();

    const person = listener!;
    const { joinedAt } = await joinRelayOnly(person, base, 'Riley Relay');
    await person.page.getByText('Audio live').waitFor({ timeout: 20_000 });
    const liveAfterMs = Math.round(performance.now() - joinedAt);
    await expect.poll(async () => (await inboundAudio(person.page))?.packetsReceived ?? 0, { timeout: 5000 }).toBeGreaterThan(0);

    // Relay only, with the TURN credentials the API's iceServers query gave this user.
    const path = (await selectedPath(person))!;
    expect(path.iceTransportPolicy).toBe('relay');
    expect(path.iceServers).toHaveLength(1);
    const server = path.iceServers[0]!;
    expect(server.urls).toEqual([turn!.url]);
    const viewer = await person.page.evaluate(async () => {
      const response = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ viewer { id } }' }),
      });
      return ((await response.json()) as { data: { viewer: { id: string } } }).data.viewer.id;
    });
    const userId = Buffer.from(viewer, 'base64url').toString().split(':')[1];
    const [expiry, who] = server.username!.split(':');
    expect(who).toBe(userId);
    expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(TTL_SECONDS - 120);
    expect(Number(expiry) - Date.now() / 1000).toBeLessThanOrEqual(TTL_SECONDS);
    expect(server.credential).toBe(createHmac('sha1', turn!.secret).update(server.username!).digest('base64'));
    // Nothing but relay candidates was gathered, and the pair in use runs through coturn to Janus.
    const watch = await iceWatch(person);
    expect(watch.candidateTypes.length).toBeGreaterThan(0);
    expect(new Set(watch.candidateTypes)).toEqual(new Set(['relay']));
    expect(path.pair?.state).toBe('succeeded');
    expect(path.local).toMatchObject({ candidateType: 'relay', address: NETNS_PEER_ADDRESS, relayProtocol: 'udp' });
    expect(path.local!.url).toContain(`${NETNS_PEER_ADDRESS}:${turn!.port}`);
    expect(path.remote).toMatchObject({ address: NETNS_JANUS_ADDRESS });
    // coturn allocated a relay for that user and let it reach Janus; nobody else got anything.
    await expect.poll(() => logLines(`user <${server.username}>: incoming packet ALLOCATE processed, success`)).not.toEqual([]);
    await expect.poll(() => logLines(`user <${server.username}>: incoming packet CREATE_PERMISSION processed, success`)).not.toEqual([]);
    expect(successfulUsers()).toEqual([server.username]);

    // The host is heard: received energy at a speaking level; silent when the host stops.
    await expect.poll(async () => (await inboundAudio(person.page))?.audioLevel ?? 0, { timeout: 5000 }).toBeGreaterThan(0.02);
    const speaking = await receivedLoudness(person.page, 1500);
    hostAudio.setTone(null);
    await expect.poll(async () => (await inboundAudio(person.page))?.audioLevel ?? 1, { timeout: 5000 }).toBeLessThan(0.005);
    const quiet = await receivedLoudness(person.page, 1500);
    hostAudio.setTone(TONES.host);
    console.log(
      `[turn] relay-only listener: "Join space" to "Audio live" ${liveAfterMs} ms; via ${path.local!.address}:${path.local!.port} (relay) -> ` +
        `${path.remote!.address}:${path.remote!.port}; received loudness (mean level²) host speaking ${speaking.meanSquare.toExponential(2)} ` +
        `(${speaking.packets} packets in ${speaking.seconds.toFixed(2)} s), host silent ${quiet.meanSquare.toExponential(2)}`,
    );
    expect(speaking.packets).toBeGreaterThan(40);
    expect(speaking.meanSquare).toBeGreaterThan(1e-3);
    expect(quiet.packets).toBeGreaterThan(40);
    expect(quiet.meanSquare).toBeLessThan(speaking.meanSquare / 100);
    expect(person.problems).toEqual([]);
  });

  it('the relay reaches Janus and nothing else, and refuses an expired credential', async () => {
    const user = await t!.signUp(handle('tk'));
    const { iceServers } = await must(t!, '{ iceServers { urls username credential } }', {}, user);
    expect(iceServers).toEqual([{ urls: [turn!.url], username: expect.stringMatching(/^\d+:/), credential: expect.any(String) }]);
    const allocate = (username: string, password: string) =>
      createTurnClient({ address: [turn!.address, turn!.port], username, password }, { interfaceAddresses: { udp4: NETNS_PEER_ADDRESS } });

    const client = await allocate(iceServers[0].username, iceServers[0].credential);
    try {
      expect(client.relayedAddress[0]).toBe(NETNS_PEER_ADDRESS);
      await client.getPermission([NETNS_JANUS_ADDRESS, 9]);
      // TEST-NET-1 stands for any public address; a permission sends nothing to the peer.
      for (const peer of [NETNS_PEER_ADDRESS, '127.0.0.1', '192.0.2.1'])
        await expect(client.getPermission([peer, 9]), peer).rejects.toBeDefined();
    } finally {
      await client.close();
    }
    const permission = `user <${iceServers[0].username}>: incoming packet CREATE_PERMISSION processed`;
    await expect.poll(() => logLines(`${permission}, success`)).toHaveLength(1);
    // coturn refused each of the three (403 Forbidden IP), not werift on its own.
    await expect.poll(() => logLines(`${permission}, error 403`)).toHaveLength(3);
    for (const peer of [NETNS_PEER_ADDRESS, '192.0.2.1']) expect(logLines(`peer IP ${peer} denied`)).not.toEqual([]);

    // Signed with the right secret but past its expiry (what a credential is after TURN_TTL_SECONDS).
    const userId = Buffer.from(user.id, 'base64url').toString().split(':')[1];
    const expired = `${Math.floor(Date.now() / 1000) - 60}:${userId}`;
    const refusedAt = performance.now();
    await expect(allocate(expired, createHmac('sha1', turn!.secret).update(expired).digest('base64'))).rejects.toBeDefined();
    await expect.poll(() => logLines(`user <${expired}>: incoming packet message processed, error 401`)).not.toEqual([]);
    expect(successfulUsers()).not.toContain(expired);
    console.log(`[turn] expired credential refused (401) after ${Math.round(performance.now() - refusedAt)} ms of client retries`);
  });

  it('with a wrong TURN secret in the API, a relay-only listener does not connect', async () => {
    expect(spaceId).not.toBe('');
    const person = stranger!;
    const { joinedAt } = await joinRelayOnly(person, wrongBase, 'Wes Wrong');
    // coturn refuses the allocation (401) and the browser reports the candidate error.
    await expect
      .poll(async () => (await iceWatch(person)).errors.map((e) => e.errorCode), { timeout: 10_000 })
      .toContain(401);
    // Bounded: nothing connects for 10 s after joining.
    const until = joinedAt + 10_000;
    while (performance.now() < until) {
      expect(await person.page.getByText('Audio live').count()).toBe(0);
      await person.page.waitForTimeout(500);
    }
    const watch = await iceWatch(person);
    expect(watch.states).not.toContain('connected');
    expect(watch.candidateTypes).toEqual([]);
    expect((await inboundAudio(person.page))?.packetsReceived ?? 0).toBe(0);
    await person.page.getByText('Connecting…').first().waitFor({ timeout: 1000 });
    // After the PWA's connect timeout (20 s) it tells the person, and tries again.
    await person.page.getByText(/Couldn't reach the audio server from this network/).waitFor({ state: 'attached', timeout: 20_000 });
    const errors = watch.errors.filter((e) => e.errorCode === 401);
    expect(errors[0]!.url).toContain(`${NETNS_PEER_ADDRESS}:${turn!.port}`);
    // The API signed this user's credential with its (wrong) secret; coturn refused it.
    const config = (await selectedPath(person))!;
    expect(config.iceTransportPolicy).toBe('relay');
    const { username, credential } = config.iceServers[0]!;
    expect(credential).toBe(createHmac('sha1', `${turn!.secret}-not`).update(username!).digest('base64'));
    await expect.poll(() => logLines(`user <${username}>: incoming packet message processed, error 401: Unauthorized`)).not.toEqual([]);
    expect(successfulUsers()).not.toContain(username);
    console.log(
      `[turn] wrong secret: ${watch.errors.length} ICE candidate errors (${[...new Set(watch.errors.map((e) => `${e.errorCode} ${e.errorText}`))].join(', ')}), ` +
        `connection states ${watch.states.join(' > ') || 'none'}, no audio in 10 s`,
    );
  });
});
