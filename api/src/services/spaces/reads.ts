import { and, asc, desc, eq, getTableColumns, inArray, isNull, or, sql, type AnyColumn, type Column, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { follows, participants, spaceBans, spaceReminders, spaces, speakerInvites, users, type Database } from '@spaces/db';
import { conflict, forbidden, notFound } from '../../errors.ts';
import { BAR_SCHEDULED_WITHIN_MS, isEligibleToSpeak, type Role, type SpeakerPolicy } from '../../domain/rules.ts';
import { decodeCursor, toPage, type Page } from '../../lib/pagination.ts';
import { uuidArray } from '../../lib/sql-arrays.ts';
import { userColumns, type UserRow } from '../accounts.ts';

export type SpaceRow = typeof spaces.$inferSelect;
export type ParticipantRow = typeof participants.$inferSelect;
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
/** A space as the read path loads it: with its host, read in the same statement. */
export type SpaceWithHost = SpaceRow & { host?: UserRow };
/** A participant as the read path loads it: with its user, read in the same statement. */
export type ParticipantWithUser = ParticipantRow & { user?: UserRow };

const STAGE_ROLES: Role[] = ['HOST', 'CO_HOST', 'SPEAKER'];

/** Which page of participants: each shape is one prepared statement (listParticipants). */
interface PageShape {
  role: boolean;
  group: ParticipantGroup | null;
  cursor: boolean;
}

/**
 * The read path's statements, prepared once per database handle: drizzle builds their SQL once,
 * and PostgreSQL parses and plans each once per connection (drizzle's plain `execute` sends an
 * unnamed statement, parsed and described on every call). Id lists travel as one uuid[]
 * parameter so the text is the same for any batch. Participants and spaces come with their
 * user / host joined in: nothing is left for a user batch afterwards.
 */
function prepareReads(db: Database) {
  const ids = sql.placeholder('ids');
  const anyOf = (column: AnyColumn) => sql`${column} = any(${ids}::uuid[])`;
  const seat = { ...getTableColumns(participants), user: userColumns };
  const seats = () => db.select(seat).from(participants).innerJoin(users, eq(users.id, participants.userId));
  return {
    seats,
    spacesWithHost: db
      .select({ ...getTableColumns(spaces), host: userColumns })
      .from(spaces)
      .innerJoin(users, eq(users.id, spaces.hostId))
      .where(anyOf(spaces.id))
      .prepare('spaces_with_host_by_ids'),
    seatsByIds: seats().where(anyOf(participants.id)).prepare('seats_by_ids'),
    presentSeatsOf: seats()
      .where(and(eq(participants.userId, sql.placeholder('userId')), anyOf(participants.spaceId), isNull(participants.leftAt)))
      .prepare('present_seats_of_user'),
    stages: seats()
      .where(and(anyOf(participants.spaceId), isNull(participants.leftAt), inArray(participants.role, STAGE_ROLES)))
      .orderBy(asc(participants.role), asc(participants.joinedAt), asc(participants.id))
      .prepare('stages_by_space_ids'),
    counts: db
      .select({
        spaceId: participants.spaceId,
        total: sql<number>`count(*)::int`,
        listeners: sql<number>`(count(*) filter (where ${participants.role} = 'LISTENER'))::int`,
      })
      .from(participants)
      .where(and(anyOf(participants.spaceId), isNull(participants.leftAt)))
      .groupBy(participants.spaceId)
      .prepare('counts_by_space_ids'),
  };
}

type Columns = Record<string, Column | Record<string, Column>>;
const isColumn = (value: Column | Record<string, Column>): value is Column => 'getSQL' in value;

/**
 * A row of these columns as one PostgreSQL JSON array, positional (a nested array for a nested
 * group): half the bytes of an object with keys, and faster to parse.
 */
function jsonRow(columns: Columns): SQL {
  const values = Object.values(columns).map((value) =>
    !isColumn(value)
      ? jsonRow(value)
      : // Timestamps as epoch milliseconds: a Date is made from a number far faster than parsed from
        // text. Truncated to milliseconds first, as a Date holds them; exact whether extract gives
        // numeric (PostgreSQL 14+) or double precision.
        value.dataType === 'object date'
        ? sql`(extract(epoch from date_trunc('milliseconds', ${value})) * 1000)::bigint`
        : sql`${value}`,
  );
  return sql`json_build_array(${sql.join(values, sql`, `)})`;
}

/** Turns a jsonRow back into what drizzle gives for these columns: keyed, timestamps as Dates. */
function fromJsonRow<T>(columns: Columns): (values: unknown[]) => T {
  const fields = Object.entries(columns).map(([key, value]) => ({
    key,
    decode: isColumn(value)
      ? value.dataType === 'object date'
        ? (v: unknown) => new Date(v as number)
        : null
      : fromJsonRow<unknown>(value),
  }));
  return (values) => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) {
      const { key, decode } = fields[i]!;
      const value = values[i];
      row[key] = decode && value !== null ? decode(value as never) : value;
    }
    return row as T;
  };
}

