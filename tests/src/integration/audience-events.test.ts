/**
 * Large audiences (issue 10): listeners' joins and leaves are summarised as AUDIENCE_UPDATED past
 * AUDIENCE_EVENT_THRESHOLD listeners, at most once a second, while stage, hands and moderation
 * stay individual and immediate; targeted events reach only their addressees; participants page
 * by group. Real PostgreSQL, the LISTEN/NOTIFY bus, subscribers on real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { buildApp } from '@spaces/api';
import { createDb } from '@spaces/db';
import { AUDIENCE_EVENT_THRESHOLD, AUDIENCE_UPDATE_INTERVAL_MS } from '@spaces/api/rules';
import { startTestApp, type TestApp } from '../support/app.ts';
import { EVENTS, must, Q, users, type U } from '../support/spaces.ts';
import { sleep, subscribe, wsClient, type Subscription } from '../support/ws.ts';

const AUDIENCE_EVENTS = `subscription($s: ID!) { spaceEvents(spaceId: $s) { kind at user { id }
  participant { id role handRaised user { id } } audience { listenerCount joined left sample { id handle } } } }`;

interface Ev {
  kind: string;
  at: string;
  user: { id: string } | null;
  participant: { id: string; role: string; handRaised: boolean; user: { id: string } } | null;
  audience: { listenerCount: number; joined: number; left: number; sample: { id: string }[] } | null;
}

let t: TestApp;
let base: string;
beforeAll(async () => {
  t = await startTestApp({ pubsub: 'postgres' });
  base = await t.app.start();
});
afterAll(() => t?.close());

const listenerCount = async (s: string) =>
  (await must(t, `query($s: ID!) { space(id: $s) { listenerCount } }`, { s })).space.listenerCount as number;

/** Joins one by one, so each transaction sees the ones before (the threshold is crossed exactly). */
async function joinInTurn(s: string, people: U[]) {
  for (const u of people) await must(t, Q.join, { s }, u);
}

