import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startTestApp, type TestApp } from '../support/app.ts';
import { EVENTS, must, Q, users, type U } from '../support/spaces.ts';
import { subscribe, wsClient, type Subscription } from '../support/ws.ts';

let t: TestApp;
let base: string;
beforeAll(async () => {
  t = await startTestApp({ hostGraceMs: 600 });
  base = await t.app.start();
});
afterAll(() => t?.close());

type Ev = { kind: string; emoji: string | null; user: { id: string } | null; participant: any; space: any };

/** A subscriber on a real WebSocket, signed in as `user` (or signed out). */
async function watch(spaceId: string, user?: U): Promise<Subscription<Ev>> {
  const client = wsClient(base, { token: user?.token });
  const sub = subscribe<Ev>(client, EVENTS, { s: spaceId }, (d) => d.spaceEvents);
  // graphql-ws subscribes asynchronously: wait until the server has it, by sending a probe.
  await new Promise((r) => setTimeout(r, 150));
  const close = sub.close;
  sub.close = async () => {
    await close();
    await client.dispose();
  };
  return sub;
}

async function liveSpace(host: U, policy = 'EVERYONE') {
  const { createSpace } = await must(t, Q.create, { input: { title: 'Live test', speakerPolicy: policy } }, host);
  return createSpace.id as string;
}

const stageOf = async (s: string, viewer?: U) => (await must(t, Q.space, { s }, viewer)).space;

describe('spaceEvents over a real WebSocket', () => {
  it('delivers joins, hand raises, approval, mute, reactions and leaves in order', async () => {
    const [host, fan] = await users(t, 2, 'ev');
    const s = await liveSpace(host!);
    const sub = await watch(s);
    const joined = await must(t, Q.join, { s }, fan);
    await must(t, Q.raise, { s, r: true }, fan);
    await must(t, Q.role, { s, u: fan!.id, role: 'SPEAKER' }, host);
    await must(t, Q.setMuted, { s, m: false }, fan);
    await must(t, Q.react, { s, e: '👏' }, fan);
    await must(t, Q.mute, { s, u: fan!.id }, host);
    await must(t, Q.leave, { s }, fan);
    await sub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT');
    expect(sub.events.map((e) => e.kind)).toEqual([
      'PARTICIPANT_JOINED',
      'PARTICIPANT_UPDATED',
      'PARTICIPANT_UPDATED',
      'PARTICIPANT_UPDATED',
      'REACTION',
      'PARTICIPANT_UPDATED',
      'PARTICIPANT_LEFT',
    ]);
    expect(sub.events[0]!.participant.id).toBe(joined.joinSpace.id);
    expect(sub.events[2]!.participant).toMatchObject({ role: 'SPEAKER', muted: true, handRaised: false });
    expect(sub.events[3]!.participant.muted).toBe(false);
    expect(sub.events[4]).toMatchObject({ emoji: '👏', user: { id: fan!.id } });
    expect(sub.events[5]!.participant.muted).toBe(true);
    await sub.close();
  });

  it('refuses an unknown space with NOT_FOUND and a malformed id with BAD_USER_INPUT', async () => {
    const missing = Buffer.from('Space:00000000-0000-4000-8000-000000000000').toString('base64url');
    const a = await watch(missing);
    await expect.poll(() => a.errors.length).toBeGreaterThan(0);
    expect(JSON.stringify(a.errors)).toContain('NOT_FOUND');
    const b = await watch('nope');
    await expect.poll(() => b.errors.length).toBeGreaterThan(0);
    expect(JSON.stringify(b.errors)).toContain('BAD_USER_INPUT');
    await a.close();
    await b.close();
  });

  it('closes a socket whose authToken is invalid instead of continuing signed out', async () => {
    const client = wsClient(base, { token: 'forged' });
    const sub = subscribe(client, `subscription { spacesBar { id } }`);
    await expect.poll(() => sub.errors.length).toBeGreaterThan(0);
    expect(String((sub.errors[0] as { code?: number }).code ?? sub.errors[0])).toMatch(/4403|Forbidden/);
    await client.dispose();
  });

  it('ends with SPACE_ENDED and completes the subscription', async () => {
    const [host, fan] = await users(t, 2, 'en');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, fan);
    const sub = await watch(s, fan);
    await must(t, Q.end, { s }, host);
    await sub.waitFor((e) => e.kind === 'SPACE_ENDED');
    await expect.poll(() => sub.completed).toBe(true);
    const after = await stageOf(s, fan);
    expect(after).toMatchObject({ state: 'ENDED', participantCount: 0, viewerParticipant: null });
    expect(codes(await t.gql(Q.join, { s }, { token: fan!.token }))).toEqual(['CONFLICT']);
    expect(codes(await t.gql(Q.end, { s }, { token: host!.token }))).toEqual(['CONFLICT']);
    await sub.close();
  });
});

