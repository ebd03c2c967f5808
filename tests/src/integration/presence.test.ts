import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { codes, startTestApp, type TestApp } from '../support/app.ts';
import { EVENTS, F, must, Q, users, type U } from '../support/spaces.ts';
import { sleep, subscribe, wsClient, type Subscription } from '../support/ws.ts';

/**
 * Presence follows the person (issue 11): a participant is there while a client of theirs holds
 * a spaceEvents subscription of the space (on any instance) or their audio is connected; unseen
 * for PRESENCE_GRACE_MS, a listener leaves and a host is away. Signing out leaves every space.
 * Also: the host starts muted, removed users are told so (viewerRemoved), and the host's recap.
 */

/** Short enough to watch it happen: the instance beats every 250 ms. */
const GRACE_MS = 1_000;

let t: TestApp;
let base: string;
let sql: postgres.Sql;
beforeAll(async () => {
  t = await startTestApp({ presenceGraceMs: GRACE_MS, hostGraceMs: 60_000 });
  base = await t.app.start();
  sql = postgres(t.databaseUrl, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await t?.close();
});

type Ev = { kind: string; user: { id: string } | null; participant: any; space: any };

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1]!;

/** A subscriber on a real WebSocket (of `url`, this suite's app by default), signed in as `user`. */
async function watch(spaceId: string, user: U, url = base): Promise<Subscription<Ev> & { dispose(): Promise<void> }> {
  const client = wsClient(url, { token: user.token });
  const sub = subscribe<Ev>(client, EVENTS, { s: spaceId }, (d) => d.spaceEvents);
  // graphql-ws subscribes asynchronously: give the server a moment to hold it.
  await sleep(150);
  return Object.assign(sub, { dispose: () => client.dispose() as Promise<void> });
}

