import { and, asc, desc, eq, inArray, ne, notExists, or, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { follows, spaces, users, type Database } from '@spaces/db';
import { cleanLine } from '../domain/text.ts';
import { badInput } from '../errors.ts';
import { decodeCursor, emptyPage, toPage, type Page } from '../lib/pagination.ts';
import { userColumns, type UserRow } from './accounts.ts';
import type { SpaceRow } from './spaces/index.ts';

export const SEARCH_QUERY_MAX_CHARS = 100;
/** How many of the viewer's followees a suggestion names ("followed by @a, @b and 3 others"). */
export const SUGGESTION_FOLLOWED_BY_SHOWN = 3;

/** `%`, `_` and `\` match literally in the LIKE patterns built from a query. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * A search query: the text policy's cleaning, lowercased, a leading `@` dropped (people type
 * handles that way). Empty is allowed: it finds nothing.
 */
function normalizeQuery(raw: string): string {
  const verdict = cleanLine(raw, { min: 0, max: SEARCH_QUERY_MAX_CHARS });
  if (!verdict.ok) throw badInput('query', verdict.reason);
  return verdict.text.replace(/^@+/, '').trim().toLowerCase();
}

/**
 * pg_trgm's word-similarity threshold for near spellings (its default, 0.6, misses a doubled
 * letter in a short name: "hanna" vs "hana" is 0.57). Set per transaction, so nothing else changes.
 */
const WORD_SIMILARITY_THRESHOLD = 0.5;
/** Near spellings from this many characters: shorter queries match too much at that threshold. */
const FUZZY_MIN_CHARS = 4;

const EMPTY_PAGE: Page<never> = emptyPage();

export interface Suggestion {
  user: UserRow;
  /** How many accounts the viewer follows follow this one. */
  followedByFollowingCount: number;
  /** Up to SUGGESTION_FOLLOWED_BY_SHOWN of them (ids). */
  followedByIds: string[];
}

/**
 * People and spaces search, and suggested people. Matching uses pg_trgm (the GIN trigram
 * indexes of the profiles_search migration, on PostgreSQL and on PGlite, which loads the
 * extension): substring matches (ILIKE '%q%', served by the trigram index for queries of 3+
 * characters) and, for 4+ characters, typo-tolerant word similarity (`q <% text`, pg_trgm's
 * word_similarity of at least WORD_SIMILARITY_THRESHOLD: "hanna" finds "hana").
 */
export class Search {
  constructor(private readonly db: Database) {}

  /**
   * Ranked: exact handle, handle prefix, display-name word prefix, substring anywhere, similar;
   * then most followed. Keyset-paged on (rank, followers, id); counts that change between pages
   * can move a person across a page boundary, as in every ranking by a live count.
   */
  async people(rawQuery: string, first: number, after: string | null | undefined): Promise<Page<UserRow>> {
    const cursor = decodeCursor(after, ['count', 'count', 'uuid']);
    const q = normalizeQuery(rawQuery);
    if (!q || first === 0) return EMPTY_PAGE;
    const handle = sql`lower(${users.handle})`;
    const name = sql`lower(${users.displayName})`;
    const contains = `%${escapeLike(q)}%`;
    const prefix = `${escapeLike(q)}%`;
    const fuzzy = q.length >= FUZZY_MIN_CHARS;
    const rank = sql<number>`(case
      when ${handle} = ${q} then 0
      when ${handle} like ${prefix} then 1
      when ${name} like ${prefix} or ${name} like ${`% ${prefix}`} then 2
      when ${handle} like ${contains} or ${name} like ${contains} then 3
      else 4 end)`;
    const matches = or(
      sql`${handle} like ${contains}`,
      sql`${name} like ${contains}`,
      fuzzy ? sql`${q} <% ${handle}` : undefined,
      fuzzy ? sql`${q} <% ${name}` : undefined,
    );
    const afterCursor: SQL | undefined = cursor
      ? sql`(${rank} > ${cursor[0]} or (${rank} = ${cursor[0]} and (${users.followerCount} < ${cursor[1]} or (${users.followerCount} = ${cursor[1]} and ${users.id} > ${cursor[2]}))))`
      : undefined;
    const rows = await this.fuzzily((db) => db
      .select({ user: userColumns, rank: rank.mapWith(Number) })
      .from(users)
      .where(and(matches, afterCursor, eq(users.isGuest, false)))
      .orderBy(asc(rank), desc(users.followerCount), asc(users.id))
      .limit(first + 1));
    const page = toPage(rows, first, (r) => [r.rank, r.user.followerCount, r.user.id]);
    return { pageInfo: page.pageInfo, edges: page.edges.map((e) => ({ cursor: e.cursor, node: e.node.user })) };
  }

  /**
   * Live and scheduled spaces whose title matches. Live ones first (most recently started
   * first), then scheduled ones (soonest first); within each, title-prefix and word-prefix
   * matches before substring matches before similar titles.
   */
  async spaces(rawQuery: string, first: number, after: string | null | undefined): Promise<Page<SpaceRow>> {
    const cursor = decodeCursor(after, ['count', 'count', 'timestamp', 'uuid']);
    const q = normalizeQuery(rawQuery);
    if (!q || first === 0) return EMPTY_PAGE;
    const title = sql`lower(${spaces.title})`;
    const contains = `%${escapeLike(q)}%`;
    const prefix = `${escapeLike(q)}%`;
    const fuzzy = q.length >= FUZZY_MIN_CHARS;
    const stateRank = sql<number>`(case when ${spaces.state} = 'LIVE' then 0 else 1 end)`;
    const quality = sql<number>`(case
      when ${title} like ${prefix} or ${title} like ${`% ${prefix}`} then 0
      when ${title} like ${contains} then 1
      else 2 end)`;
    const startedAt = sql`coalesce(${spaces.startedAt}, ${spaces.createdAt})`;
    const scheduledFor = sql`coalesce(${spaces.scheduledFor}, ${spaces.createdAt})`;
    let afterCursor: SQL | undefined;
    if (cursor) {
      const [state, qual, time, id] = cursor;
      if (state > 1 || qual > 2) throw badInput('after', 'not a valid cursor');
      const at = new Date(time);
      // Within a state the order runs by time: started descending (live), scheduled ascending.
      const later =
        state === 0
          ? sql`(${startedAt} < ${at} or (${startedAt} = ${at} and ${spaces.id} > ${id}))`
          : sql`(${scheduledFor} > ${at} or (${scheduledFor} = ${at} and ${spaces.id} > ${id}))`;
      afterCursor = sql`(${stateRank} > ${state} or (${stateRank} = ${state} and (${quality} > ${qual} or (${quality} = ${qual} and ${later}))))`;
    }
    const rows = await this.fuzzily((db) => db
      .select({ space: spaces, stateRank: stateRank.mapWith(Number), quality: quality.mapWith(Number) })
      .from(spaces)
      .where(
        and(
          inArray(spaces.state, ['LIVE', 'SCHEDULED']),
          or(sql`${title} like ${contains}`, fuzzy ? sql`${q} <% ${title}` : undefined),
          afterCursor,
        ),
      )
      .orderBy(
        asc(stateRank),
        asc(quality),
        sql`(case when ${spaces.state} = 'LIVE' then ${startedAt} end) desc nulls last`,
        sql`(case when ${spaces.state} = 'SCHEDULED' then ${scheduledFor} end) asc nulls last`,
        asc(spaces.id),
      )
      .limit(first + 1));
    const page = toPage(rows, first, (r) => [
      r.stateRank,
      r.quality,
      (r.stateRank === 0 ? (r.space.startedAt ?? r.space.createdAt) : (r.space.scheduledFor ?? r.space.createdAt)).toISOString(),
      r.space.id,
    ]);
    return { pageInfo: page.pageInfo, edges: page.edges.map((e) => ({ cursor: e.cursor, node: e.node.space })) };
  }

  /** Runs a search query in a transaction with the word-similarity threshold set for it. */
  private fuzzily<T>(run: (db: Database) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql.raw(`set local pg_trgm.word_similarity_threshold = ${WORD_SIMILARITY_THRESHOLD}`));
      return run(tx as unknown as Database);
    });
  }

  /**
   * People to follow. Signed in: accounts the viewer does not follow (nor the viewer), those
   * followed by more of the people the viewer follows first, then the most followed, then the
   * newest; a brand-new account (following no one) gets the most followed accounts. Signed out:
   * the most followed. Empty only when there is nobody else.
   */
  async suggestedUsers(viewerId: string | null, first: number): Promise<Suggestion[]> {
    if (first === 0) return [];
    if (!viewerId) {
      const rows = await this.db
        .select(userColumns)
        .from(users)
        .where(eq(users.isGuest, false))
        .orderBy(desc(users.followerCount), desc(users.createdAt), asc(users.id))
        .limit(first);
      return rows.map((user) => ({ user, followedByFollowingCount: 0, followedByIds: [] }));
    }
    const mine = alias(follows, 'mine');
    const theirs = alias(follows, 'theirs');
    // For each account followed by someone the viewer follows: by how many of them.
    const mutual = this.db
      .select({ id: sql<string>`${theirs.followeeId}`.as('mutual_id'), n: sql<number>`count(*)::int`.as('mutual_n') })
      .from(mine)
      .innerJoin(theirs, eq(theirs.followerId, mine.followeeId))
      .where(eq(mine.followerId, viewerId))
      .groupBy(theirs.followeeId)
      .as('mutual');
    const via = sql<number>`coalesce(${mutual.n}, 0)`;
    const rows = await this.db
      .select({ user: userColumns, via: via.mapWith(Number) })
      .from(users)
      .leftJoin(mutual, eq(mutual.id, users.id))
      .where(
        and(
          ne(users.id, viewerId),
          eq(users.isGuest, false),
          notExists(
            this.db
              .select({ one: sql`1` })
              .from(follows)
              .where(and(eq(follows.followerId, viewerId), eq(follows.followeeId, users.id))),
          ),
        ),
      )
      .orderBy(desc(via), desc(users.followerCount), desc(users.createdAt), asc(users.id))
      .limit(first);
    const withMutuals = rows.filter((r) => r.via > 0).map((r) => r.user.id);
    const followedBy = new Map<string, string[]>();
    if (withMutuals.length > 0) {
      // Which of the viewer's followees follow each candidate (a few named per candidate).
      const pairs = await this.db
        .select({ candidate: theirs.followeeId, via: theirs.followerId })
        .from(mine)
        .innerJoin(theirs, eq(theirs.followerId, mine.followeeId))
        .where(and(eq(mine.followerId, viewerId), inArray(theirs.followeeId, withMutuals)))
        .orderBy(asc(theirs.followeeId), desc(theirs.createdAt));
      for (const { candidate, via: by } of pairs) {
        const list = followedBy.get(candidate) ?? [];
        if (list.length < SUGGESTION_FOLLOWED_BY_SHOWN) list.push(by);
        followedBy.set(candidate, list);
      }
    }
    return rows.map((r) => ({ user: r.user, followedByFollowingCount: r.via, followedByIds: followedBy.get(r.user.id) ?? [] }));
  }
}