describe('shared delivery', () => {
  it('gives each viewer their own answer for viewer-dependent fields in the same event', async () => {
    const [host, fan] = await users(t, 2, 'sh');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, fan);
    const query = `subscription($s: ID!) { spaceEvents(spaceId: $s) { kind space { id viewerCanSpeak viewerParticipant { role } } } }`;
    const open = (u: U) => {
      const client = wsClient(base, { token: u.token });
      return { client, sub: subscribe<any>(client, query, { s }, (d) => d.spaceEvents) };
    };
    const a = open(host!);
    const b = open(fan!);
    const anon = wsClient(base);
    const c = subscribe<any>(anon, query, { s }, (d) => d.spaceEvents);
    await new Promise((r) => setTimeout(r, 200));
    await must(t, Q.react, { s, e: '🔥' }, fan);
    const [ea, eb, ec] = await Promise.all([a.sub, b.sub, { waitFor: c.waitFor }].map((x) => x.waitFor((e: any) => e.kind === 'REACTION')));
    expect(ea!.space.viewerParticipant.role).toBe('HOST');
    expect(eb!.space.viewerParticipant.role).toBe('LISTENER');
    expect(ec!.space.viewerParticipant).toBeNull();
    expect(ec!.space.viewerCanSpeak).toBe(false);
    for (const client of [a.client, b.client, anon]) await client.dispose();
  });
});

