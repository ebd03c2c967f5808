import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { buildApp, type App } from '@spaces/api';
import { createDb, type DbHandle } from '@spaces/db';
import { startTestApp, type TestApp } from '../support/app.ts';
import { EVENTS, must, Q, users, type U } from '../support/spaces.ts';
import { sleep, subscribe, type Subscription } from '../support/ws.ts';

/**
 * Sessions end live subscriptions (issue 9, item 5): revoking a session (signOut) or its expiry
 * closes every WebSocket authenticated with it, 4403, within a second, on every API instance.
 * And spaces bars (item 4): an activity event costs bar queries only for the bars it concerns.
 */

const SIGN_OUT = `mutation { signOut }`;
const SIGN_IN = `mutation($i: SignInInput!) { signIn(input: $i) { token } }`;
const BAR = `subscription { spacesBar { id } }`;

/** A graphql-ws client on a real socket that records how its socket closed. */
interface Socket {
  client: Client;
  closed: Promise<{ code: number; at: number }>;
  code: () => number | null;
}

function socket(base: string, options: { token?: string; headers?: Record<string, string> } = {}): Socket {
  let code: number | null = null;
  let resolve!: (value: { code: number; at: number }) => void;
  const closed = new Promise<{ code: number; at: number }>((r) => (resolve = r));
  class HeaderSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: options.headers });
    }
  }
  const client = createClient({
    url: `${base.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: HeaderSocket,
    connectionParams: options.token ? { authToken: options.token } : undefined,
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (event) => {
        code = (event as { code: number }).code;
        resolve({ code, at: Date.now() });
      },
    },
  });
  return { client, closed, code: () => code };
}

/** Resolves with the close, or null if the socket is still open after `ms`. */
const closedWithin = (s: Socket, ms: number) => Promise.race([s.closed, sleep(ms).then(() => null)]);

const watchEvents = (s: Socket, spaceId: string) => subscribe<any>(s.client, EVENTS, { s: spaceId }, (d) => d.spaceEvents);

/**
 * Someone joins the space (again, until it works): once every subscription has seen a join,
 * they are all in place (a lazy client connects and subscribes in its own time).
 */
async function probe(t: TestApp, spaceId: string, subs: Subscription<any>[]) {
  const [visitor] = await users(t, 1, 'pr');
  const seen = (sub: Subscription<any>) => sub.events.some((e) => e.kind === 'PARTICIPANT_JOINED' && e.user?.id === visitor!.id);
  for (let attempt = 1; ; attempt++) {
    await must(t, Q.join, { s: spaceId }, visitor);
    for (let waited = 0; waited < 1_000 && !subs.every(seen); waited += 20) await sleep(20);
    if (subs.every(seen)) return;
    if (attempt === 10) throw new Error('the subscriptions never saw a join');
    await must(t, Q.leave, { s: spaceId }, visitor);
  }
}

async function signIn(t: TestApp, user: U): Promise<string> {
  const r = await must(t, SIGN_IN, { i: { handle: user.handle, password: 'correct horse battery' } });
  return r.signIn.token as string;
}

/** The database id inside a global id (what services are called with). */
const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1]!;

async function liveSpace(t: TestApp, host: U): Promise<string> {
  return (await must(t, Q.create, { input: { title: 'Sessions', speakerPolicy: 'INVITED' } }, host)).createSpace.id as string;
}

describe('signing out ends live subscriptions', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await startTestApp();
    base = await t.app.start();
  });
  afterAll(() => t?.close());

  it('closes a socket opened before signOut with 4403 within a second; it gets none of the later private events', async () => {
    const [host, fan] = await users(t, 2, 'so');
    const s = await liveSpace(t, host!);
    await must(t, Q.join, { s }, fan);
    // The same user on two devices: the other session must keep working.
    const otherToken = await signIn(t, fan!);
    const signedOut = socket(base, { token: fan!.token });
    const other = socket(base, { token: otherToken });
    const events = watchEvents(signedOut, s);
    const control = watchEvents(other, s);
    await probe(t, s, [events, control]);

    const r = await t.gql(SIGN_OUT, {}, { token: fan!.token });
    expect(r.data?.signOut).toBe(true);
    const outAt = Date.now();
    const closed = await closedWithin(signedOut, 1_000);
    expect(closed?.code).toBe(4403);
    expect(closed!.at - outAt).toBeLessThan(1_000);

    // A private event for the user: only the socket of the session still signed in gets it.
    await must(t, Q.invite, { s, u: fan!.id }, host);
    await control.waitFor((e) => e.kind === 'SPEAKER_INVITED');
    await sleep(200);
    expect(events.events.map((e) => e.kind)).not.toContain('SPEAKER_INVITED');
    expect(other.code()).toBeNull();
    // The token is dead over HTTP and for new sockets too.
    expect((await t.gql(`{ viewer { id } }`, {}, { token: fan!.token })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const again = socket(base, { token: fan!.token });
    subscribe(again.client, BAR);
    expect((await closedWithin(again, 2_000))?.code).toBe(4403);
    await other.client.dispose();
  });

  it('closes every socket of the session, also those signed in by the session cookie', async () => {
    const [fan] = await users(t, 1, 'sc');
    const cookieSocket = socket(base, { headers: { cookie: `spaces_session=${fan!.token}`, origin: base } });
    const bearerSocket = socket(base, { token: fan!.token });
    const viaCookie = subscribe<{ id: string }[]>(cookieSocket.client, BAR, {}, (d) => d.spacesBar);
    const viaBearer = subscribe<{ id: string }[]>(bearerSocket.client, BAR, {}, (d) => d.spacesBar);
    // Signed in on both (a signed-out spacesBar is an error, not a bar).
    await viaCookie.waitFor((bar) => bar.length === 0);
    await viaBearer.waitFor((bar) => bar.length === 0);

    await must(t, SIGN_OUT, {}, fan);
    const [a, b] = await Promise.all([closedWithin(cookieSocket, 1_000), closedWithin(bearerSocket, 1_000)]);
    expect([a?.code, b?.code]).toEqual([4403, 4403]);
  });

  it('leaves sockets of other sessions and signed-out sockets open', async () => {
    const [a, b] = await users(t, 2, 'sl');
    const socketB = socket(base, { token: b!.token });
    const anonymous = socket(base);
    const s = await liveSpace(t, a!);
    await probe(t, s, [watchEvents(socketB, s), watchEvents(anonymous, s)]);
    await must(t, SIGN_OUT, {}, a);
    expect(await closedWithin(socketB, 500)).toBeNull();
    expect(await closedWithin(anonymous, 10)).toBeNull();
    await socketB.client.dispose();
    await anonymous.client.dispose();
  });
});

describe('signing out on one API instance closes the socket on another (LISTEN/NOTIFY)', () => {
  let t: TestApp;
  let second: App;
  let secondDb: DbHandle;
  beforeAll(async () => {
    t = await startTestApp({ pubsub: 'postgres' });
    // A second instance with its own pool and its own LISTEN connection, like a second server.
    secondDb = await createDb({ url: t.databaseUrl, migrate: false });
    second = await buildApp({ database: secondDb, serveWeb: false, port: 0, host: '127.0.0.1', pubsub: 'postgres' });
  });
  afterAll(async () => {
    await second?.stop();
    await secondDb?.close();
    await t?.close();
  });

  it('closes it with 4403 within a second; the private event never reaches it', async () => {
    const [host, fan] = await users(t, 2, 'sx');
    const s = await liveSpace(t, host!);
    await must(t, Q.join, { s }, fan);
    const url = await second.start();
    const otherToken = await signIn(t, fan!);
    const onSecond = socket(url, { token: fan!.token });
    const controlSocket = socket(url, { token: otherToken });
    const events = watchEvents(onSecond, s);
    const control = watchEvents(controlSocket, s);
    await probe(t, s, [events, control]);

    // signOut runs on instance one (in-process fetch); the socket is on instance two.
    await must(t, SIGN_OUT, {}, fan);
    const outAt = Date.now();
    const closed = await closedWithin(onSecond, 1_000);
    expect(closed?.code).toBe(4403);
    expect(closed!.at - outAt).toBeLessThan(1_000);

    await must(t, Q.invite, { s, u: fan!.id }, host);
    await control.waitFor((e) => e.kind === 'SPEAKER_INVITED');
    expect(events.events.map((e) => e.kind)).not.toContain('SPEAKER_INVITED');
    expect(controlSocket.code()).toBeNull();
    await controlSocket.client.dispose();
  });
});

describe('an expired session', () => {
  let t: TestApp;
  let base: string;
  const ttlMs = 4_000;
  beforeAll(async () => {
    t = await startTestApp({ sessionTtlDays: ttlMs / 86_400_000 });
    base = await t.app.start();
  });
  afterAll(() => t?.close());

  it('closes its sockets (4403) when it expires, not before', async () => {
    const signingUpAt = Date.now();
    const [fan] = await users(t, 1, 'se');
    const signedUpAt = Date.now();
    const s = socket(base, { token: fan!.token });
    const bar = subscribe<{ id: string }[]>(s.client, BAR, {}, (d) => d.spacesBar);
    await bar.waitFor((b) => b.length === 0);
    expect(s.code()).toBeNull();
    const closed = await closedWithin(s, ttlMs + 2_000);
    expect(closed?.code).toBe(4403);
    // The session was made during signUp: it expired between signingUpAt and signedUpAt (+ ttl).
    expect(closed!.at).toBeGreaterThanOrEqual(signingUpAt + ttlMs);
    expect(closed!.at - (signedUpAt + ttlMs)).toBeLessThan(1_000);
  });
});

describe('spaces bars: an event costs bar queries only for the bars it concerns', () => {
  let t: TestApp;
  let base: string;
  const N = 20;
  beforeAll(async () => {
    // N + 2 subscribers on sockets from one address.
    t = await startTestApp({ maxSocketsPerClient: 100 });
    base = await t.app.start();
  });
  afterAll(() => t?.close());

  it('runs no bar SQL for N unrelated subscribers when someone follows, unfollows or goes live', async () => {
    const [host, actor, watcher, other, ...crowd] = await users(t, 4 + N, 'bq');
    // The crowd follows someone unrelated; the watcher follows the actor.
    for (const u of crowd) await must(t, Q.follow, { u: other!.id }, u);
    await must(t, Q.follow, { u: actor!.id }, watcher);
    const s = await liveSpace(t, host!);

    const sockets: Socket[] = [];
    const watch = (u: U) => {
      const sk = socket(base, { token: u.token });
      sockets.push(sk);
      return subscribe<{ id: string }[]>(sk.client, BAR, {}, (d) => d.spacesBar);
    };
    const crowdBars: Subscription<{ id: string }[]>[] = crowd.map(watch);
    const actorBar = watch(actor!);
    const watcherBar = watch(watcher!);
    for (const bar of [...crowdBars, actorBar, watcherBar]) await bar.waitFor((b) => b.length === 0);

    const { spaces, follows } = t.app.services;
    const barQueries = vi.spyOn(spaces, 'spacesBar');
    const followedAmong = vi.spyOn(follows, 'followedAmong');
    const followeeLoads = vi.spyOn(follows, 'followeeIds');
    const viewersQueried = () => new Set([...barQueries.mock.calls, ...followeeLoads.mock.calls].map((c) => c[0]));
    try {
      // The actor follows a live host: only the actor's own bar changes, and only it is queried.
      await must(t, Q.follow, { u: host!.id }, actor);
      await actorBar.waitFor((b) => b.length === 1 && b[0]!.id === s);
      await must(t, Q.unfollow, { u: host!.id }, actor);
      await actorBar.waitFor((b) => b.length === 0 && actorBar.events.length === 3);
      await sleep(100);
      expect(viewersQueried()).toEqual(new Set([uuidOf(actor!.id)]));

      // The actor goes live: the watcher, who follows them, gets the new bar; nobody else is queried.
      barQueries.mockClear();
      followeeLoads.mockClear();
      const own = await liveSpace(t, actor!);
      await watcherBar.waitFor((b) => b.length === 1 && b[0]!.id === own);
      await sleep(100);
      expect([...viewersQueried()].sort()).toEqual([uuidOf(actor!.id), uuidOf(watcher!.id)].sort());

      // Someone unrelated to everyone subscribed follows and unfollows: no bar query at all.
      barQueries.mockClear();
      followeeLoads.mockClear();
      await must(t, Q.follow, { u: host!.id }, other);
      await must(t, Q.unfollow, { u: host!.id }, other);
      await sleep(200);
      expect(barQueries).not.toHaveBeenCalled();
      expect(followeeLoads).not.toHaveBeenCalled();
      expect(followedAmong).not.toHaveBeenCalled();
      // Sent at once, then only on change: the crowd's bars never changed.
      for (const bar of crowdBars) expect(bar.events).toEqual([[]]);
    } finally {
      vi.restoreAllMocks();
      await Promise.all(sockets.map((sk) => sk.client.dispose()));
    }
  });

  it('a burst of events for one viewer costs a bounded number of bar queries, and ends on the right bar', async () => {
    const [host, viewer] = await users(t, 2, 'bb');
    const s = await liveSpace(t, host!);
    const sk = socket(base, { token: viewer!.token });
    const bar = subscribe<{ id: string }[]>(sk.client, BAR, {}, (d) => d.spacesBar);
    await bar.waitFor((b) => b.length === 0);
    const barQueries = vi.spyOn(t.app.services.spaces, 'spacesBar');
    try {
      const events = 50;
      for (let i = 0; i < events; i++)
        t.app.services.events.pubsub.publish('activity', { userIds: [viewer!.id], at: new Date().toISOString() });
      await must(t, Q.follow, { u: host!.id }, viewer);
      await bar.waitFor((b) => b.length === 1 && b[0]!.id === s);
      await sleep(100);
      expect(barQueries.mock.calls.length).toBeLessThanOrEqual(3);
      expect(bar.events).toEqual([[], [{ id: s }]]);
    } finally {
      vi.restoreAllMocks();
      await sk.client.dispose();
    }
  });
});
