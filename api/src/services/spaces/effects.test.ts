import { describe, expect, it } from 'vitest';
import { createInProcessBus } from '../../pubsub.ts';
import { Dispatcher, Effects } from './effects.ts';
import type { ParticipantRow } from './reads.ts';

const row = (over: Partial<ParticipantRow>): ParticipantRow =>
  ({
    id: 'p1',
    spaceId: 's1',
    userId: 'u1',
    role: 'LISTENER',
    muted: true,
    handRaised: false,
    speaking: false,
    audioConnected: false,
    mixerParticipantId: null,
    joinedAt: new Date(0),
    leftAt: null,
    ...over,
  }) as ParticipantRow;

const kinds = (fx: Effects) => fx.list.map((e) => e.kind);

describe('Effects derives what a participant change means', () => {
  it('a raised hand changes nothing outside its event', () => {
    const fx = new Effects('s1');
    fx.participant(row({}), row({ handRaised: true }));
    expect(kinds(fx)).toEqual([]);
  });

  it('coming on stage muted: spaces bars change, the room does not (still not heard)', () => {
    const fx = new Effects('s1');
    fx.participant(row({}), row({ role: 'SPEAKER', muted: true }));
    expect(fx.list).toEqual([{ kind: 'stage', userIds: ['u1'] }]);
  });

  it('unmuting on stage: the room must follow, spaces bars do not', () => {
    const fx = new Effects('s1');
    fx.participant(row({ role: 'SPEAKER' }), row({ role: 'SPEAKER', muted: false }));
    expect(fx.list).toEqual([{ kind: 'room', spaceId: 's1' }]);
  });

  it('leaving from the stage: both; joining as a listener: the room only (presence)', () => {
    const left = new Effects('s1');
    left.participant(row({ role: 'SPEAKER', muted: false }), row({ role: 'SPEAKER', muted: false, leftAt: new Date() }));
    expect(kinds(left)).toEqual(['stage', 'room']);
    const joined = new Effects('s1');
    joined.participant(null, row({}));
    expect(kinds(joined)).toEqual(['room']);
  });

  it('a new mixer id (a new audio connection) makes the room reconcile', () => {
    const fx = new Effects('s1');
    fx.participant(row({ mixerParticipantId: 1 }), row({ mixerParticipantId: 2 }));
    expect(kinds(fx)).toEqual(['room']);
  });
});

describe('Dispatcher', () => {
  it('publishes events in order, one activity message for all stage changes, each room once', async () => {
    const bus = createInProcessBus();
    const dispatcher = new Dispatcher(bus);
    const rooms: string[] = [];
    dispatcher.onRoomChanged((id) => rooms.push(id));
    const events = bus.pubsub.subscribe('space', 's1');
    const activity = bus.pubsub.subscribe('activity');

    const fx = new Effects('s1');
    fx.event({ kind: 'PARTICIPANT_UPDATED', participantId: 'p1', userId: 'u1' });
    fx.stage('u1');
    fx.room();
    fx.event({ kind: 'PARTICIPANT_UPDATED', participantId: 'p2', userId: 'u2' });
    fx.stage('u2', 'u1');
    fx.room();
    dispatcher.dispatch(fx);

    expect((await events.next()).value).toMatchObject({ kind: 'PARTICIPANT_UPDATED', participantId: 'p1', spaceId: 's1' });
    expect((await events.next()).value).toMatchObject({ participantId: 'p2' });
    expect((await activity.next()).value).toMatchObject({ userIds: ['u1', 'u2'] });
    expect(rooms).toEqual(['s1']);
    await events.return?.();
    await activity.return?.();
    await bus.close();
  });
});

describe('Dispatcher notices', () => {
  it('are handed to the sink after commit, in order, and one failing does not stop the next', async () => {
    const dispatcher = new Dispatcher(createInProcessBus());
    const seen: string[] = [];
    dispatcher.onNotice(async (notice) => {
      if (notice.kind === 'HAND_RAISED') throw new Error('database down');
      seen.push(`${notice.kind}:${notice.spaceId}`);
    });
    const fx = new Effects('s1');
    fx.notify({ kind: 'SPACE_REMINDER', actorId: 'h', spaceId: 's1', to: { remindersOf: 's1' } });
    fx.notify({ kind: 'HAND_RAISED', actorId: 'u', spaceId: 's1', to: { moderatorsOf: 's1' } });
    fx.notify({ kind: 'SPACE_STARTED', actorId: 'h', spaceId: 's1', to: { followersOf: 'h' } });
    expect(kinds(fx)).toEqual(['notice', 'notice', 'notice']);
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      dispatcher.dispatch(fx);
      await dispatcher.noticesSettled();
    } finally {
      console.error = original;
    }
    expect(seen).toEqual(['SPACE_REMINDER:s1', 'SPACE_STARTED:s1']);
    expect(errors).toHaveLength(1);
  });

  it('a scheduled space changed is spaces-bar activity for its host', () => {
    const fx = new Effects('s1');
    fx.scheduleChanged('h1');
    expect(fx.list).toEqual([{ kind: 'stage', userIds: ['h1'] }]);
  });
});
