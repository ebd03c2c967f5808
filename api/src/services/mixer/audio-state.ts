import { and, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import { participants, spaces, type Database } from '@spaces/db';
import { Effects, type Dispatcher } from '../spaces/effects.ts';
import type { ParticipantRow, Tx } from '../spaces/reads.ts';

type AudioColumns = Pick<ParticipantRow, 'mixerParticipantId' | 'audioTier' | 'audioInstance' | 'audioConnected' | 'speaking' | 'spoke'>;

const NO_AUDIO: Omit<AudioColumns, 'spoke'> = { mixerParticipantId: null, audioTier: null, audioInstance: null, audioConnected: false, speaking: false };

/** A connection that went with its audience edge: its listener is told to connect again. */
export interface LostListener {
  participantId: string;
  userId: string;
  spaceId: string;
}

/** Audio events for one participant's change: connection and voice activity. */
function audioEvents(fx: Effects, before: ParticipantRow, after: ParticipantRow) {
  if (before.audioConnected !== after.audioConnected || before.audioTier !== after.audioTier) {
    // Thousands of listeners connecting must not cost every subscriber a message each.
    if (after.role === 'LISTENER' && before.role === 'LISTENER') fx.listenerAudio(after);
    else fx.event({ kind: 'PARTICIPANT_UPDATED', participantId: after.id, userId: after.userId });
  }
  if (before.speaking !== after.speaking) fx.event({ kind: 'SPEAKING_CHANGED', participantId: after.id, userId: after.userId });
}

/**
 * The only writer of the audio columns: where a space's room lives (`mixer_instance`,
 * `mixer_room`) and each participant's connection (its id, tier and edge), whether its media is
 * up, and voice activity (`speaking`, and `spoke` once they have). Every write
 * names the mixer id it is about, so a late report about an old connection cannot touch a newer
 * one.
 */
export class AudioState {
  constructor(
    private readonly db: Database,
    private readonly dispatcher: Dispatcher,
  ) {}

  /** Inside a space transaction: these participants left (or their space ended); their audio goes too. */
  static async endWithPresence(tx: Tx, participantIds: string[]): Promise<void> {
    if (participantIds.length === 0) return;
    await tx.update(participants).set(NO_AUDIO).where(inArray(participants.id, participantIds));
  }

  /** Stores where the space's room is, unless another request placed it first. */
  async place(spaceId: string, instance: string, room: number): Promise<boolean> {
    const placed = await this.db
      .update(spaces)
      .set({ mixerInstance: instance, mixerRoom: room })
      .where(and(eq(spaces.id, spaceId), isNull(spaces.mixerRoom)))
      .returning({ id: spaces.id });
    return placed.length > 0;
  }

  /**
   * Before joining the room: this mixer id is the participant's connection from now on (any
   * older one is no longer wanted, and the reconciler removes it from the room).
   */
  expect(participantId: string, mixerId: number): Promise<ParticipantRow | null> {
    return this.#update(
      participantId,
      { mixerParticipantId: mixerId, audioTier: 'STAGE', audioInstance: null, audioConnected: false, speaking: false },
      isNull(participants.leftAt),
    );
  }

  /** Before watching a relay: this audience connection on `edge` is the participant's from now on. */
  expectAudience(participantId: string, connectionId: number, edge: string): Promise<ParticipantRow | null> {
    return this.#update(
      participantId,
      { mixerParticipantId: connectionId, audioTier: 'AUDIENCE', audioInstance: edge, audioConnected: false, speaking: false },
      isNull(participants.leftAt),
    );
  }

  /** An audience edge went away: every connection on it is gone. Returns whose, to tell them. */
  async forgetAudienceOn(edge: string): Promise<LostListener[]> {
    const lost = await this.db
      .select({ participantId: participants.id, userId: participants.userId, spaceId: participants.spaceId, mixerId: participants.mixerParticipantId })
      .from(participants)
      .where(and(eq(participants.audioTier, 'AUDIENCE'), eq(participants.audioInstance, edge)));
    await this.forgetMany(lost.map((l) => ({ participantId: l.participantId, mixerId: l.mixerId! })));
    return lost.map(({ participantId, userId, spaceId }) => ({ participantId, userId, spaceId }));
  }

  /** Media of that connection is up (or down). */
  connected(participantId: string, mixerId: number, connected: boolean): Promise<ParticipantRow | null> {
    return this.#update(
      participantId,
      connected ? { audioConnected: true } : { audioConnected: false, speaking: false },
      and(eq(participants.mixerParticipantId, mixerId), isNull(participants.leftAt)),
    );
  }

  /** That connection is gone (hung up, kicked, Janus lost); `null` forgets whatever is there. */
  forget(participantId: string, mixerId: number | null): Promise<ParticipantRow | null> {
    return this.#update(participantId, NO_AUDIO, mixerId === null ? undefined : eq(participants.mixerParticipantId, mixerId));
  }

  /** Many connections are gone at once (their Janus went away): one transaction, events per participant. */
  async forgetMany(connections: { participantId: string; mixerId: number }[]): Promise<void> {
    if (connections.length === 0) return;
    const wanted = new Map(connections.map((c) => [c.participantId, c.mixerId]));
    const changes = await this.db.transaction(async (tx) => {
      const before = await tx.select().from(participants).where(inArray(participants.id, [...wanted.keys()])).for('update');
      const current = before.filter((p) => p.mixerParticipantId !== null && p.mixerParticipantId === wanted.get(p.id));
      if (current.length === 0) return [];
      const after = await tx.update(participants).set(NO_AUDIO).where(inArray(participants.id, current.map((p) => p.id))).returning();
      return current.map((b) => ({ before: b, after: after.find((a) => a.id === b.id)! }));
    });
    const bySpace = new Map<string, Effects>();
    for (const { before, after } of changes) {
      let fx = bySpace.get(after.spaceId);
      if (!fx) bySpace.set(after.spaceId, (fx = new Effects(after.spaceId)));
      audioEvents(fx, before, after);
      fx.participant(before, after);
    }
    for (const fx of bySpace.values()) this.dispatcher.dispatch(fx);
  }

  /**
   * Voice activity from the mixer's talking events. Compared and written in one statement, so an
   * event cannot be lost to a stale read; only someone the mixer lets through can be speaking.
   */
  speaking(participantId: string, mixerId: number, speaking: boolean): Promise<ParticipantRow | null> {
    const heard = sql`${participants.role} in ('HOST','CO_HOST','SPEAKER') and ${participants.muted} = false`;
    return this.#update(
      participantId,
      // Speaking once makes them one of those who spoke (the host's recap).
      speaking ? { speaking, spoke: true } : { speaking },
      and(eq(participants.mixerParticipantId, mixerId), isNull(participants.leftAt), speaking ? heard : undefined),
    );
  }

  /** Someone not heard cannot be speaking (a stopped-talking event may never come once muted). */
  quiet(participantId: string): Promise<ParticipantRow | null> {
    return this.#update(participantId, { speaking: false }, eq(participants.speaking, true));
  }

  async #update(participantId: string, values: Partial<AudioColumns>, where?: SQL): Promise<ParticipantRow | null> {
    const change = await this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(participants).where(eq(participants.id, participantId)).for('update');
      if (!before) return null;
      const [after] = await tx
        .update(participants)
        .set(values)
        .where(and(eq(participants.id, participantId), where))
        .returning();
      return after ? { before, after } : null;
    });
    if (!change) return null;
    const fx = new Effects(change.after.spaceId);
    audioEvents(fx, change.before, change.after);
    fx.participant(change.before, change.after);
    this.dispatcher.dispatch(fx);
    return change.after;
  }
}