describe('a small audience', () => {
  it('gets each listener’s join and leave as it happens', async () => {
    const [host, ...crowd] = await users(t, 6, 'sm');
    const s = (await must(t, Q.create, { input: { title: 'Small', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id;
    const client = wsClient(base);
    const sub = subscribe<Ev>(client, AUDIENCE_EVENTS, { s }, (d) => d.spaceEvents);
    await sleep(200);
    await joinInTurn(s, crowd);
    await must(t, Q.leave, { s }, crowd[0]);
    await sub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT');
    expect(sub.events.map((e) => e.kind)).toEqual([...crowd.map(() => 'PARTICIPANT_JOINED'), 'PARTICIPANT_LEFT']);
    expect(sub.events.slice(0, 5).map((e) => e.user!.id)).toEqual(crowd.map((u) => u.id));
    expect(sub.events.some((e) => e.kind === 'AUDIENCE_UPDATED')).toBe(false);
    await client.dispose();
  });
});

describe('a large audience', () => {
  let host: U;
  let speakerToBe: U;
  let first: U[];
  let wave: U[];
  let s: string;
  let sub: Subscription<Ev>;
  let client: ReturnType<typeof wsClient>;

  beforeAll(async () => {
    const cast = await users(t, AUDIENCE_EVENT_THRESHOLD + 2, 'lg');
    [host, speakerToBe, first] = [cast[0]!, cast[1]!, cast.slice(2)];
    wave = await users(t, 24, 'wv');
    s = (await must(t, Q.create, { input: { title: 'Large', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id;
    client = wsClient(base, { token: host.token });
    sub = subscribe<Ev>(client, AUDIENCE_EVENTS, { s }, (d) => d.spaceEvents);
    await sleep(200);
  }, 120_000);
  afterAll(() => client?.dispose());

  it(`sends every join up to ${AUDIENCE_EVENT_THRESHOLD} listeners individually`, async () => {
    // speakerToBe + first = threshold + 1 listeners: the last one crosses it.
    await joinInTurn(s, [speakerToBe, ...first.slice(0, -1)]);
    await sub.waitFor((e) => e.kind === 'PARTICIPANT_JOINED' && e.user?.id === first.at(-2)!.id, 10_000);
    expect(sub.events.filter((e) => e.kind === 'PARTICIPANT_JOINED')).toHaveLength(AUDIENCE_EVENT_THRESHOLD);
    await must(t, Q.join, { s }, first.at(-1));
    const update = await sub.waitFor((e) => e.kind === 'AUDIENCE_UPDATED', 5_000);
    expect(update.audience).toEqual({
      listenerCount: AUDIENCE_EVENT_THRESHOLD + 1,
      joined: 1,
      left: 0,
      sample: [{ id: first.at(-1)!.id, handle: first.at(-1)!.handle }],
    });
    expect(update.participant).toBeNull();
    expect(sub.events.filter((e) => e.kind === 'PARTICIPANT_JOINED')).toHaveLength(AUDIENCE_EVENT_THRESHOLD);
  }, 60_000);

  it('past it, sums joins and leaves up at most once a second with exact counts; stage and hands stay immediate', async () => {
    const start = sub.events.length;
    // Joins and leaves spread over about three seconds, many at once.
    const batches = [wave.slice(0, 8), wave.slice(8, 16), wave.slice(16)];
    for (const [i, batch] of batches.entries()) {
      const joins = await Promise.all(batch.map((u) => t.gql(Q.join, { s }, { token: u.token })));
      expect(joins.flatMap((r) => r.errors ?? [])).toEqual([]);
      if (i === 1) await Promise.all(first.slice(0, 3).map((u) => must(t, Q.leave, { s }, u)));
      await sleep(900);
    }

    // Quiet again: the last summary counted the listeners after every join and leave above.
    await sleep(AUDIENCE_UPDATE_INTERVAL_MS + 300);
    const summarised = sub.events.slice(start);
    const updates = summarised.filter((e) => e.kind === 'AUDIENCE_UPDATED');
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.reduce((n, e) => n + e.audience!.joined, 0)).toBe(wave.length);
    expect(updates.reduce((n, e) => n + e.audience!.left, 0)).toBe(3);
    expect(updates.at(-1)!.audience!.listenerCount).toBe(AUDIENCE_EVENT_THRESHOLD + 1 + wave.length - 3);
    expect(updates.at(-1)!.audience!.listenerCount).toBe(await listenerCount(s));
    for (const u of updates) {
      expect(u.audience!.sample.length).toBeGreaterThan(0);
      expect(u.audience!.sample.length).toBeLessThanOrEqual(5);
      for (const who of u.audience!.sample) expect(wave.map((w) => w.id)).toContain(who.id);
    }
    // At most one a second (`at` is when each went out; timers may round a millisecond down).
    const times = updates.map((e) => Date.parse(e.at));
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(AUDIENCE_UPDATE_INTERVAL_MS - 2);
    // No listener's join or leave got through on its own.
    expect(summarised.filter((e) => e.kind === 'PARTICIPANT_JOINED' || e.kind === 'PARTICIPANT_LEFT')).toEqual([]);

    // Stage changes in a crowd: each arrives at once, not with a summary.
    const stageStart = sub.events.length;
    let sent = Date.now();
    await must(t, Q.raise, { s, r: true }, speakerToBe);
    const raised = await sub.waitFor((e) => e.kind === 'PARTICIPANT_UPDATED' && e.participant?.handRaised === true, 2_000);
    expect(Date.now() - sent).toBeLessThan(AUDIENCE_UPDATE_INTERVAL_MS / 2);
    expect(raised.user!.id).toBe(speakerToBe.id);
    sent = Date.now();
    await must(t, Q.role, { s, u: speakerToBe.id, role: 'SPEAKER' }, host);
    await sub.waitFor((e) => e.kind === 'PARTICIPANT_UPDATED' && e.participant?.role === 'SPEAKER', 2_000);
    expect(Date.now() - sent).toBeLessThan(AUDIENCE_UPDATE_INTERVAL_MS / 2);
    // A listener with a raised hand leaving is the moderators' business: told individually.
    const handUp = wave[0]!;
    await must(t, Q.raise, { s, r: true }, handUp);
    await must(t, Q.leave, { s }, handUp);
    await sub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT' && e.user?.id === handUp.id, 2_000);
    // Moderation: the removed listener's departure is individual too.
    const removed = wave[1]!;
    await must(t, Q.remove, { s, u: removed.id }, host);
    await sub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT' && e.user?.id === removed.id, 2_000);

    expect(await listenerCount(s)).toBe(AUDIENCE_EVENT_THRESHOLD + 1 + wave.length - 3 - 3);
    // Those three were individual; no summary for them.
    expect(sub.events.slice(stageStart).filter((e) => e.kind === 'AUDIENCE_UPDATED')).toEqual([]);
    const individual = sub.events.slice(stageStart).filter((e) => e.kind === 'PARTICIPANT_JOINED' || e.kind === 'PARTICIPANT_LEFT');
    expect(individual.map((e) => e.user!.id)).toEqual([handUp.id, removed.id]);
  }, 60_000);

  it('pages through each group, every member exactly once', async () => {
    const query = `query($s: ID!, $g: ParticipantGroup, $r: ParticipantRole, $a: String) { space(id: $s) {
      participants(first: 7, after: $a, group: $g, role: $r) { edges { node { id role handRaised user { id } } } pageInfo { hasNextPage endCursor } } } }`;
    const all = async (g: string | null, r: string | null = null) => {
      const seen: { role: string; handRaised: boolean; user: { id: string } }[] = [];
      let after: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const page: any = (await must(t, query, { s, g, r, a: after })).space.participants;
        seen.push(...page.edges.map((e: any) => e.node));
        if (!page.pageInfo.hasNextPage) return seen;
        after = page.pageInfo.endCursor;
      }
      throw new Error('no last page');
    };
    // Two raised hands among the listeners.
    const hands = [wave[2]!, wave[3]!];
    for (const u of hands) await must(t, Q.raise, { s, r: true }, u);

    const everyone = await all(null);
    const stage = await all('STAGE');
    const audience = await all('AUDIENCE');
    const raised = await all('HANDS');
    const ids = (rows: { user: { id: string } }[]) => rows.map((r) => r.user.id);
    for (const list of [everyone, stage, audience, raised]) expect(new Set(ids(list)).size).toBe(list.length);
    expect(ids(stage).sort()).toEqual([host.id, speakerToBe.id].sort());
    expect(stage.map((p) => p.role)).toEqual(['HOST', 'SPEAKER']);
    expect(audience).toHaveLength(await listenerCount(s));
    expect(audience.every((p) => p.role === 'LISTENER')).toBe(true);
    expect(ids(raised).sort()).toEqual(hands.map((u) => u.id).sort());
    expect(ids(everyone).sort()).toEqual([...ids(stage), ...ids(audience)].sort());
    // Group and role together: both apply.
    expect(await all('STAGE', 'LISTENER')).toEqual([]);
    expect(ids(await all('STAGE', 'SPEAKER'))).toEqual([speakerToBe.id]);
  }, 60_000);

  it('summarises a crowd leaving too, and stops at once below the threshold', async () => {
    const start = sub.events.length;
    const listeners = await listenerCount(s);
    const over = listeners - AUDIENCE_EVENT_THRESHOLD;
    const stayers = first.slice(3); // none of them has a raised hand
    // Leave one by one until exactly the threshold is left: those are summarised...
    for (const u of stayers.slice(0, over)) await must(t, Q.leave, { s }, u);
    await sleep(AUDIENCE_UPDATE_INTERVAL_MS * 3);
    const updates = sub.events.slice(start).filter((e) => e.kind === 'AUDIENCE_UPDATED');
    expect(updates.reduce((n, e) => n + e.audience!.left, 0)).toBe(over);
    expect(updates.at(-1)!.audience!.listenerCount).toBe(AUDIENCE_EVENT_THRESHOLD);
    // ...and, the cool-down over, the next leave is individual again.
    const next = stayers[over]!;
    await must(t, Q.leave, { s }, next);
    await sub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT' && e.user?.id === next.id, 2_000);
  }, 60_000);
});

describe('two API instances', () => {
  it('each sums up the joins it took; every summary counts the listeners of both', async () => {
    const secondDb = await createDb({ url: t.databaseUrl, migrate: false });
    const second = await buildApp({ database: secondDb, serveWeb: false, port: 0, host: '127.0.0.1', pubsub: 'postgres', presenceGraceMs: 600_000 }); // as startTestApp's
    const sql = postgres(t.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [host, ...joiners] = await users(t, 21, 'ti');
      const s = (await must(t, Q.create, { input: { title: 'Two', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id;
      const spaceId = Buffer.from(s, 'base64url').toString('utf8').split(':')[1]!;
      // A crowd already there, straight into the tables.
      const crowd = await sql<{ id: string }[]>`insert into users ${sql(
        Array.from({ length: AUDIENCE_EVENT_THRESHOLD + 10 }, (_, i) => ({ handle: `crowd${i}_${spaceId.slice(0, 4)}`, display_name: `Crowd ${i}`, password_hash: 'none' })),
      )} returning id`;
      await sql`insert into participants ${sql(crowd.map((u) => ({ space_id: spaceId, user_id: u.id, role: 'LISTENER' })))}`;
      // The subscriber is on instance two; half the joins go through each instance.
      const client = wsClient(await second.start());
      const sub = subscribe<Ev>(client, AUDIENCE_EVENTS, { s }, (d) => d.spaceEvents);
      await sleep(300);
      const viaSecond = async (u: U) => {
        const response = await second.yoga.fetch('http://spaces.test/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${u.token}` },
          body: JSON.stringify({ query: Q.join, variables: { s } }),
        });
        expect(((await response.json()) as { errors?: unknown }).errors).toBeUndefined();
      };
      await Promise.all(joiners.map((u, i) => (i % 2 ? viaSecond(u) : must(t, Q.join, { s }, u))));
      const total = AUDIENCE_EVENT_THRESHOLD + 10 + joiners.length;
      const summarised = () => sub.events.reduce((n, e) => n + (e.audience?.joined ?? 0), 0);
      for (const deadline = Date.now() + 5_000; summarised() < joiners.length && Date.now() < deadline; ) await sleep(100);
      await sleep(AUDIENCE_UPDATE_INTERVAL_MS + 300);
      const updates = sub.events.filter((e) => e.kind === 'AUDIENCE_UPDATED');
      expect(sub.events.filter((e) => e.kind !== 'AUDIENCE_UPDATED')).toEqual([]);
      expect(updates.reduce((n, e) => n + e.audience!.joined, 0)).toBe(joiners.length);
      // At most one summary a second from each instance: never three within a second. Sorted by
      // when each was made: two instances' summaries may reach the subscriber in either order.
      const times = updates.map((e) => Date.parse(e.at)).sort((a, b) => a - b);
      for (let i = 2; i < times.length; i++) expect(times[i]! - times[i - 2]!).toBeGreaterThanOrEqual(AUDIENCE_UPDATE_INTERVAL_MS - 2);
      expect(Math.max(...updates.map((e) => e.audience!.listenerCount))).toBe(total);
      await client.dispose();
    } finally {
      await second.stop();
      await secondDb.close();
      await sql.end();
    }
  }, 60_000);
});

describe('the PostgreSQL bus under a burst', () => {
  it('delivers every message once, in order, identical ones too', async () => {
    const pubsub = t.app.services.events.pubsub;
    const topic = '00000000-0000-4000-8000-00000000b0b0';
    const events = pubsub.subscribe('space', topic);
    // 450 publishes in one tick: they leave in a few NOTIFY statements, not 450 round trips.
    const at = new Date().toISOString();
    for (let i = 0; i < 150; i++) {
      pubsub.publish('space', topic, { kind: 'REACTION', spaceId: topic, emoji: String(i), at });
      pubsub.publish('space', topic, { kind: 'REACTION', spaceId: topic, emoji: 'same', at });
      pubsub.publish('space', topic, { kind: 'REACTION', spaceId: topic, emoji: 'same', at });
    }
    const got: string[] = [];
    for (let i = 0; i < 450; i++) got.push((await events.next()).value!.emoji!);
    await events.return?.();
    expect(got).toEqual(Array.from({ length: 150 }, (_, i) => [String(i), 'same', 'same']).flat());
  });
});

describe('targeted events', () => {
  it('reach only the users they name', async () => {
    const [host, a, b] = await users(t, 3, 'tg');
    const s = (await must(t, Q.create, { input: { title: 'Targets', speakerPolicy: 'EVERYONE' } }, host)).createSpace.id;
    for (const u of [a, b]) await must(t, Q.join, { s }, u);
    const clients = [wsClient(base, { token: a!.token }), wsClient(base, { token: b!.token }), wsClient(base)];
    const [subA, subB, anonymous] = clients.map((c) => subscribe<Ev>(c, EVENTS, { s }, (d) => d.spaceEvents));
    await sleep(300);
    // Everyone subscribed: a reaction reached them all.
    await must(t, Q.react, { s, e: '👏' }, host);
    for (const sub of [subA, subB, anonymous]) await sub!.waitFor((e: any) => e.kind === 'REACTION');
    // Published as the mixer will: internal ids (the API's ids are base64url "Type:uuid").
    const internal = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1]!;
    t.app.services.spaces.dispatcher.publish(internal(s), { kind: 'AUDIO_RECONNECT', userIds: [internal(a!.id)] });
    await must(t, Q.react, { s, e: '🔥' }, host);
    for (const sub of [subA, subB, anonymous]) await sub!.waitFor((e: any) => e.kind === 'REACTION' && e.emoji === '🔥');
    // The joins' own events may still be on their way when the subscriptions start (a loaded
    // machine): they are not what this test is about.
    const kinds = (sub: typeof subA) => sub!.events.map((e) => e.kind).filter((kind) => kind !== 'PARTICIPANT_JOINED');
    expect(kinds(subA)).toEqual(['REACTION', 'AUDIO_RECONNECT', 'REACTION']);
    expect(kinds(subB)).toEqual(['REACTION', 'REACTION']);
    expect(kinds(anonymous)).toEqual(['REACTION', 'REACTION']);
    expect([subA, subB, anonymous].flatMap((sub) => sub!.errors)).toEqual([]);
    await Promise.all(clients.map((c) => c.dispose()));
  });
});
