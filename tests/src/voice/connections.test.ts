import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '@spaces/api';
import { inspectRoom } from '@spaces/api/testing';
import { createDb } from '@spaces/db';
import { findFreePort, JanusError, JanusSession, startJanus, type RunningJanus } from '@spaces/janus';
import { codes, startTestApp, type TestApp } from '../support/app.ts';
import { janusAdmin, janusHandles } from '../support/janus-admin.ts';
import { fakeOffer } from '../support/sdp.ts';
import { must, Q, users, type U } from '../support/spaces.ts';

/**
 * The voice plane's own guarantees, against real Janus instances: one connection per person,
 * drift repaired by the sweep, an API that serves while a Janus is down, and rooms nobody can
 * enter around the API.
 */
const adminSecret = randomBytes(12).toString('hex');
let janus: RunningJanus;
let t: TestApp;
const extra: { app: App; close(): Promise<void> }[] = [];

const mixerOf = (j: RunningJanus, name = 'local') => ({ name, url: j.httpUrl, adminKey: j.adminKey, apiSecret: j.apiSecret });

beforeAll(async () => {
  janus = await startJanus({ adminPort: await findFreePort(), adminSecret });
  t = await startTestApp({ mixers: [mixerOf(janus)], mixerSweepMs: 300 });
  await t.app.start();
});
afterAll(async () => {
  for (const e of extra) await e.close().catch(() => {});
  await t?.close();
  await janus?.stop();
});

/** Another API instance on the test's database. */
async function anotherApp(options: Parameters<typeof buildApp>[0]): Promise<App> {
  const db = await createDb({ url: t.databaseUrl, migrate: false });
  const app = await buildApp({ database: db, serveWeb: false, port: 0, host: '127.0.0.1', presenceGraceMs: 600_000, ...options });
  extra.push({ app, close: async () => (await app.stop(), await db.close()) });
  return app;
}

const raw = (id: string) => Buffer.from(id, 'base64url').toString().split(':')[1]!;

const CONNECT = `mutation($s: ID!, $o: String!) { connectAudio(spaceId: $s, offer: $o) { answer participant { id } } }`;

/** Every handle Janus holds, across every session (admin API). */
const handles = async (): Promise<number> => (await janusHandles(janusAdmin(janus.adminUrl!, adminSecret))).length;

async function liveSpace(host: U) {
  const s = (await must(t, Q.create, { input: { title: 'Voice', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id as string;
  // The host starts muted (issue 11); these suites want the host heard from the start.
  await must(t, Q.setMuted, { s, m: false }, host);
  return s;
}

describe('one connection per person', () => {
  it('ten concurrent connectAudio calls, on two API instances, leave exactly one handle and one room entry', async () => {
    const other = await anotherApp({ mixers: [mixerOf(janus)], mixerSweepMs: 300 });
    await other.start();
    const [host, guest] = await users(t, 2, 'cx');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, guest);
    const before = await handles();

    const viaOther = (q: string, v: Record<string, unknown>) =>
      Promise.resolve(
        other.yoga.fetch('http://spaces.test/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${guest!.token}` },
          body: JSON.stringify({ query: q, variables: v }),
        }),
      ).then((r) => r.json() as Promise<{ errors?: unknown[] }>);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        i % 2 ? viaOther(CONNECT, { s, o: fakeOffer() }) : t.gql(CONNECT, { s, o: fakeOffer() }, { token: guest!.token }),
      ),
    );
    expect(results.map((r) => r.errors ?? null)).toEqual(Array(10).fill(null));

    const [row] = await t.app.services.spaces.presentParticipants([{ spaceId: raw(s), userId: raw(guest!.id) }]);
    const mine = async () => (await inspectRoom(t.app, raw(s)))!.participants.filter((p) => p.display === row!.id);
    // The replaced connections leave the room and their handles are detached, wherever they were held.
    await expect.poll(async () => (await mine()).map((p) => p.id), { timeout: 5000 }).toEqual([
      (await t.app.services.spaces.participantsByIds([row!.id]))[0]!.mixerParticipantId,
    ]);
    await expect.poll(handles, { timeout: 5000 }).toBe(before + 1);
    const held = [...t.app.services.mixer.held().keys(), ...other.services.mixer.held().keys()].filter((id) => id === row!.id);
    expect(held).toHaveLength(1);
    await extra.pop()!.close();
  });
});

