import { eq } from 'drizzle-orm';
import { spaces, type Database } from '@spaces/db';
import { notFound } from '../../errors.ts';
import { Effects, type Dispatcher } from './effects.ts';
import type { SpaceRow, Tx } from './reads.ts';

/**
 * Runs `work` in a transaction that first locks the space row, so changes to one space apply one
 * at a time (stage limits and counts stay exact); its effects are carried out after commit.
 */
export async function changeSpace<T>(
  db: Database,
  dispatcher: Dispatcher,
  spaceId: string,
  work: (tx: Tx, space: SpaceRow, fx: Effects) => Promise<T>,
): Promise<T> {
  const fx = new Effects(spaceId);
  const result = await db.transaction(async (tx) => {
    const [space] = await tx.select().from(spaces).where(eq(spaces.id, spaceId)).for('update');
    if (!space) throw notFound('No such space.');
    return work(tx, space, fx);
  });
  dispatcher.dispatch(fx);
  return result;
}
