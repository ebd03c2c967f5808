import { and, asc, eq, sql } from 'drizzle-orm';
import { participants, spaces, users, type Database } from '@spaces/db';
import { userColumns, type UserRow } from '../accounts.ts';
import type { SpaceRow, Tx } from './reads.ts';

/** What the host sees when their space has ended. */
export interface SpaceRecap {
  /** From going live to ending, in whole seconds. */
  durationSeconds: number;
  peakListeners: number;
  /** Who was heard (spoke, or was connected on stage with an open mic), in the order they came. */
  speakers: UserRow[];
}

/**
 * The host's end-of-space recap, and the only writer of `spaces.peak_listeners`.
 *
 * The peak is sampled, not counted per join: a listener's join holds the space row in share
 * mode with thousands of others (change.ts), so it must not write that row. The janitor samples
 * every live space a few times per presence grace period, skipping a space whose row a change
 * holds at that moment (it is sampled at the next beat), and the space's end takes a last sample
 * under its own lock. A crowd that came and went between two samples can be missed; a peak that
 * lasted a beat cannot.
 */
export class Recaps {
  constructor(private readonly db: Database) {}

  /** One statement for every live space whose listeners now outnumber its recorded peak. */
  async sample(): Promise<void> {
    await this.db.execute(sql`
      with counts as (
        select p.space_id, count(*)::int as n
        from ${participants} p
        where p.left_at is null and p.role = 'LISTENER'
          and p.space_id in (select id from ${spaces} where state = 'LIVE')
        group by p.space_id
      ), due as (
        select s.id, c.n from ${spaces} s join counts c on c.space_id = s.id
        where s.state = 'LIVE' and c.n > s.peak_listeners
        for update of s skip locked
      )
      update ${spaces} set peak_listeners = greatest(${spaces}.peak_listeners, due.n)
      from due where ${spaces}.id = due.id`);
  }

  /** Inside the transaction that ends the space (its row locked), before everyone leaves. */
  async lastSample(tx: Tx, spaceId: string): Promise<void> {
    const listeners = sql`(select count(*)::int from ${participants} p
      where p.space_id = ${spaceId} and p.left_at is null and p.role = 'LISTENER')`;
    await tx
      .update(spaces)
      .set({ peakListeners: sql`greatest(${spaces.peakListeners}, ${listeners})` })
      .where(eq(spaces.id, spaceId));
  }

  async of(space: SpaceRow): Promise<SpaceRecap> {
    const speakers = await this.db
      .select({ user: userColumns })
      .from(participants)
      .innerJoin(users, eq(users.id, participants.userId))
      .where(and(eq(participants.spaceId, space.id), eq(participants.spoke, true)))
      .orderBy(asc(participants.joinedAt), asc(participants.id));
    const started = space.startedAt?.getTime() ?? space.createdAt.getTime();
    const ended = space.endedAt?.getTime() ?? Date.now();
    return {
      durationSeconds: Math.max(0, Math.round((ended - started) / 1000)),
      peakListeners: space.peakListeners,
      speakers: speakers.map((s) => s.user),
    };
  }
}