async function liveSpace(host: U, app: TestApp = t) {
  return (await must(app, Q.create, { input: { title: 'Presence', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id as string;
}

const presentIds = async (s: string) => {
  const { space } = await must(t, `query($s: ID!) { space(id: $s) { participants(first: 100) { edges { node { user { id } } } } } }`, { s });
  return space.participants.edges.map((e: any) => e.node.user.id as string).sort();
};

/** Waits until `check` holds (polling), or fails with what it last saw. */
async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 6_000): Promise<T> {
  let last = await read();
  for (const deadline = Date.now() + timeoutMs; !check(last) && Date.now() < deadline; ) {
    await sleep(100);
    last = await read();
  }
  expect(check(last), `still ${JSON.stringify(last)} after ${timeoutMs} ms`).toBe(true);
  return last;
}

describe('presence: unseen participants leave', () => {
  it('a listener without subscription or audio leaves after the grace period; one who subscribes stays', async () => {
    const [host, gone, stays] = await users(t, 3, 'pg');
    const s = await liveSpace(host!);
    const hostSub = await watch(s, host!);
    const staySub = await watch(s, stays!);
    await must(t, Q.join, { s }, gone);
    await must(t, Q.join, { s }, stays);
    expect(await presentIds(s)).toEqual([host!.id, gone!.id, stays!.id].sort());

    // Joining counts as being seen: still there well inside the grace period.
    await sleep(GRACE_MS / 2);
    expect(await presentIds(s)).toContain(gone!.id);

    // Unseen past the grace period: left, through the ordinary path (everyone is told).
    await hostSub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT' && e.user?.id === gone!.id, 6_000);
    expect(await presentIds(s)).toEqual([host!.id, stays!.id].sort());

    // Several grace periods later the subscribers are still there.
    await sleep(GRACE_MS * 2.5);
    expect(await presentIds(s)).toEqual([host!.id, stays!.id].sort());
    expect(hostSub.events.filter((e) => e.kind === 'PARTICIPANT_LEFT').map((e) => e.user?.id)).toEqual([gone!.id]);

    // Closing the tab (the socket) ends it: gone after the grace period.
    await staySub.dispose();
    await hostSub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT' && e.user?.id === stays!.id, 6_000);
    expect(await presentIds(s)).toEqual([host!.id]);
    // Still live: the host is there.
    expect((await must(t, Q.space, { s })).space.state).toBe('LIVE');
    await hostSub.dispose();
  });

  it('connected audio counts as being there', async () => {
    const [host, listener] = await users(t, 2, 'pa');
    const s = await liveSpace(host!);
    const hostSub = await watch(s, host!);
    await must(t, Q.join, { s }, listener);
    // As the mixer records it (no Janus in this suite): the listener's audio is up.
    await sql`update participants set audio_connected = true
      where space_id = ${uuidOf(s)} and user_id = ${uuidOf(listener!.id)}`;
    await sleep(GRACE_MS * 3);
    expect(await presentIds(s)).toContain(listener!.id);
    // Audio gone: after the grace period (counted from when audio was last seen), left.
    await sql`update participants set audio_connected = false
      where space_id = ${uuidOf(s)} and user_id = ${uuidOf(listener!.id)}`;
    await hostSub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT' && e.user?.id === listener!.id, 6_000);
    await hostSub.dispose();
  });

  it('a subscription held by another API instance on the same database keeps presence', async () => {
    let secondDb: DbHandle | null = null;
    let second: App | null = null;
    try {
      secondDb = await createDb({ url: t.databaseUrl, migrate: false });
      second = await buildApp({ database: secondDb, serveWeb: false, port: 0, host: '127.0.0.1', pubsub: 'postgres', presenceGraceMs: GRACE_MS });
      const secondUrl = await second.start();
      const [host, listener, loner] = await users(t, 3, 'pi');
      const s = await liveSpace(host!);
      const hostSub = await watch(s, host!);
      const listenerSub = await watch(s, listener!, secondUrl);
      await must(t, Q.join, { s }, listener);
      await must(t, Q.join, { s }, loner);
      // Either instance's janitor may make the loner leave (this suite's app has an in-process bus,
      // so the other's events do not reach its subscribers): read the list.
      await eventually(() => presentIds(s), (ids) => !ids.includes(loner!.id));
      await sleep(GRACE_MS * 2);
      expect(await presentIds(s)).toEqual([host!.id, listener!.id].sort());
      await listenerSub.dispose();
      await hostSub.dispose();
    } finally {
      await second?.stop();
      await secondDb?.close();
    }
  });

  it('an unseen host is away, not gone: the space ends after the host grace period unless they come back', async () => {
    const quick = await startTestApp({ presenceGraceMs: 500, hostGraceMs: 1_000 });
    try {
      await quick.app.start();
      const [host, listener] = await users(quick, 2, 'ph');
      const s = await liveSpace(host!, quick);
      const client = wsClient(quick.app.url!, { token: listener!.token });
      const sub = subscribe<Ev>(client, EVENTS, { s }, (d) => d.spaceEvents);
      await sleep(150);
      await must(quick, Q.join, { s }, listener);
      // The host never subscribed: away after 0.5 s, the space ends 1 s later.
      await sub.waitFor((e) => e.kind === 'SPACE_ENDED', 8_000);
      expect(sub.events.some((e) => e.kind === 'PARTICIPANT_LEFT' && e.user?.id === host!.id)).toBe(false);
      await client.dispose();

      // A host who keeps a subscription keeps the space.
      const [host2] = await users(quick, 1, 'ph');
      const s2 = await liveSpace(host2!, quick);
      const client2 = wsClient(quick.app.url!, { token: host2!.token });
      const sub2 = subscribe<Ev>(client2, EVENTS, { s: s2 }, (d) => d.spaceEvents);
      await sleep(3_000);
      expect(sub2.events.some((e) => e.kind === 'SPACE_ENDED')).toBe(false);
      expect((await must(quick, Q.space, { s: s2 })).space.state).toBe('LIVE');
      await client2.dispose();
    } finally {
      await quick.close();
    }
  });
});

describe('signing out', () => {
  it('a listener who signs out leaves at once; a host who signs out is away and off stage', async () => {
    const [host, listener, other] = await users(t, 3, 'so');
    const s = await liveSpace(host!);
    const otherSub = await watch(s, other!);
    await must(t, Q.join, { s }, other);
    await must(t, Q.join, { s }, listener);
    expect((await must(t, `mutation { signOut }`, {}, listener)).signOut).toBe(true);
    await otherSub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT' && e.user?.id === listener!.id, 2_000);
    expect(await presentIds(s)).not.toContain(listener!.id);

    expect((await must(t, `mutation { signOut }`, {}, host)).signOut).toBe(true);
    await otherSub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT' && e.user?.id === host!.id, 2_000);
    const [space] = await sql<{ state: string; host_away_since: Date | null }[]>`select state, host_away_since from spaces where id = ${uuidOf(s)}`;
    expect(space!.state).toBe('LIVE');
    expect(space!.host_away_since).not.toBeNull();
    expect((await must(t, Q.space, { s })).space.stage).toEqual([]);
    await otherSub.dispose();
  });
});

describe('the host starts muted', () => {
  it('on create, on start, and on coming back', async () => {
    const [host, later] = await users(t, 2, 'hm');
    const s = await liveSpace(host!);
    const space = (await must(t, Q.space, { s }, host)).space;
    expect(space.viewerParticipant).toMatchObject({ role: 'HOST', muted: true });

    // Unmuted, left, back: muted again.
    await must(t, Q.setMuted, { s, m: false }, host);
    await must(t, Q.leave, { s }, host);
    const back = (await must(t, Q.join, { s }, host)).joinSpace;
    expect(back).toMatchObject({ role: 'HOST', muted: true });

    // A scheduled space started later.
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = (await must(t, Q.create, { input: { title: 'Later', speakerPolicy: 'EVERYONE', scheduledFor: soon } }, later))
      .createSpace.id as string;
    await must(t, Q.start, { s: scheduled }, later);
    expect((await must(t, Q.space, { s: scheduled }, later)).space.viewerParticipant).toMatchObject({ role: 'HOST', muted: true });
  });
});

describe('viewerRemoved', () => {
  it('is true only for the removed viewer, who cannot join again', async () => {
    const [host, removed, listener] = await users(t, 3, 'vr');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, removed);
    await must(t, Q.join, { s }, listener);
    const query = `query($s: ID!) { space(id: $s) { viewerRemoved viewerParticipant { ${F} } } }`;
    expect((await must(t, query, { s }, removed)).space.viewerRemoved).toBe(false);
    await must(t, Q.remove, { s, u: removed!.id }, host);
    expect((await must(t, query, { s }, removed)).space).toEqual({ viewerRemoved: true, viewerParticipant: null });
    expect((await must(t, query, { s }, listener)).space.viewerRemoved).toBe(false);
    expect((await must(t, query, { s }, host)).space.viewerRemoved).toBe(false);
    expect((await must(t, query, { s })).space.viewerRemoved).toBe(false);
    expect(codes(await t.gql(Q.join, { s }, { token: removed!.token }))).toEqual(['FORBIDDEN']);
  });
});

describe('the host recap', () => {
  const RECAP = `query($s: ID!) { space(id: $s) { state recap { durationSeconds peakListeners speakers { id } } } }`;

  it('duration, peak listeners and who spoke, for the host only and only once ended', async () => {
    const [host, speaker, a, b, c] = await users(t, 5, 'rc');
    const s = await liveSpace(host!);
    const hostSub = await watch(s, host!);
    const listenerSubs = await Promise.all([a, b, c].map((u) => watch(s, u!)));
    // The speaker goes on stage before the others join: four listeners at once (the speaker
    // still among them) must not be there for the janitor's sample to see.
    await must(t, Q.join, { s }, speaker);
    await must(t, Q.raise, { s, r: true }, speaker);
    await must(t, Q.role, { s, u: speaker!.id, role: 'SPEAKER' }, host);
    for (const u of [a, b, c]) await must(t, Q.join, { s }, u);
    expect((await must(t, RECAP, { s }, host)).space.recap).toBeNull();

    // Three listeners at once: the janitor's sample (every beat) records it...
    await eventually(
      () => sql<{ peak_listeners: number }[]>`select peak_listeners from spaces where id = ${uuidOf(s)}`,
      (rows) => rows[0]!.peak_listeners === 3,
    );
    // ...and it stays the peak after two of them leave.
    await must(t, Q.leave, { s }, a);
    await must(t, Q.leave, { s }, b);

    // The speaker talks (as the mixer reports it: no Janus in this suite); the host never does.
    await must(t, Q.setMuted, { s, m: false }, speaker);
    const [row] = await sql<{ id: string }[]>`select id from participants where space_id = ${uuidOf(s)} and user_id = ${uuidOf(speaker!.id)}`;
    const audio = t.app.services.mixer.audio;
    await audio.expect(row!.id, 4242);
    await audio.connected(row!.id, 4242, true);
    await audio.speaking(row!.id, 4242, true);
    await audio.speaking(row!.id, 4242, false);

    await sleep(1_100);
    await must(t, Q.end, { s }, host);
    const recap = (await must(t, RECAP, { s }, host)).space.recap;
    expect(recap).toEqual({ durationSeconds: expect.any(Number), peakListeners: 3, speakers: [{ id: speaker!.id }] });
    expect(recap.durationSeconds).toBeGreaterThanOrEqual(1);
    // Nobody else sees it.
    for (const viewer of [speaker, c, undefined]) expect((await must(t, RECAP, { s }, viewer)).space.recap).toBeNull();
    for (const sub of [hostSub, ...listenerSubs]) await sub.dispose();
  });

  it('listeners present when the space ends count toward the peak', async () => {
    const [host, a, b] = await users(t, 3, 'rl');
    const s = await liveSpace(host!);
    const subs = await Promise.all([host, a, b].map((u) => watch(s, u!)));
    await must(t, Q.join, { s }, a);
    await must(t, Q.join, { s }, b);
    await must(t, Q.end, { s }, host);
    expect((await must(t, RECAP, { s }, host)).space.recap).toMatchObject({ peakListeners: 2, speakers: [] });
    for (const sub of subs) await sub.dispose();
  });
});
