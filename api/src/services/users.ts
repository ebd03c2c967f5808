import { sql } from 'drizzle-orm';
import { users, type Database } from '@spaces/db';
import { uuidArray } from '../lib/sql-arrays.ts';
import { userColumns, type UserRow } from './accounts.ts';

/** One prepared statement per database handle: built once, its SQL text never rebuilt. */
const prepared = new WeakMap<Database, ReturnType<typeof prepare>>();

const prepare = (db: Database) =>
  db
    .select(userColumns)
    .from(users)
    .where(sql`${users.id} = any(${sql.placeholder('ids')}::uuid[])`)
    .prepare('users_by_ids');

/** Users by id (never the password hash), in the order asked, null for unknown ids: the user loader's batch. */
export async function usersByIds(db: Database, ids: readonly string[]): Promise<(UserRow | null)[]> {
  let query = prepared.get(db);
  if (!query) prepared.set(db, (query = prepare(db)));
  const rows = await query.execute({ ids: uuidArray(ids) });
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id) ?? null);
}
