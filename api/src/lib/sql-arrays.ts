/**
 * Ids as one PostgreSQL array literal, for `= any($1::uuid[])`. drizzle's inArray sends one
 * parameter per id, which makes a different statement for each number of ids: no prepared
 * statement can be reused. One array parameter keeps the statement text the same for any batch.
 * Only for uuids (parsed global ids, or read from the database): they hold no `,`, `{` or `"`.
 */
export const uuidArray = (ids: readonly string[]): string => `{${ids.join(',')}}`;