/**
 * Opening a space in one statement (Query.space, schema/space.ts): the space with its host, its
 * counts, its stage, the viewer's seat and, for a page shape, a first page of participants. Seats
 * come as JSON (jsonRow), so PostgreSQL builds them and Node parses one value instead of a row per seat.
 */
function prepareRoom(db: Database, shape: PageShape | null) {
  const seat = alias(participants, 'seat');
  const seatUser = alias(users, 'seat_user');
  const { passwordHash: _, ...seatUserColumns } = getTableColumns(seatUser);
  const seatColumns = { ...getTableColumns(seat), user: seatUserColumns };
  const seatJson = jsonRow(seatColumns);
  // In sql templates an alias names only itself: the FROM clause says which table it is.
  const seatTable = sql`${participants} ${seat}`;
  const seats = sql`${seatTable} join ${users} ${seatUser} on ${seatUser.id} = ${seat.userId}`;
  const present = sql`${seat.spaceId} = ${spaces.id} and ${seat.leftAt} is null`;
  const order = sql`${seat.role}, ${seat.joinedAt}, ${seat.id}`;
  const page = shape
    ? sql<unknown[][]>`(select coalesce(json_agg(page.seat order by page.role, page.joined_at, page.id), '[]'::json)
        from (select ${seatJson} as seat, ${seat.role} as role, ${seat.joinedAt} as joined_at, ${seat.id} as id
              from ${seats} where ${pageConditions(seat, shape)} order by ${order} limit ${sql.placeholder('limit')}) page)`
    : sql<null>`null`;
  const statement = db
    .select({
      ...getTableColumns(spaces),
      host: userColumns,
      participantCount: sql<number>`(select count(*)::int from ${seatTable} where ${present})`,
      listenerCount: sql<number>`(select count(*)::int from ${seatTable} where ${present} and ${seat.role} = 'LISTENER')`,
      stage: sql<unknown[][]>`(select coalesce(json_agg(${seatJson} order by ${order}), '[]'::json)
        from ${seats} where ${present} and ${inArray(seat.role, STAGE_ROLES)})`,
      viewerSeat: sql<unknown[] | null>`(select ${seatJson} from ${seats}
        where ${present} and ${seat.userId} = ${sql.placeholder('viewerId')}::uuid limit 1)`,
      page,
    })
    .from(spaces)
    .innerJoin(users, eq(users.id, spaces.hostId))
    .where(eq(spaces.id, sql.placeholder('spaceId')))
    .prepare(shape ? `room_of_space_with_${pageName(shape)}` : 'room_of_space');
  return { statement, seat: fromJsonRow<ParticipantWithUser>(seatColumns) };
}

/** What opening a space reads at once (SpaceReads.room). */
export interface Room {
  space: SpaceWithHost;
  counts: { participants: number; listeners: number };
  stage: ParticipantWithUser[];
  /** The viewer's present seat; null when not in the space (or signed out). */
  viewerSeat: ParticipantWithUser | null;
  /** The page asked for, if any. */
  page: Page<ParticipantWithUser> | null;
}

