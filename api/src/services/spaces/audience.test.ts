import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AUDIENCE_SAMPLE_SIZE, AUDIENCE_UPDATE_INTERVAL_MS } from '../../domain/rules.ts';
import { createInProcessBus, type AudiencePayload, type SpaceEventPayload } from '../../pubsub.ts';
import { AudienceAggregator } from './audience.ts';
import { Dispatcher, Effects } from './effects.ts';
import type { ParticipantRow } from './reads.ts';

const join = (userId: string) => ({ kind: 'PARTICIPANT_JOINED' as const, userId });
const leave = (userId: string) => ({ kind: 'PARTICIPANT_LEFT' as const, userId });

describe('AudienceAggregator', () => {
  let published: { spaceId: string; audience: AudiencePayload; at: number }[];
  let aggregator: AudienceAggregator;
  let listeners: number;

  beforeEach(() => {
    vi.useFakeTimers();
    published = [];
    listeners = 0;
    aggregator = new AudienceAggregator((spaceId, event) => published.push({ spaceId, audience: event.audience, at: Date.now() }));
    aggregator.countWith(async () => listeners);
  });
  afterEach(() => {
    aggregator.close();
    vi.useRealTimers();
  });

  it('leaves moves in small audiences alone', () => {
    expect(aggregator.take('s1', join('u1'), false)).toBe(false);
    expect(aggregator.size).toBe(0);
  });

  it('sums a crowd up: one summary at once, then at most one per interval, with the counted listeners', async () => {
    listeners = 60;
    for (let i = 0; i < 10; i++) expect(aggregator.take('s1', join(`u${i}`), true)).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(published).toHaveLength(1);
    expect(published[0]!.audience).toEqual({
      listenerCount: 60,
      joined: 10,
      left: 0,
      sampleUserIds: ['u5', 'u6', 'u7', 'u8', 'u9'].slice(-AUDIENCE_SAMPLE_SIZE),
    });
    // More moves during the cool-down wait for it, whatever the crowd flag says now.
    listeners = 58;
    for (let i = 10; i < 13; i++) aggregator.take('s1', join(`u${i}`), true);
    for (let i = 10; i < 15; i++) expect(aggregator.take('s1', leave(`u${i}`), false)).toBe(true);
    await vi.advanceTimersByTimeAsync(AUDIENCE_UPDATE_INTERVAL_MS - 1);
    expect(published).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(published).toHaveLength(2);
    // u10–u12 joined and left again: nobody to name.
    expect(published[1]!.audience).toEqual({ listenerCount: 58, joined: 3, left: 5, sampleUserIds: [] });
    expect(published[1]!.at - published[0]!.at).toBeGreaterThanOrEqual(AUDIENCE_UPDATE_INTERVAL_MS);
    // A quiet interval ends the cool-down: below the threshold, moves go on their own again.
    await vi.advanceTimersByTimeAsync(AUDIENCE_UPDATE_INTERVAL_MS);
    expect(aggregator.size).toBe(0);
    expect(aggregator.take('s1', leave('u1'), false)).toBe(false);
    expect(published).toHaveLength(2);
  });

  it('keeps spaces apart and forgets an ended one', async () => {
    listeners = 51;
    aggregator.take('s1', join('a'), true);
    aggregator.take('s2', join('b'), true);
    aggregator.forget('s2');
    await vi.advanceTimersByTimeAsync(0);
    expect(published.map((p) => p.spaceId)).toEqual(['s1']);
  });
});

describe('Dispatcher', () => {
  const row = { id: 'p1', spaceId: 's1', userId: 'u1', role: 'LISTENER' } as ParticipantRow;

  it('publishes a small audience’s moves and summarises a crowd’s; SPACE_ENDED drops the pending summary', async () => {
    const bus = createInProcessBus();
    const dispatcher = new Dispatcher(bus);
    dispatcher.countListenersWith(async () => 51);
    const events = bus.pubsub.subscribe('space', 's1');
    const small = new Effects('s1');
    small.listenerMoved('PARTICIPANT_JOINED', row, false);
    dispatcher.dispatch(small);
    expect((await events.next()).value).toMatchObject({ kind: 'PARTICIPANT_JOINED', userId: 'u1' });
    const crowd = new Effects('s1');
    crowd.listenerMoved('PARTICIPANT_JOINED', { ...row, userId: 'u2' }, true);
    dispatcher.dispatch(crowd);
    expect((await events.next()).value).toMatchObject({
      kind: 'AUDIENCE_UPDATED',
      audience: { listenerCount: 51, joined: 1, left: 0, sampleUserIds: ['u2'] },
    });
    const later = new Effects('s1');
    later.listenerMoved('PARTICIPANT_LEFT', { ...row, userId: 'u3' }, true);
    later.event({ kind: 'SPACE_ENDED' });
    dispatcher.dispatch(later);
    expect((await events.next()).value).toMatchObject({ kind: 'SPACE_ENDED' });
    await new Promise((r) => setTimeout(r, AUDIENCE_UPDATE_INTERVAL_MS + 100));
    const next = await Promise.race([events.next(), new Promise((r) => setTimeout(() => r('nothing'), 50))]);
    expect(next).toBe('nothing');
    dispatcher.close();
    await events.return?.();
  });

  it("tells a listener's audio change to everyone in a small space, and only to them in a crowd", async () => {
    const bus = createInProcessBus();
    const dispatcher = new Dispatcher(bus);
    dispatcher.countListenersWith(async () => 51);
    const events = bus.pubsub.subscribe('space', 's2');
    const small = new Effects('s2');
    small.listenerAudio({ ...row, spaceId: 's2' });
    dispatcher.dispatch(small);
    const first = (await events.next()).value as SpaceEventPayload;
    expect(first).toMatchObject({ kind: 'PARTICIPANT_UPDATED', userId: 'u1' });
    expect(first.userIds).toBeUndefined();
    const crowd = new Effects('s2');
    crowd.listenerMoved('PARTICIPANT_JOINED', { ...row, spaceId: 's2', userId: 'u2' }, true);
    dispatcher.dispatch(crowd);
    expect((await events.next()).value).toMatchObject({ kind: 'AUDIENCE_UPDATED' });
    const audio = new Effects('s2');
    audio.listenerAudio({ ...row, spaceId: 's2', userId: 'u2' });
    dispatcher.dispatch(audio);
    expect((await events.next()).value).toMatchObject({ kind: 'PARTICIPANT_UPDATED', userId: 'u2', userIds: ['u2'] });
    dispatcher.close();
    await events.return?.();
  });

  it('splits a long list of addressees over several payloads, each NOTIFY-sized', async () => {
    const bus = createInProcessBus();
    const dispatcher = new Dispatcher(bus);
    const events = bus.pubsub.subscribe('space', 's1');
    const userIds = Array.from({ length: 400 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    dispatcher.publish('s1', { kind: 'AUDIO_RECONNECT', userIds });
    const got: SpaceEventPayload[] = [];
    for (let i = 0; i < 3; i++) got.push((await events.next()).value as SpaceEventPayload);
    expect(got.flatMap((e) => e.userIds)).toEqual(userIds);
    for (const e of got) expect(Buffer.byteLength(JSON.stringify({ key: 'space:00000000-0000-4000-8000-000000000000', payload: e }))).toBeLessThan(7_900);
    await events.return?.();
  });
});
