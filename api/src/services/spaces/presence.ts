import { and, eq, inArray, isNotNull, isNull, lt } from 'drizzle-orm';
import { participants, spaces, type Database } from '@spaces/db';
import type { Role } from '../../domain/rules.ts';
import { AudioState } from '../mixer/audio-state.ts';
import { changeSpace } from './change.ts';
import type { Dispatcher } from './effects.ts';
import type { ParticipantRow, Tx } from './reads.ts';

/** A participant's columns as they are on entering in `role` (new, or back after leaving). */
const freshPresence = (role: Role) => ({ role, muted: role !== 'HOST', handRaised: false, joinedAt: new Date(), leftAt: null });

/**
 * Who is where: the only writer of participants' presence (`joined_at`, `left_at`) and of the
 * host's absence (`host_away_since`), and the janitor that ends spaces whose host stayed away.
 */
export class Presence {
  constructor(
    private readonly db: Database,
    private readonly dispatcher: Dispatcher,
    readonly hostGraceMs: number,
  ) {}

  /** Inserts or revives the (space, user) participant with a fresh presence in `role`. */
  async enter(tx: Tx, spaceId: string, userId: string, role: Role): Promise<ParticipantRow> {
    const values = freshPresence(role);
    const [row] = await tx
      .insert(participants)
      .values({ spaceId, userId, ...values })
      .onConflictDoUpdate({ target: [participants.spaceId, participants.userId], set: values })
      .returning();
    if (role === 'HOST') await this.hostIsBack(tx, spaceId);
    return row!;
  }

  /**
   * A listener enters, unless already present: null then. For joins under the shared space lock
   * (change.ts), where the same user's two joins can run at once: the second waits on the first's
   * row and then finds it present, so only one of them enters (and tells anyone).
   */
  async enterAsListener(tx: Tx, spaceId: string, userId: string): Promise<ParticipantRow | null> {
    const values = freshPresence('LISTENER');
    const [row] = await tx
      .insert(participants)
      .values({ spaceId, userId, ...values })
      .onConflictDoUpdate({ target: [participants.spaceId, participants.userId], set: values, setWhere: isNotNull(participants.leftAt) })
      .returning();
    return row ?? null;
  }

  /**
   * These participants leave (went, were removed, or the space ended): off stage, hand down, and
   * their audio goes with them. Returns the rows as they are now.
   */
  async exit(tx: Tx, rows: ParticipantRow[], at = new Date(), extra: { muted?: boolean } = {}): Promise<ParticipantRow[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    await AudioState.endWithPresence(tx, ids);
    return tx
      .update(participants)
      .set({ leftAt: at, handRaised: false, ...extra })
      .where(and(inArray(participants.id, ids), isNull(participants.leftAt)))
      .returning();
  }

  /** The host left: the space stays live for the grace period. */
  async hostLeft(tx: Tx, spaceId: string): Promise<void> {
    await tx.update(spaces).set({ hostAwaySince: new Date() }).where(and(eq(spaces.id, spaceId), isNull(spaces.hostAwaySince)));
  }

  async hostIsBack(tx: Tx, spaceId: string): Promise<void> {
    await tx.update(spaces).set({ hostAwaySince: null }).where(eq(spaces.id, spaceId));
  }

  /** The space ended: nobody is away any more. */
  async spaceEnded(tx: Tx, spaceId: string): Promise<void> {
    await this.hostIsBack(tx, spaceId);
  }

  /**
   * The host's audio stopped arriving (crash, network) or came back. Decided under the space lock
   * against the host's presence then, so a host who has left meanwhile stays away.
   */
  async hostAudio(spaceId: string, receiving: boolean): Promise<void> {
    await changeSpace(this.db, this.dispatcher, spaceId, async (tx, space) => {
      if (space.state !== 'LIVE') return;
      const [host] = await tx
        .select({ id: participants.id })
        .from(participants)
        .where(and(eq(participants.spaceId, spaceId), eq(participants.userId, space.hostId), isNull(participants.leftAt)));
      if (!host) return; // left: away since they left, whatever their audio does
      if (receiving) await this.hostIsBack(tx, spaceId);
      else await this.hostLeft(tx, spaceId);
    });
  }

  /** Live spaces whose host has been away longer than the grace period. */
  async abandoned(now = Date.now()): Promise<string[]> {
    const due = await this.db
      .select({ id: spaces.id })
      .from(spaces)
      .where(and(eq(spaces.state, 'LIVE'), lt(spaces.hostAwaySince, new Date(now - this.hostGraceMs))));
    return due.map((d) => d.id);
  }
}