/** Which participants a page of this shape holds: of `table` (participants, or an alias of it). */
function pageConditions(table: Record<'spaceId' | 'leftAt' | 'role' | 'handRaised' | 'joinedAt' | 'id', AnyColumn>, shape: PageShape) {
  const { group } = shape;
  return and(
    eq(table.spaceId, sql.placeholder('spaceId')),
    isNull(table.leftAt),
    shape.role ? eq(table.role, sql.placeholder('role')) : undefined,
    group === 'STAGE' ? inArray(table.role, STAGE_ROLES) : undefined,
    group === 'AUDIENCE' || group === 'HANDS' ? eq(table.role, 'LISTENER') : undefined,
    group === 'HANDS' ? eq(table.handRaised, true) : undefined,
    shape.cursor
      ? sql`(${table.role}, ${table.joinedAt}, ${table.id}) > (${sql.placeholder('afterRole')}::participant_role, ${sql.placeholder('afterTime')}::timestamptz, ${sql.placeholder('afterId')}::uuid)`
      : undefined,
  );
}

const pageName = (shape: PageShape) => `participants_page_${shape.role ? 'role_' : ''}${shape.group ?? 'all'}${shape.cursor ? '_after' : ''}`;

function preparePage(reads: ReturnType<typeof prepareReads>, shape: PageShape) {
  return reads
    .seats()
    .where(pageConditions(participants, shape))
    .orderBy(asc(participants.role), asc(participants.joinedAt), asc(participants.id))
    .limit(sql.placeholder('limit'))
    .prepare(pageName(shape));
}

/** A page of participants as asked (Space.participants): its statement's shape and parameters. */
export interface PageRequest {
  first: number;
  after: string | null | undefined;
  role: Role | null | undefined;
  group: ParticipantGroup | null | undefined;
}

function pageParameters({ first, after, role, group }: PageRequest) {
  const cursor = decodeCursor(after, ['role', 'timestamp', 'uuid']);
  const shape: PageShape = { role: !!role, group: group ?? null, cursor: !!cursor };
  return {
    shape,
    key: pageName(shape),
    values: { role: role ?? null, afterRole: cursor?.[0] ?? null, afterTime: cursor?.[1] ?? null, afterId: cursor?.[2] ?? null, limit: first + 1 },
  };
}

const seatPage = (rows: ParticipantWithUser[], first: number) => toPage(rows, first, (p) => [p.role, p.joinedAt.toISOString(), p.id]);

/** The same order as asked, null for what is missing. */
function inOrder<T extends { id: string }>(rows: T[], ids: readonly string[]): (T | null)[] {
  const map = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => map.get(id) ?? null);
}

/** Parts of a space's participants: STAGE (host, co-hosts, speakers), HANDS (listeners with a raised hand), AUDIENCE (listeners). */
export type ParticipantGroup = 'STAGE' | 'HANDS' | 'AUDIENCE';

export function requireLive(space: SpaceRow): void {
  if (space.state === 'ENDED') throw conflict('This space has ended.');
  if (space.state !== 'LIVE') throw conflict('This space is not live yet.');
}

/** Reads of spaces, participants, invitations and bans: no writes here. */
export class SpaceReads {
  #reads?: ReturnType<typeof prepareReads>;
  readonly #rooms = new Map<string, ReturnType<typeof prepareRoom>>();
  readonly #pages = new Map<string, ReturnType<typeof preparePage>>();

  constructor(protected readonly db: Database) {}

  /** Built on first use (this.db is set by the constructor, after field initialisers). */
  get #prepared() {
    return (this.#reads ??= prepareReads(this.db));
  }