describe('live eligibility (each seen by a subscriber)', () => {
  async function speakerOnStage(policy: string, how: 'hand' | 'invite') {
    const [host, speaker] = await users(t, 2, 'le');
    if (policy === 'FOLLOWING') await must(t, Q.follow, { u: speaker!.id }, host);
    const s = await liveSpace(host!, policy);
    await must(t, Q.join, { s }, speaker);
    if (how === 'invite') {
      await must(t, Q.invite, { s, u: speaker!.id }, host);
      await must(t, Q.accept, { s }, speaker);
    } else {
      await must(t, Q.raise, { s, r: true }, speaker);
      await must(t, Q.role, { s, u: speaker!.id, role: 'SPEAKER' }, host);
    }
    await must(t, Q.setMuted, { s, m: false }, speaker);
    const sub = await watch(s);
    return { host: host!, speaker: speaker!, s, sub };
  }

  const demotedIn = (sub: Subscription<Ev>, userId: string) =>
    sub.waitFor((e) => e.kind === 'PARTICIPANT_UPDATED' && e.participant?.user.id === userId && e.participant.role === 'LISTENER');

  it('the host unfollows a speaker under FOLLOWING: back to the audience, muted', async () => {
    const { host, speaker, s, sub } = await speakerOnStage('FOLLOWING', 'hand');
    await must(t, Q.unfollow, { u: speaker.id }, host);
    const e = await demotedIn(sub, speaker.id);
    expect(e.participant).toMatchObject({ role: 'LISTENER', muted: true, handRaised: false });
    expect((await stageOf(s)).stage.map((p: any) => p.user.id)).toEqual([host.id]);
    await sub.close();
  });

  it('an unfollow does not move a speaker who is invited', async () => {
    const { host, speaker, s, sub } = await speakerOnStage('FOLLOWING', 'invite');
    await must(t, Q.follow, { u: speaker.id }, host);
    await must(t, Q.unfollow, { u: speaker.id }, host);
    await must(t, Q.react, { s, e: '🎉' }, host); // a marker: everything before it was delivered
    await sub.waitFor((e) => e.kind === 'REACTION');
    expect(sub.events.filter((e) => e.kind === 'PARTICIPANT_UPDATED')).toEqual([]);
    expect((await stageOf(s)).stage).toHaveLength(2);
    await sub.close();
  });

  it('an invitation is revoked under INVITED: the speaker leaves the stage', async () => {
    const { host, speaker, sub, s } = await speakerOnStage('INVITED', 'invite');
    await must(t, Q.revoke, { s, u: speaker.id }, host);
    await demotedIn(sub, speaker.id);
    expect((await stageOf(s, host)).invitedSpeakers).toEqual([]);
    await sub.close();
  });

  it('the host tightens the policy: speakers no longer allowed return, invited ones stay', async () => {
    const { host, speaker, s, sub } = await speakerOnStage('EVERYONE', 'hand');
    const [guest] = await users(t, 1, 'gu');
    await must(t, Q.join, { s }, guest);
    await must(t, Q.invite, { s, u: guest!.id }, host);
    await must(t, Q.accept, { s }, guest);
    await must(t, Q.policy, { s, p: 'INVITED' }, host);
    await sub.waitFor((e) => e.kind === 'SPACE_UPDATED' && e.space.speakerPolicy === 'INVITED');
    await demotedIn(sub, speaker.id);
    const stage = (await stageOf(s)).stage.map((p: any) => p.user.id);
    expect(stage.sort()).toEqual([host.id, guest!.id].sort());
    await sub.close();
  });

  it('a removed speaker is told REMOVED, others see them leave, and they cannot rejoin', async () => {
    const { host, speaker, s, sub } = await speakerOnStage('EVERYONE', 'hand');
    const own = await watch(s, speaker);
    await must(t, Q.remove, { s, u: speaker.id }, host);
    await own.waitFor((e) => e.kind === 'REMOVED');
    const seen = await sub.waitFor((e) => e.kind === 'PARTICIPANT_LEFT');
    expect(seen.user!.id).toBe(speaker.id);
    expect(sub.events.some((e) => e.kind === 'REMOVED')).toBe(false);
    expect(codes(await t.gql(Q.join, { s }, { token: speaker.token }))).toEqual(['FORBIDDEN']);
    await sub.close();
    await own.close();
  });

  it('shows invitations only to moderators and the invitee', async () => {
    const [host, invitee, other] = await users(t, 3, 'iv');
    const s = await liveSpace(host!, 'INVITED');
    await must(t, Q.join, { s }, invitee);
    await must(t, Q.join, { s }, other);
    const hostSub = await watch(s, host);
    const inviteeSub = await watch(s, invitee);
    const otherSub = await watch(s, other);
    await must(t, Q.invite, { s, u: invitee!.id }, host);
    await must(t, Q.react, { s, e: '🔥' }, host);
    for (const sub of [hostSub, inviteeSub, otherSub]) await sub.waitFor((e) => e.kind === 'REACTION');
    expect(hostSub.events.map((e) => e.kind)).toContain('SPEAKER_INVITED');
    expect(inviteeSub.events.map((e) => e.kind)).toContain('SPEAKER_INVITED');
    expect(otherSub.events.map((e) => e.kind)).not.toContain('SPEAKER_INVITED');
    expect((await stageOf(s, other)).invitedSpeakers).toEqual([]);
    expect((await stageOf(s, invitee)).viewerCanSpeak).toBe(true);
    expect((await stageOf(s, other)).viewerCanSpeak).toBe(false);
    for (const sub of [hostSub, inviteeSub, otherSub]) await sub.close();
  });
});

describe('connection limits', () => {
  it('bounds subscriptions per WebSocket with RATE_LIMITED', async () => {
    const [host] = await users(t, 1, 'sl');
    const s = await liveSpace(host!);
    const client = wsClient(base);
    const subs = Array.from({ length: 51 }, () => subscribe(client, EVENTS, { s }));
    await expect.poll(() => subs.filter((x) => x.errors.length > 0).length).toBe(1);
    expect(JSON.stringify(subs.find((x) => x.errors.length > 0)!.errors)).toContain('RATE_LIMITED');
    await client.dispose();
  });
});