describe('drift', () => {
  it('the sweep restores a mute removed behind the API’s back', async () => {
    const [host, guest] = await users(t, 2, 'cd');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, guest);
    await t.gql(CONNECT, { s, o: fakeOffer() }, { token: guest!.token });
    const [guestRow] = await t.app.services.spaces.presentParticipants([{ spaceId: raw(s), userId: raw(guest!.id) }]);
    const entry = async () => (await inspectRoom(t.app, raw(s)))!.participants.find((p) => p.participantId === guestRow!.id);
    await expect.poll(async () => (await entry())?.muted).toBe(true);
    const { id: mixerId } = (await entry())!;

    // An operator (holding the API secret and the room secret) unmutes the listener directly.
    const [space] = await t.app.services.spaces.byIds([raw(s)]);
    const at = t.app.services.mixer.roomOf(space!)!;
    const session = await JanusSession.create({ url: janus.httpUrl, apiSecret: janus.apiSecret });
    const rogue = await session.attachAudioBridge();
    const operationsBefore = t.app.services.mixer.reconciler.stats.operations;
    await rogue.unmute(at.room, mixerId, { secret: at.instance.roomSecret(at.room) });
    const unmutedAt = Date.now();
    await expect.poll(async () => (await entry())!.muted, { timeout: 3000, interval: 20 }).toBe(true);
    expect(Date.now() - unmutedAt).toBeLessThan(2000); // the sweep runs every 300 ms here
    // Nothing asked the API for a change: the reconciler's own comparison found and undid it.
    expect(t.app.services.mixer.reconciler.stats.operations).toBeGreaterThan(operationsBefore);
    await session.destroy();
  });

  it('a participant muted at the mixer is not speaking, even if no stopped-talking event comes', async () => {
    const [host, speaker] = await users(t, 2, 'cs');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, speaker);
    await must(t, Q.raise, { s, r: true }, speaker);
    await must(t, Q.role, { s, u: speaker!.id, role: 'SPEAKER' }, host);
    await must(t, Q.setMuted, { s, m: false }, speaker);
    await t.gql(CONNECT, { s, o: fakeOffer() }, { token: speaker!.token });
    const [row] = await t.app.services.spaces.presentParticipants([{ spaceId: raw(s), userId: raw(speaker!.id) }]);
    // A talking event (as the mixer reports it), then the host mutes: the event that would end it never comes.
    await t.app.services.mixer.audio.speaking(row!.id, row!.mixerParticipantId!, true);
    expect((await t.app.services.spaces.participantsByIds([row!.id]))[0]!.speaking).toBe(true);
    await must(t, Q.mute, { s, u: speaker!.id }, host);
    await expect.poll(async () => (await t.app.services.spaces.participantsByIds([row!.id]))[0]!.speaking).toBe(false);
    // And a late talking event for a muted participant is not recorded.
    await t.app.services.mixer.audio.speaking(row!.id, row!.mixerParticipantId!, true);
    expect((await t.app.services.spaces.participantsByIds([row!.id]))[0]!.speaking).toBe(false);
  });
});

describe('a join during a reconcile run', () => {
  /**
   * A reconcile run reads the room from Janus and the participants from the database. A join that
   * lands between the two (its connection recorded, then joined) is someone's connection, whichever
   * instance runs the reconcile: it must not be kicked as no one's. Here the join is made to land
   * inside the run, on the instance that joins and on another one.
   */
  it.each([
    ['the instance that joins', false],
    ['another instance', true],
  ])('leaves a connection joined mid-run in the room (reconciled by %s)', async (_, onOther) => {
    const reconciling = onOther ? await anotherApp({ mixers: [mixerOf(janus)], mixerSweepMs: 60_000 }) : t.app;
    if (onOther) await reconciling.start();
    const [host, guest] = await users(t, 2, onOther ? 'jo' : 'js');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, guest);
    await t.gql(CONNECT, { s, o: fakeOffer() }, { token: host!.token });
    const [space] = await reconciling.services.spaces.byIds([raw(s)]);
    const control = reconciling.services.mixer.roomOf(space!)!.instance.control!;

    // The next listing of any room first waits for the guest's join to finish.
    const list = control.listParticipants.bind(control);
    let joined!: Promise<unknown>;
    control.listParticipants = async (room) => {
      control.listParticipants = list;
      joined = t.gql(CONNECT, { s, o: fakeOffer() }, { token: guest!.token });
      await joined;
      return list(room);
    };
    await reconciling.services.mixer.reconciler.settled(raw(s));
    expect(control.listParticipants).toBe(list); // the join did land inside a run
    expect(((await joined) as { errors?: unknown }).errors).toBeUndefined();
    await reconciling.services.mixer.reconciler.settled(raw(s));
    await t.app.services.mixer.reconciler.settled(raw(s));

    // Still in the room, under the id its record holds, with its audio held.
    const [row] = await t.app.services.spaces.presentParticipants([{ spaceId: raw(s), userId: raw(guest!.id) }]);
    expect(row!.mixerParticipantId).not.toBeNull();
    const room = (await inspectRoom(t.app, raw(s)))!.participants.filter((p) => p.display === row!.id);
    expect(room.map((p) => p.id)).toEqual([row!.mixerParticipantId]);
    expect(t.app.services.mixer.held().get(row!.id)).toBe(row!.mixerParticipantId);
    if (onOther) await extra.pop()!.close();
  });
});