  /** Spaces with their hosts (the space loader): one statement. */
  async withHostsByIds(ids: readonly string[]): Promise<(SpaceWithHost | null)[]> {
    return inOrder(await this.#prepared.spacesWithHost.execute({ ids: uuidArray(ids) }), ids);
  }

  /**
   * A space with its host, counts, stage, the viewer's seat and the page asked for (if any), in
   * one statement; null when there is no such space. Given a malformed cursor, it reads no page.
   */
  async room(spaceId: string, viewerId: string | null, pageRequest: PageRequest | null): Promise<Room | null> {
    let request: ReturnType<typeof pageParameters> | null = null;
    try {
      request = pageRequest ? pageParameters(pageRequest) : null;
    } catch {
      pageRequest = null; // a malformed cursor: left to Space.participants, which reports it
    }
    const name = request?.key ?? '';
    let room = this.#rooms.get(name);
    if (!room) this.#rooms.set(name, (room = prepareRoom(this.db, request?.shape ?? null)));
    const [row] = await room.statement.execute({ spaceId, viewerId, ...request?.values });
    if (!row) return null;
    const { participantCount, listenerCount, stage, viewerSeat, page, ...space } = row;
    return {
      space,
      counts: { participants: participantCount, listeners: listenerCount },
      stage: stage.map(room.seat),
      viewerSeat: viewerSeat ? room.seat(viewerSeat) : null,
      page: page && pageRequest ? seatPage(page.map(room.seat), pageRequest.first) : null,
    };
  }

  /** Participants with their users (the participant loader): one statement. */
  async seatsByIds(ids: readonly string[]): Promise<(ParticipantWithUser | null)[]> {
    return inOrder(await this.#prepared.seatsByIds.execute({ ids: uuidArray(ids) }), ids);
  }

  /** One user's present participation in each of these spaces, with the user (the viewerParticipant loader). */
  async presentSeatsOf(userId: string, spaceIds: readonly string[]): Promise<(ParticipantWithUser | null)[]> {
    const rows = await this.#prepared.presentSeatsOf.execute({ userId, ids: uuidArray(spaceIds) });
    return spaceIds.map((id) => rows.find((r) => r.spaceId === id) ?? null);
  }

  async byIds(ids: readonly string[]): Promise<(SpaceRow | null)[]> {
    const rows = await this.db.select().from(spaces).where(inArray(spaces.id, [...ids]));
    const map = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => map.get(id) ?? null);
  }

  async participantsByIds(ids: readonly string[]): Promise<(ParticipantRow | null)[]> {
    const rows = await this.db.select().from(participants).where(inArray(participants.id, [...ids]));
    const map = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => map.get(id) ?? null);
  }

  /** Present participants of (space, user) pairs. */
  async presentParticipants(keys: readonly { spaceId: string; userId: string }[]): Promise<(ParticipantRow | null)[]> {
    if (keys.length === 0) return [];
    const rows = await this.db
      .select()
      .from(participants)
      .where(
        and(
          isNull(participants.leftAt),
          or(...keys.map((k) => and(eq(participants.spaceId, k.spaceId), eq(participants.userId, k.userId)))),
        ),
      );
    return keys.map((k) => rows.find((r) => r.spaceId === k.spaceId && r.userId === k.userId) ?? null);
  }

  async counts(spaceIds: readonly string[]): Promise<{ participants: number; listeners: number }[]> {
    const rows = await this.#prepared.counts.execute({ ids: uuidArray(spaceIds) });
    return spaceIds.map((id) => {
      const row = rows.find((r) => r.spaceId === id);
      return { participants: row?.total ?? 0, listeners: row?.listeners ?? 0 };
    });
  }

  /** Host, co-hosts and speakers of each space (by role, then join time), with their users. */
  async stages(spaceIds: readonly string[]): Promise<ParticipantWithUser[][]> {
    const rows = await this.#prepared.stages.execute({ ids: uuidArray(spaceIds) });
    return spaceIds.map((id) => rows.filter((r) => r.spaceId === id));
  }

  async invitedUsers(spaceId: string) {
    return this.db
      .select({ user: userColumns })
      .from(speakerInvites)
      .innerJoin(users, eq(users.id, speakerInvites.userId))
      .where(eq(speakerInvites.spaceId, spaceId))
      .orderBy(asc(speakerInvites.createdAt))
      .then((rows) => rows.map((r) => r.user));
  }

  /**
   * Whether more than `threshold` listeners are present, as `tx` sees it: reads at most
   * threshold + 1 index entries, so a join into a crowd costs the same at 60 and at 60,000.
   */
  async listenersBeyond(tx: Tx | Database, spaceId: string, threshold: number): Promise<boolean> {
    const [row] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(
        tx
          .select({ one: sql`1`.as('one') })
          .from(participants)
          .where(and(eq(participants.spaceId, spaceId), eq(participants.role, 'LISTENER'), isNull(participants.leftAt)))
          .limit(threshold + 1)
          .as('present_listeners'),
      );
    return (row?.n ?? 0) > threshold;
  }