describe('slow consumers', () => {
  it('closes a socket that stops reading (1013) instead of buffering for it without end', async () => {
    const [host] = await users(t, 1, 'sc');
    const s = await liveSpace(host!);
    const WebSocket = (await import('ws')).default;
    const socket = new WebSocket(base.replace('http', 'ws') + '/graphql', 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init' }));
    await new Promise((resolve) => socket.once('message', resolve)); // connection_ack
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `subscription($s: ID!) { spaceEvents(spaceId: $s) { kind emoji } }`, variables: { s } } }));
    await new Promise((r) => setTimeout(r, 200));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    // Stop reading: the kernel's buffers fill, then the server's.
    (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const spaceId = Buffer.from(s, 'base64url').toString().split(':')[1]!;
    const padding = 'x'.repeat(2000);
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    // ~2 kB per event; well past kernel buffers plus the 1 MB bound, bounded in count and time.
    const deadline = Date.now() + 20_000;
    for (let sent = 0; sent < 40_000 && Date.now() < deadline && !isClosed; sent += 200) {
      for (let i = 0; i < 200; i++)
        t.app.services.events.pubsub.publish('space', spaceId, { kind: 'REACTION', spaceId, emoji: padding, at: new Date().toISOString() });
      await new Promise((r) => setTimeout(r, 5));
    }
    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(1013);
  }, 30_000);
});

describe('rules in practice', () => {
  it('limits the stage to 10 speakers and 2 co-hosts (CONFLICT past that)', async () => {
    const [host, ...crowd] = await users(t, 14, 'st');
    const s = await liveSpace(host!, 'EVERYONE');
    for (const u of crowd) {
      await must(t, Q.join, { s }, u);
      await must(t, Q.raise, { s, r: true }, u);
    }
    for (const u of crowd.slice(0, 10)) await must(t, Q.role, { s, u: u.id, role: 'SPEAKER' }, host);
    expect(codes(await t.gql(Q.role, { s, u: crowd[10]!.id, role: 'SPEAKER' }, { token: host!.token }))).toEqual(['CONFLICT']);
    await must(t, Q.role, { s, u: crowd[10]!.id, role: 'CO_HOST' }, host);
    await must(t, Q.role, { s, u: crowd[11]!.id, role: 'CO_HOST' }, host);
    expect(codes(await t.gql(Q.role, { s, u: crowd[12]!.id, role: 'CO_HOST' }, { token: host!.token }))).toEqual(['CONFLICT']);
    const space = await stageOf(s);
    expect(space.stage).toHaveLength(13);
    expect(space.stage.map((p: any) => p.role).slice(0, 3)).toEqual(['HOST', 'CO_HOST', 'CO_HOST']);
  });

  it('muteAll mutes speakers but not the hosts; speakers may unmute again', async () => {
    const [host, co, sp] = await users(t, 3, 'ma');
    const s = await liveSpace(host!, 'EVERYONE');
    for (const u of [co, sp]) await must(t, Q.join, { s }, u);
    await must(t, Q.role, { s, u: co!.id, role: 'CO_HOST' }, host);
    await must(t, Q.setMuted, { s, m: false }, co);
    await must(t, Q.raise, { s, r: true }, sp);
    await must(t, Q.role, { s, u: sp!.id, role: 'SPEAKER' }, host);
    await must(t, Q.setMuted, { s, m: false }, sp);
    await must(t, Q.setMuted, { s, m: false }, host); // the host starts muted
    await must(t, Q.muteAll, { s }, co);
    const muted = Object.fromEntries((await stageOf(s)).stage.map((p: any) => [p.role, p.muted]));
    expect(muted).toEqual({ HOST: false, CO_HOST: false, SPEAKER: true });
    expect((await must(t, Q.setMuted, { s, m: false }, sp)).setMuted.muted).toBe(false);
  });

  it('a user hosts one live space at a time; scheduled spaces start later', async () => {
    const [host] = await users(t, 1, 'one');
    const s = await liveSpace(host!);
    const second = await t.gql(Q.create, { input: { title: 'Another', speakerPolicy: 'EVERYONE' } }, { token: host!.token });
    expect(codes(second)).toEqual(['CONFLICT']);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const sched = await must(t, Q.create, { input: { title: 'Later', speakerPolicy: 'FOLLOWING', scheduledFor: later } }, host);
    expect(sched.createSpace.state).toBe('SCHEDULED');
    expect(codes(await t.gql(Q.join, { s: sched.createSpace.id }, { token: host!.token }))).toEqual(['CONFLICT']);
    expect(codes(await t.gql(Q.start, { s: sched.createSpace.id }, { token: host!.token }))).toEqual(['CONFLICT']);
    await must(t, Q.end, { s }, host);
    const started = await must(t, Q.start, { s: sched.createSpace.id }, host);
    expect(started.startSpace.state).toBe('LIVE');
    const v = await stageOf(sched.createSpace.id, host);
    expect(v.viewerParticipant.role).toBe('HOST');
  });

  it('ends the space when the host stays away past the grace period, not before', async () => {
    const [host, fan] = await users(t, 2, 'gr');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, fan);
    const sub = await watch(s, fan);
    await must(t, Q.leave, { s }, host);
    expect((await stageOf(s)).state).toBe('LIVE');
    // Coming back in time keeps it live.
    await must(t, Q.join, { s }, host);
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await stageOf(s)).state).toBe('LIVE');
    await must(t, Q.leave, { s }, host);
    await sub.waitFor((e) => e.kind === 'SPACE_ENDED', 5_000);
    expect((await stageOf(s)).state).toBe('ENDED');
    await sub.close();
  });
});

