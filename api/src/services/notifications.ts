import { and, desc, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import { follows, notifications, participants, spaceReminders, spaces, type Database } from '@spaces/db';
import type { NotificationPayload, SpacesPubSub } from '../pubsub.ts';
import { decodeCursor, toPage } from '../lib/pagination.ts';
import { NOTIFICATION_RETENTION_DAYS, type NotificationKind } from '../domain/rules.ts';

export type NotificationRow = typeof notifications.$inferSelect;

/**
 * Who a notification goes to, decided when it is created (after the change that caused it
 * committed): named users, the host and present co-hosts of its space, the host's followers, or
 * the space's reminder holders. The actor never notifies themselves.
 */
export type Audience =
  | { users: string[] }
  | { moderatorsOf: string }
  | { followersOf: string; exceptRemindersOf?: string }
  | { remindersOf: string };

/** A notification to create: what happened, who did it, in which space, and for whom. */
export interface Notice {
  kind: NotificationKind;
  actorId: string | null;
  spaceId: string | null;
  /** FLEET_REPLY: the fleet replied to. */
  fleetId?: string | null;
  to: Audience;
}

/** How often the janitor's pruning may actually delete (it is asked every sweep). */
const PRUNE_EVERY_MS = 60 * 60_000;

/**
 * In-app notifications: the only writer of the `notifications` table. Each notice is one
 * INSERT … SELECT (a host with 10,000 followers costs one statement, not 10,000), and each created
 * row is published on its recipient's `notification` topic, which reaches every API instance.
 * A recipient who has the same notification (kind, actor, space) unread gets no second one.
 */
export class Notifications {
  #lastPrune = 0;

  constructor(
    private readonly db: Database,
    private readonly pubsub: SpacesPubSub,
  ) {}

  /** Creates the notice's rows and tells each recipient's subscriptions. Returns how many. */
  async deliver(notice: Notice): Promise<number> {
    const recipients = this.#recipients(notice);
    const actor = notice.actorId;
    const fleetId = notice.fleetId ?? null;
    const rows = await this.db.execute<{ id: string; user_id: string; created_at: string | Date }>(sql`
      insert into ${notifications} (user_id, kind, actor_id, space_id, fleet_id)
      select r.user_id, ${notice.kind}::notification_kind, ${actor}::uuid, ${notice.spaceId}::uuid, ${fleetId}::uuid
      from (${recipients}) as r(user_id)
      where (${actor}::uuid is null or r.user_id <> ${actor}::uuid)
        -- The same news still unread is not repeated (a hand lowered and raised again, a
        -- withdrawn invitation renewed): one unread notification says it.
        and not exists (
          select 1 from ${notifications} n
          where n.user_id = r.user_id and n.kind = ${notice.kind}::notification_kind and n.read_at is null
            and n.actor_id is not distinct from ${actor}::uuid and n.space_id is not distinct from ${notice.spaceId}::uuid
            and n.fleet_id is not distinct from ${fleetId}::uuid)
      returning id, user_id, created_at`);
    const list = Array.isArray(rows) ? rows : (rows as { rows: { id: string; user_id: string; created_at: string | Date }[] }).rows;
    for (const row of list) {
      const payload: NotificationPayload = {
        id: row.id,
        userId: row.user_id,
        kind: notice.kind,
        actorId: actor,
        spaceId: notice.spaceId,
        fleetId,
        createdAt: new Date(row.created_at).toISOString(),
      };
      this.pubsub.publish('notification', row.user_id, payload);
    }
    return list.length;
  }

  /** The recipients of a notice as a one-column SELECT of distinct user ids. */
  #recipients(notice: Notice) {
    const to = notice.to;
    if ('users' in to) {
      const ids = [...new Set(to.users)];
      return sql`select distinct unnest(${`{${ids.join(',')}}`}::uuid[])`;
    }
    if ('moderatorsOf' in to)
      return sql`select ${spaces.hostId} from ${spaces} where ${spaces.id} = ${to.moderatorsOf}
        union select ${participants.userId} from ${participants}
        where ${participants.spaceId} = ${to.moderatorsOf} and ${participants.leftAt} is null and ${participants.role} = 'CO_HOST'`;
    if ('followersOf' in to) {
      const except = to.exceptRemindersOf
        ? sql` and ${follows.followerId} not in (select ${spaceReminders.userId} from ${spaceReminders} where ${spaceReminders.spaceId} = ${to.exceptRemindersOf})`
        : sql``;
      return sql`select ${follows.followerId} from ${follows} where ${follows.followeeId} = ${to.followersOf}${except}`;
    }
    return sql`select ${spaceReminders.userId} from ${spaceReminders} where ${spaceReminders.spaceId} = ${to.remindersOf}`;
  }

  /** The user's notifications, newest first (keyset on createdAt, id). */
  async list(userId: string, first: number, after: string | null | undefined) {
    const cursor = decodeCursor(after, ['timestamp', 'uuid']);
    const rows = await this.db
      .select()
      .from(notifications)
      .where(
        and(
          eq(notifications.userId, userId),
          cursor ? sql`(${notifications.createdAt}, ${notifications.id}) < (${cursor[0]}::timestamptz, ${cursor[1]}::uuid)` : undefined,
        ),
      )
      .orderBy(desc(notifications.createdAt), desc(notifications.id))
      .limit(first + 1);
    return toPage(rows, first, (n) => [n.createdAt.toISOString(), n.id]);
  }

  /** One notification, only for its recipient (null for anyone else). */
  async byIdFor(userId: string | null, id: string): Promise<NotificationRow | null> {
    if (!userId) return null;
    const [row] = await this.db
      .select()
      .from(notifications)
      .where(and(eq(notifications.id, id), eq(notifications.userId, userId)));
    return row ?? null;
  }

  async unreadCount(userId: string): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(notifications)
      .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)));
    return row?.n ?? 0;
  }

  /** Marks these (or, with null, all) of the user's notifications read; returns the unread count left. */
  async markRead(userId: string, ids: string[] | null): Promise<number> {
    if (ids === null || ids.length > 0)
      await this.db
        .update(notifications)
        .set({ readAt: new Date() })
        .where(
          and(
            eq(notifications.userId, userId),
            isNull(notifications.readAt),
            ids === null ? undefined : inArray(notifications.id, ids),
          ),
        );
    return this.unreadCount(userId);
  }

  /** Deletes notifications older than the retention period. Returns how many. */
  async prune(now = Date.now()): Promise<number> {
    const cutoff = new Date(now - NOTIFICATION_RETENTION_DAYS * 86_400_000);
    const deleted = await this.db.delete(notifications).where(lt(notifications.createdAt, cutoff)).returning({ id: notifications.id });
    return deleted.length;
  }

  /** The janitor asks every sweep; pruning runs at most once an hour per instance. */
  async pruneIfDue(now = Date.now()): Promise<number> {
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return 0;
    this.#lastPrune = now;
    return this.prune(now);
  }
}

/** A payload from the bus as the row the schema resolves (a new notification is unread). */
export const rowOfPayload = (p: NotificationPayload): NotificationRow => ({
  id: p.id,
  userId: p.userId,
  kind: p.kind as NotificationKind,
  actorId: p.actorId,
  spaceId: p.spaceId,
  fleetId: p.fleetId ?? null,
  readAt: null,
  createdAt: new Date(p.createdAt),
});