  /** Stage first (by role), then by join time; `role` and `group` narrow it (given both, both apply). With users. */
  async listParticipants(
    spaceId: string,
    first: number,
    after: string | null | undefined,
    role: Role | null | undefined,
    group: ParticipantGroup | null | undefined = null,
  ) {
    const { shape, key, values } = pageParameters({ first, after, role, group });
    let page = this.#pages.get(key);
    if (!page) this.#pages.set(key, (page = preparePage(this.#prepared, shape)));
    return seatPage(await page.execute({ spaceId, ...values }), first);
  }

  /** LIVE spaces, most participants first. */
  async listLive(first: number, after: string | null | undefined) {
    const cursor = decodeCursor(after, ['count', 'uuid']);
    const count = sql<number>`(select count(*)::int from ${participants} p where p.space_id = ${spaces.id} and p.left_at is null)`;
    const ranked = this.db
      .select({ id: spaces.id, n: count.as('n') })
      .from(spaces)
      .where(eq(spaces.state, 'LIVE'))
      .as('ranked');
    const rows = await this.db
      .select({ id: ranked.id, n: ranked.n })
      .from(ranked)
      .where(cursor ? sql`(${ranked.n}, ${ranked.id}) < (${cursor[0]}::int, ${cursor[1]}::uuid)` : undefined)
      .orderBy(desc(ranked.n), desc(ranked.id))
      .limit(first + 1);
    const found = await this.byIds(rows.map((r) => r.id));
    const withSpaces = rows.map((r, i) => ({ ...r, space: found[i]! })).filter((r) => r.space);
    const page = toPage(withSpaces, first, (r) => [r.n, r.id]);
    return { pageInfo: page.pageInfo, edges: page.edges.map((e) => ({ cursor: e.cursor, node: e.node.space })) };
  }

  /**
   * The viewer's spaces bar: live spaces hosted by, or with on stage, someone the viewer follows
   * (most participants first); then the scheduled spaces followed accounts host that start within
   * BAR_SCHEDULED_WITHIN_MS (soonest first).
   */
  async spacesBar(viewerId: string, now = Date.now()): Promise<SpaceRow[]> {
    const followed = sql`(select ${follows.followeeId} from ${follows} where ${follows.followerId} = ${viewerId})`;
    const [live, scheduled] = await Promise.all([
      this.#liveBar(followed),
      this.db
        .select()
        .from(spaces)
        .where(
          and(
            eq(spaces.state, 'SCHEDULED'),
            sql`${spaces.hostId} in ${followed}`,
            sql`${spaces.scheduledFor} <= ${new Date(now + BAR_SCHEDULED_WITHIN_MS).toISOString()}::timestamptz`,
          ),
        )
        .orderBy(asc(spaces.scheduledFor), asc(spaces.id))
        .limit(50),
    ]);
    return [...live, ...scheduled];
  }