describe('host presence', () => {
  it('a host who left stays away when their old audio reports media again', async () => {
    const [host] = await users(t, 1, 'ch');
    const s = await liveSpace(host!);
    await must(t, Q.leave, { s }, host);
    const away = async () => (await t.app.services.spaces.byIds([raw(s)]))[0]!.hostAwaySince;
    const since = await away();
    expect(since).toBeInstanceOf(Date);
    await t.app.services.spaces.presence.hostAudio(raw(s), true);
    expect(await away()).toEqual(since);
    await must(t, Q.join, { s }, host);
    expect(await away()).toBeNull();
  });
});

describe('a Janus that is down', () => {
  it('the API starts without it, places spaces on the other, and uses it again once it is back', async () => {
    const port = await findFreePort();
    const adminKey = randomBytes(16).toString('hex');
    const apiSecret = randomBytes(16).toString('hex');
    const down = { name: 'two', url: `http://127.0.0.1:${port}/janus`, adminKey, apiSecret };
    const app = await anotherApp({ mixers: [mixerOf(janus, 'one'), down], port: 0 });
    const startedAt = Date.now();
    const url = await app.start();
    expect(Date.now() - startedAt).toBeLessThan(8000);
    const health = async () => (await (await fetch(`${url}/healthz`)).json()) as { status: string; voice: { instances: { name: string; up: boolean }[] } };
    expect((await health()).voice.instances).toEqual([
      { name: 'one', up: true },
      { name: 'two', up: false },
    ]);
    expect((await health()).status).toBe('degraded');

    const hosts = await users(t, 3, 'cj');
    const placedOn = async (spaceId: string) => {
      await app.services.mixer.reconciler.settled(spaceId);
      return (await app.services.spaces.byIds([spaceId]))[0]!.mixerInstance;
    };
    const first = await app.services.spaces.create(raw(hosts[0]!.id), { title: 'While two is down', speakerPolicy: 'EVERYONE' });
    await expect.poll(() => placedOn(first.id)).toBe('one');

    const second = await startJanus({ httpPort: port, adminKey, apiSecret });
    try {
      await expect.poll(async () => (await health()).voice.instances.every((i) => i.up), { timeout: 5000 }).toBe(true);
      const next = await app.services.spaces.create(raw(hosts[1]!.id), { title: 'Two is back', speakerPolicy: 'EVERYONE' });
      await expect.poll(() => placedOn(next.id)).toBe('two');
      expect(await inspectRoom(app, next.id)).toMatchObject({ instance: 'two', participants: [] });

      // While the instance of a space is down, voice there says so clearly; it works when it is back.
      await second.stop();
      const hostOfNext = hosts[1]!;
      const res = await app.yoga.fetch('http://spaces.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${hostOfNext.token}` },
        body: JSON.stringify({ query: CONNECT, variables: { s: Buffer.from(`Space:${next.id}`).toString('base64url'), o: fakeOffer() } }),
      });
      const body = (await res.json()) as { errors?: { message: string; extensions: { code: string; retryAfterMs?: number } }[] };
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', retryAfterMs: 1000 });
      expect(body.errors?.[0]?.message).toMatch(/reconnecting/);
      const again = await startJanus({ httpPort: port, adminKey, apiSecret });
      try {
        await expect.poll(async () => (await health()).voice.instances.every((i) => i.up), { timeout: 5000 }).toBe(true);
        // The room came back with the instance.
        await expect.poll(async () => (await inspectRoom(app, next.id))?.instance, { timeout: 5000 }).toBe('two');
      } finally {
        await again.stop();
      }
    } finally {
      await second.stop();
    }
  }, 40_000);
});

describe('locked rooms', () => {
  it('without the room pin nobody joins a room, and plain RTP is refused unless enabled', async () => {
    const [host] = await users(t, 1, 'cl');
    const s = await liveSpace(host!);
    await t.app.services.mixer.reconciler.settled(raw(s));
    const [space] = await t.app.services.spaces.byIds([raw(s)]);
    const { room } = t.app.services.mixer.roomOf(space!)!;
    // Even a process holding the Janus API secret cannot join without the pin the API derives.
    const session = await JanusSession.create({ url: janus.httpUrl, apiSecret: janus.apiSecret });
    try {
      const intruder = await session.attachAudioBridge();
      await expect(intruder.join({ room, display: 'intruder' })).rejects.toBeInstanceOf(JanusError);
      await expect(intruder.join({ room, display: 'intruder', pin: 'guess' })).rejects.toBeInstanceOf(JanusError);
      expect((await inspectRoom(t.app, raw(s)))!.participants.map((p) => p.display)).not.toContain('intruder');
    } finally {
      await session.destroy();
    }
    // This API instance was not configured for plain RTP.
    const [row] = await t.app.services.spaces.presentParticipants([{ spaceId: raw(s), userId: raw(host!.id) }]);
    await expect(t.app.services.mixer.connectPlainRtp(row!.id, { ip: '127.0.0.1', port: 9 })).rejects.toMatchObject({
      extensions: { code: 'CONFLICT' },
    });
    expect(codes(await t.gql(CONNECT, { s, o: 'v=0 nope' }, { token: host!.token }))).toEqual(['BAD_USER_INPUT']);
  });
});