describe('bad input', () => {
  it('names the field for empty, oversized titles and past schedules', async () => {
    const [host] = await users(t, 1, 'bi');
    const create = (input: Record<string, unknown>) =>
      t.gql(Q.create, { input: { title: 'ok', speakerPolicy: 'EVERYONE', ...input } }, { token: host!.token });
    for (const [input, field] of [
      [{ title: '' }, 'title'],
      [{ title: '   ' }, 'title'],
      [{ title: 'x'.repeat(101) }, 'title'],
      [{ scheduledFor: new Date(Date.now() - 60_000).toISOString() }, 'scheduledFor'],
    ] as const) {
      const r = await create(input);
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
      expect(r.errors![0]!.message).toContain(field);
    }
    expect(codes(await create({ scheduledFor: 'tomorrow' }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await create({ speakerPolicy: 'ANYONE' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('answers unknown ids, ids of the wrong type and unknown emoji with coded errors', async () => {
    const [host, fan] = await users(t, 2, 'bj');
    const s = await liveSpace(host!);
    await must(t, Q.join, { s }, fan);
    const unknownSpace = Buffer.from('Space:00000000-0000-4000-8000-000000000000').toString('base64url');
    expect(codes(await t.gql(Q.join, { s: unknownSpace }, { token: fan!.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(Q.join, { s: fan!.id }, { token: fan!.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(Q.mute, { s, u: s }, { token: host!.token }))).toEqual(['BAD_USER_INPUT']);
    const unknownUser = Buffer.from('User:00000000-0000-4000-8000-000000000000').toString('base64url');
    expect(codes(await t.gql(Q.mute, { s, u: unknownUser }, { token: host!.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(Q.react, { s, e: '💩' }, { token: fan!.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(Q.react, { s, e: 'x'.repeat(1000) }, { token: fan!.token }))).toEqual(['BAD_USER_INPUT']);
    expect((await t.gql(`query($s: ID!) { space(id: $s) { id } }`, { s: unknownSpace })).data!.space).toBeNull();
  });

  it('rate limits reactions per user', async () => {
    const [host] = await users(t, 1, 'rr');
    const s = await liveSpace(host!);
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await t.gql(Q.react, { s, e: '🔥' }, { token: host!.token }));
    expect(results.slice(0, 10).every((r) => !r.errors)).toBe(true);
    const limited = results.at(-1)!;
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    expect(limited.errors![0]!.extensions!.retryAfterMs).toBeGreaterThan(0);
  });
});