  #liveBar(followed: ReturnType<typeof sql>): Promise<SpaceRow[]> {
    return this.db
      .select()
      .from(spaces)
      .where(
        and(
          eq(spaces.state, 'LIVE'),
          or(
            sql`${spaces.hostId} in ${followed}`,
            sql`exists (select 1 from ${participants} p where p.space_id = ${spaces.id} and p.left_at is null
                 and p.role in ('HOST','CO_HOST','SPEAKER') and p.user_id in ${followed})`,
          ),
        ),
      )
      .orderBy(
        desc(sql`(select count(*) from ${participants} p where p.space_id = ${spaces.id} and p.left_at is null)`),
        desc(spaces.startedAt),
      )
      .limit(50);
  }

  /**
   * Scheduled spaces (cancelled ones are ENDED), soonest first: signed in, the viewer's own and
   * those of accounts they follow; signed out, all.
   */
  async listUpcoming(viewerId: string | null, first: number, after: string | null | undefined) {
    const cursor = decodeCursor(after, ['timestamp', 'uuid']);
    const rows = await this.db
      .select()
      .from(spaces)
      .where(
        and(
          eq(spaces.state, 'SCHEDULED'),
          viewerId
            ? or(
                eq(spaces.hostId, viewerId),
                sql`${spaces.hostId} in (select ${follows.followeeId} from ${follows} where ${follows.followerId} = ${viewerId})`,
              )
            : undefined,
          cursor ? sql`(${spaces.scheduledFor}, ${spaces.id}) > (${cursor[0]}::timestamptz, ${cursor[1]}::uuid)` : undefined,
        ),
      )
      .orderBy(asc(spaces.scheduledFor), asc(spaces.id))
      .limit(first + 1);
    return toPage(rows, first, (s) => [s.scheduledFor!.toISOString(), s.id]);
  }

  /** By host: the scheduled spaces they host, soonest first (at most 20 each), in one query. */
  async hostedUpcoming(hostIds: readonly string[]): Promise<SpaceRow[][]> {
    const ranked = this.db
      .select({
        id: spaces.id,
        n: sql<number>`row_number() over (partition by ${spaces.hostId} order by ${spaces.scheduledFor}, ${spaces.id})`.as('n'),
      })
      .from(spaces)
      .where(and(inArray(spaces.hostId, [...hostIds]), eq(spaces.state, 'SCHEDULED')))
      .as('ranked');
    const rows = await this.db
      .select({ space: spaces })
      .from(ranked)
      .innerJoin(spaces, eq(spaces.id, ranked.id))
      .where(sql`${ranked.n} <= 20`)
      .orderBy(asc(spaces.scheduledFor), asc(spaces.id));
    return hostIds.map((id) => rows.filter((r) => r.space.hostId === id).map((r) => r.space));
  }

  /** The ended (not cancelled) spaces a user hosted, newest first. */
  async listRecent(hostId: string, first: number, after: string | null | undefined) {
    const cursor = decodeCursor(after, ['timestamp', 'uuid']);
    const rows = await this.db
      .select()
      .from(spaces)
      .where(
        and(
          eq(spaces.hostId, hostId),
          eq(spaces.state, 'ENDED'),
          eq(spaces.cancelled, false),
          sql`${spaces.endedAt} is not null`,
          cursor ? sql`(${spaces.endedAt}, ${spaces.id}) < (${cursor[0]}::timestamptz, ${cursor[1]}::uuid)` : undefined,
        ),
      )
      .orderBy(desc(spaces.endedAt), desc(spaces.id))
      .limit(first + 1);
    return toPage(rows, first, (s) => [s.endedAt!.toISOString(), s.id]);
  }

  /** By user: the LIVE space they host or are on stage in (hosting first), else null. */
  async liveSpacesOf(userIds: readonly string[]): Promise<(SpaceRow | null)[]> {
    const rows = await this.db
      .select({ userId: participants.userId, role: participants.role, space: spaces })
      .from(participants)
      .innerJoin(spaces, eq(spaces.id, participants.spaceId))
      .where(
        and(
          inArray(participants.userId, [...userIds]),
          isNull(participants.leftAt),
          inArray(participants.role, STAGE_ROLES),
          eq(spaces.state, 'LIVE'),
        ),
      )
      .orderBy(asc(participants.role), desc(spaces.startedAt));
    // A host who stepped away for a moment (grace period) is still the host of a live space.
    const hosted = await this.db
      .select()
      .from(spaces)
      .where(and(inArray(spaces.hostId, [...userIds]), eq(spaces.state, 'LIVE')));
    return userIds.map((id) => hosted.find((s) => s.hostId === id) ?? rows.find((r) => r.userId === id)?.space ?? null);
  }

  /** Hosts of scheduled spaces starting in (from, to]: their spaces enter followers' bars (bars.ts). */
  async hostsStartingBetween(from: Date, to: Date): Promise<string[]> {
    const rows = await this.db
      .selectDistinct({ hostId: spaces.hostId })
      .from(spaces)
      .where(
        and(
          eq(spaces.state, 'SCHEDULED'),
          sql`${spaces.scheduledFor} > ${from.toISOString()}::timestamptz`,
          sql`${spaces.scheduledFor} <= ${to.toISOString()}::timestamptz`,
        ),
      );
    return rows.map((r) => r.hostId);
  }

  /** How many reminders each space has. */
  async reminderCounts(spaceIds: readonly string[]): Promise<number[]> {
    const rows = await this.db
      .select({ spaceId: spaceReminders.spaceId, n: sql<number>`count(*)::int` })
      .from(spaceReminders)
      .where(inArray(spaceReminders.spaceId, [...spaceIds]))
      .groupBy(spaceReminders.spaceId);
    return spaceIds.map((id) => rows.find((r) => r.spaceId === id)?.n ?? 0);
  }

  /** Which of these spaces the user set a reminder for. */
  async remindedAmong(userId: string, spaceIds: readonly string[]): Promise<Set<string>> {
    const rows = await this.db
      .select({ spaceId: spaceReminders.spaceId })
      .from(spaceReminders)
      .where(and(eq(spaceReminders.userId, userId), inArray(spaceReminders.spaceId, [...spaceIds])));
    return new Set(rows.map((r) => r.spaceId));
  }

  async isBanned(spaceId: string, userId: string, tx: Tx | Database = this.db): Promise<boolean> {
    const rows = await tx
      .select({ u: spaceBans.userId })
      .from(spaceBans)
      .where(and(eq(spaceBans.spaceId, spaceId), eq(spaceBans.userId, userId)));
    return rows.length > 0;
  }

  /** The facts the speaker policy needs about one user in one space. */
  async eligibility(space: SpaceRow, userId: string, tx: Tx | Database = this.db) {
    const [row] = await tx
      .select({
        hostFollows: sql<boolean>`exists (select 1 from ${follows} where ${follows.followerId} = ${space.hostId} and ${follows.followeeId} = ${userId})`,
        invited: sql<boolean>`exists (select 1 from ${speakerInvites} where ${speakerInvites.spaceId} = ${space.id} and ${speakerInvites.userId} = ${userId})`,
        banned: sql<boolean>`exists (select 1 from ${spaceBans} where ${spaceBans.spaceId} = ${space.id} and ${spaceBans.userId} = ${userId})`,
      })
      .from(sql`(select 1) as one`);
    const facts = { policy: space.speakerPolicy as SpeakerPolicy, hostFollows: !!row?.hostFollows, invited: !!row?.invited };
    return { ...facts, banned: !!row?.banned, eligible: isEligibleToSpeak(facts) };
  }

  /** Whether the policy lets the viewer ask for, or accept, the mic right now. */
  async viewerCanSpeak(space: SpaceRow, viewerId: string | null): Promise<boolean> {
    if (!viewerId || space.state !== 'LIVE') return false;
    if (viewerId === space.hostId) return true;
    const e = await this.eligibility(space, viewerId);
    return !e.banned && e.eligible;
  }

  /**
   * A live space and the viewer's presence in it, outside a transaction: for actions that change
   * no space state (reactions, audio).
   */
  async requireLivePresence(viewerId: string, spaceId: string): Promise<{ space: SpaceRow; me: ParticipantRow }> {
    const [space] = await this.byIds([spaceId]);
    if (!space) throw notFound('No such space.');
    requireLive(space);
    return { space, me: await this.requirePresent(this.db, space, viewerId) };
  }

  protected async presentIn(tx: Tx | Database, spaceId: string, userId: string): Promise<ParticipantRow | null> {
    const [row] = await tx
      .select()
      .from(participants)
      .where(and(eq(participants.spaceId, spaceId), eq(participants.userId, userId), isNull(participants.leftAt)));
    return row ?? null;
  }

  /** The viewer's presence, or why there is none: removed users are told so, others to join. */
  protected async requirePresent(tx: Tx | Database, space: SpaceRow, userId: string): Promise<ParticipantRow> {
    const me = await this.presentIn(tx, space.id, userId);
    if (me) return me;
    if (await this.isBanned(space.id, userId, tx)) throw forbidden('You were removed from this space.');
    throw conflict('Join the space first.');
  }
}
