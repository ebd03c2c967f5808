import { eq } from 'drizzle-orm';
import { spaces, type Database } from '@spaces/db';
import { notFound } from '../../errors.ts';
import { Effects, type Dispatcher } from './effects.ts';
import type { SpaceRow, Tx } from './reads.ts';

/**
 * How a change holds its space row:
 * - `update` (FOR UPDATE): one change of the space at a time, so stage limits, counts, the state
 *   and the set of present participants stay as the change read them. Every command but these:
 * - `share` (FOR SHARE): a listener's join or a non-host's leave. Shared locks do not block each
 *   other, so a crowd joins in parallel, but they block, and are blocked by, every `update`
 *   change: no command that reads the participants (end, remove, set role, policy) runs beside
 *   one, and a join waiting behind `end` then reads the space as ENDED. A `share` change touches
 *   only its own participant row, and must not write the space row (the upgrade could deadlock).
 */
export type SpaceLock = 'update' | 'share';

/**
 * Runs `work` in a transaction that first locks the space row (see SpaceLock); its effects are
 * carried out after commit.
 */
export async function changeSpace<T>(
  db: Database,
  dispatcher: Dispatcher,
  spaceId: string,
  work: (tx: Tx, space: SpaceRow, fx: Effects) => Promise<T>,
  lock: SpaceLock = 'update',
): Promise<T> {
  const fx = new Effects(spaceId);
  const result = await db.transaction(async (tx) => {
    const [space] = await tx.select().from(spaces).where(eq(spaces.id, spaceId)).for(lock === 'share' ? 'share' : 'update');
    if (!space) throw notFound('No such space.');
    return work(tx, space, fx);
  });
  dispatcher.dispatch(fx);
  return result;
}
