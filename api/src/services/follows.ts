import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm';
import { follows, users, type Database } from '@spaces/db';
import { canTarget } from '../domain/rules.ts';
import { appError, badInput } from '../errors.ts';
import { decodeCursor, toPage } from '../lib/pagination.ts';
import { userColumns, type UserRow } from './accounts.ts';

export class Follows {
  constructor(private readonly db: Database) {}

  /**
   * Idempotent. The counters move only when the row really was inserted (or deleted), in the
   * same transaction, with atomic increments: exact under any number of concurrent calls.
   * Returns whether anything changed.
   */
  async follow(followerId: string, followeeId: string): Promise<boolean> {
    if (followerId === followeeId) throw badInput('userId', 'you cannot follow yourself');
    return this.db.transaction(async (tx) => {
      const [followee] = await tx.select({ isGuest: users.isGuest }).from(users).where(eq(users.id, followeeId));
      const verdict = canTarget(followee ?? { isGuest: false }, 'follow');
      if (!verdict.ok) throw appError(verdict.code, verdict.reason, { reason: 'GUEST' });
      const inserted = await tx
        .insert(follows)
        .values({ followerId, followeeId })
        .onConflictDoNothing()
        .returning({ followeeId: follows.followeeId });
      if (inserted.length === 0) return false;
      await tx.update(users).set({ followingCount: sql`${users.followingCount} + 1` }).where(eq(users.id, followerId));
      await tx.update(users).set({ followerCount: sql`${users.followerCount} + 1` }).where(eq(users.id, followeeId));
      return true;
    });
  }

  async unfollow(followerId: string, followeeId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const deleted = await tx
        .delete(follows)
        .where(and(eq(follows.followerId, followerId), eq(follows.followeeId, followeeId)))
        .returning({ followeeId: follows.followeeId });
      if (deleted.length === 0) return false;
      await tx.update(users).set({ followingCount: sql`${users.followingCount} - 1` }).where(eq(users.id, followerId));
      await tx.update(users).set({ followerCount: sql`${users.followerCount} - 1` }).where(eq(users.id, followeeId));
      return true;
    });
  }

  /** For a batch of targets: which of them `followerId` follows. */
  async followedAmong(followerId: string, followeeIds: readonly string[]): Promise<Set<string>> {
    if (followeeIds.length === 0) return new Set();
    const rows = await this.db
      .select({ id: follows.followeeId })
      .from(follows)
      .where(and(eq(follows.followerId, followerId), inArray(follows.followeeId, [...followeeIds])));
    return new Set(rows.map((r) => r.id));
  }

  /** Everyone `followerId` follows. */
  async followeeIds(followerId: string): Promise<string[]> {
    const rows = await this.db.select({ id: follows.followeeId }).from(follows).where(eq(follows.followerId, followerId));
    return rows.map((r) => r.id);
  }

  /** For a batch of users: which of them follow `followeeId`. */
  async followersAmong(followeeId: string, followerIds: readonly string[]): Promise<Set<string>> {
    if (followerIds.length === 0) return new Set();
    const rows = await this.db
      .select({ id: follows.followerId })
      .from(follows)
      .where(and(eq(follows.followeeId, followeeId), inArray(follows.followerId, [...followerIds])));
    return new Set(rows.map((r) => r.id));
  }

  /** Newest first, keyset-paginated on (follow time, user id). */
  async list(direction: 'followers' | 'following', userId: string, first: number, after: string | null | undefined) {
    const cursor = decodeCursor(after, ['timestamp', 'uuid']);
    const anchor = direction === 'followers' ? follows.followeeId : follows.followerId;
    const other = direction === 'followers' ? follows.followerId : follows.followeeId;
    const at = cursor ? new Date(cursor[0]) : null;
    const rows = await this.db
      .select({ user: userColumns, followedAt: follows.createdAt })
      .from(follows)
      .innerJoin(users, eq(users.id, other))
      .where(
        and(
          eq(anchor, userId),
          cursor && at ? or(lt(follows.createdAt, at), and(eq(follows.createdAt, at), lt(other, cursor[1]))) : undefined,
        ),
      )
      .orderBy(desc(follows.createdAt), desc(other))
      .limit(first + 1);
    const page = toPage(rows, first, (r) => [r.followedAt.toISOString(), r.user.id]);
    return {
      pageInfo: page.pageInfo,
      edges: page.edges.map((e) => ({ cursor: e.cursor, node: e.node.user as UserRow })),
    };
  }
}
