import { and, eq, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import { participants, spaces, type Database } from '@spaces/db';
import { mutedOnEntering, type Role } from '../../domain/rules.ts';
import { AudioState } from '../mixer/audio-state.ts';
import { changeSpace } from './change.ts';
import type { Dispatcher } from './effects.ts';
import type { ParticipantRow, Tx } from './reads.ts';

/** A participant's columns as they are on entering in `role` (new, or back after leaving). */
const freshPresence = (role: Role) => {
  const now = new Date();
  return { role, muted: mutedOnEntering(role), handRaised: false, joinedAt: now, seenAt: now, leftAt: null };
};

/** A present participant nobody has seen for the presence grace period. */
export interface Unseen {
  spaceId: string;
  userId: string;
  role: Role;
}

/**
 * Who is where: the only writer of participants' presence (`joined_at`, `left_at`, `seen_at`) and
 * of the host's absence (`host_away_since`), and the janitor that ends spaces whose host stayed
 * away.
 *
 * Someone is there while a client of theirs holds a spaceEvents subscription of the space, on any
 * API instance, or their audio is connected. Each instance counts the subscriptions it holds
 * (`watch`) and every `beatMs` records, in one statement, that it saw those people (`beat`);
 * connected audio counts too. Whoever goes unseen for `graceMs` is `unseen`: the janitor makes
 * them leave through the ordinary leave path (commands.ts).
 */
export class Presence {
  /** Subscriptions this instance holds, by `spaceId userId`. */
  readonly #watched = new Map<string, number>();
  /** Keys whose subscription ended since the last beat: seen once more, so a reload has the full grace. */
  readonly #lastSeen = new Set<string>();
  /** How often this instance records whom it sees: a few times per grace period. */
  readonly beatMs: number;

  constructor(
    private readonly db: Database,
    private readonly dispatcher: Dispatcher,
    readonly hostGraceMs: number,
    readonly graceMs = 30_000,
  ) {
    this.beatMs = Math.max(50, Math.min(5_000, Math.floor(graceMs / 4)));
  }

  /**
   * A spaceEvents subscription of `userId` to `spaceId` is open on this instance: they are there
   * until the returned function is called (idempotent).
   */
  watch(spaceId: string, userId: string): () => void {
    if (!isUuid(spaceId) || !isUuid(userId)) return () => {};
    const key = `${spaceId} ${userId}`;
    this.#watched.set(key, (this.#watched.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#watched.get(key) ?? 1) - 1;
      if (left > 0) this.#watched.set(key, left);
      else {
        this.#watched.delete(key);
        this.#lastSeen.add(key);
      }
    };
  }

  /** How many (space, user) pairs this instance sees through subscriptions now. */
  get watching(): number {
    return this.#watched.size;
  }

  /**
   * Records that this instance saw the participants it watches (one statement), and that
   * everyone with connected audio is there (rows not refreshed for a beat only, so that of many
   * instances one does the work).
   */
  async beat(): Promise<void> {
    // Watched rows are refreshed once older than half the grace period (an audience of thousands
    // is a few hundred row writes a second, not one per person per beat); rows whose subscription
    // just ended are refreshed at once, so a reload has the whole grace period.
    const ended = [...this.#lastSeen];
    this.#lastSeen.clear();
    await this.#refresh([...this.#watched.keys()], this.graceMs / 2);
    await this.#refresh(ended, 0);
    await this.db
      .update(participants)
      .set({ seenAt: sql`now()` })
      .where(
        and(
          isNull(participants.leftAt),
          eq(participants.audioConnected, true),
          lt(participants.seenAt, sql`now() - make_interval(secs => ${this.beatMs / 1000})`),
        ),
      );
  }

  async #refresh(keys: string[], olderThanMs: number) {
    if (keys.length === 0) return;
    const spaceIds = keys.map((k) => k.slice(0, k.indexOf(' ')));
    const userIds = keys.map((k) => k.slice(k.indexOf(' ') + 1));
    await this.db.execute(sql`
      update ${participants} set seen_at = now()
      from unnest(${pgArray(spaceIds)}::uuid[], ${pgArray(userIds)}::uuid[]) as seen(space_id, user_id)
      where ${participants.spaceId} = seen.space_id and ${participants.userId} = seen.user_id
        and ${participants.leftAt} is null
        and ${participants.seenAt} < now() - make_interval(secs => ${olderThanMs / 1000})`);
  }

  /** Inside a space transaction: the participant was seen (they joined again, say). */
  async seen(tx: Tx, participantId: string): Promise<void> {
    await tx.update(participants).set({ seenAt: sql`now()` }).where(eq(participants.id, participantId));
  }

  /** Under the space lock: whether this participant is still present and unseen (not seen again meanwhile). */
  async stillUnseen(tx: Tx, participantId: string): Promise<boolean> {
    const [row] = await tx
      .select({ id: participants.id })
      .from(participants)
      .where(
        and(
          eq(participants.id, participantId),
          isNull(participants.leftAt),
          lt(participants.seenAt, this.#cutoff()),
          eq(participants.audioConnected, false),
        ),
      );
    return !!row;
  }

  /** Present participants of live spaces not seen for the grace period (and without audio). */
  async unseen(limit = 500): Promise<Unseen[]> {
    const rows = await this.db
      .select({ spaceId: participants.spaceId, userId: participants.userId, role: participants.role })
      .from(participants)
      .innerJoin(spaces, eq(spaces.id, participants.spaceId))
      .where(
        and(
          isNull(participants.leftAt),
          lt(participants.seenAt, this.#cutoff()),
          eq(participants.audioConnected, false),
          eq(spaces.state, 'LIVE'),
        ),
      )
      .limit(limit);
    return rows as Unseen[];
  }

  /**
   * The host went unseen: away (the host's grace period runs), unless seen meanwhile. They stay
   * listed; joining again or their audio coming back ends the absence.
   */
  async hostUnseen(spaceId: string): Promise<void> {
    await changeSpace(this.db, this.dispatcher, spaceId, async (tx, space) => {
      if (space.state !== 'LIVE' || space.hostAwaySince) return;
      const [host] = await tx
        .select({ id: participants.id })
        .from(participants)
        .where(and(eq(participants.spaceId, spaceId), eq(participants.userId, space.hostId), isNull(participants.leftAt)));
      if (host && (await this.stillUnseen(tx, host.id))) await this.hostLeft(tx, spaceId);
    });
  }

  #cutoff() {
    return sql`now() - make_interval(secs => ${this.graceMs / 1000})`;
  }

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

const isUuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

/** A PostgreSQL array literal of uuids (checked by `watch`): one parameter, whichever driver (postgres or PGlite). */
const pgArray = (ids: string[]) => `{${ids.join(',')}}`;
