import { and, asc, desc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import { follows, participants, spaceBans, spaces, speakerInvites, users, type Database } from '@spaces/db';
import { appError, badInput, conflict, forbidden, isUniqueViolation, notFound } from '../errors.ts';
import {
  canModerate,
  canRequestToSpeak,
  canSetRole,
  canUnmute,
  isEligibleToSpeak,
  isModerator,
  isOnStage,
  isReaction,
  mustLeaveStage,
  REACTION_RATE,
  validateTitle,
  type Role,
  type SpeakerPolicy,
  type Verdict,
} from '../domain/rules.ts';
import type { EventBus, SpaceEventPayload } from '../pubsub.ts';
import { RateLimiter } from '../lib/rate-limit.ts';
import { decodeCursor, toPage } from '../lib/pagination.ts';

export type SpaceRow = typeof spaces.$inferSelect;
export type ParticipantRow = typeof participants.$inferSelect;
type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

export type SpaceEventKind =
  | 'PARTICIPANT_JOINED'
  | 'PARTICIPANT_LEFT'
  | 'PARTICIPANT_UPDATED'
  | 'SPEAKING_CHANGED'
  | 'SPEAKER_INVITED'
  | 'SPEAKER_INVITE_REVOKED'
  | 'REACTION'
  | 'SPACE_UPDATED'
  | 'SPACE_ENDED'
  | 'REMOVED'
  | 'AUDIO_RECONNECT';

const STAGE_ROLES: Role[] = ['HOST', 'CO_HOST', 'SPEAKER'];

function enforce(verdict: Verdict): void {
  if (!verdict.ok) throw appError(verdict.code, verdict.reason);
}

/** Hooks for the mixer (voice issue): told after each committed change that affects audio. */
export interface SpaceListener {
  onParticipantChanged?(participant: ParticipantRow, space: SpaceRow): void | Promise<void>;
  onParticipantRemoved?(participant: ParticipantRow, space: SpaceRow): void | Promise<void>;
  onSpaceEnded?(space: SpaceRow): void | Promise<void>;
  onSpaceLive?(space: SpaceRow): void | Promise<void>;
}

/**
 * Spaces, participants, invitations and bans. Every change to one space runs in a transaction
 * that first locks the space row, so concurrent changes to a space apply one at a time (stage
 * limits and counts stay exact); events are published after commit, in that order.
 */
export class Spaces {
  private readonly reactionLimiter = new RateLimiter(REACTION_RATE.limit, REACTION_RATE.windowMs);
  readonly listeners: SpaceListener[] = [];

  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
    readonly hostGraceMs: number,
  ) {}

  // ---------------------------------------------------------------- reads

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
    const rows = await this.db
      .select({
        spaceId: participants.spaceId,
        total: sql<number>`count(*)::int`,
        listeners: sql<number>`(count(*) filter (where ${participants.role} = 'LISTENER'))::int`,
      })
      .from(participants)
      .where(and(inArray(participants.spaceId, [...spaceIds]), isNull(participants.leftAt)))
      .groupBy(participants.spaceId);
    return spaceIds.map((id) => {
      const row = rows.find((r) => r.spaceId === id);
      return { participants: row?.total ?? 0, listeners: row?.listeners ?? 0 };
    });
  }

  async stages(spaceIds: readonly string[]): Promise<ParticipantRow[][]> {
    const rows = await this.db
      .select()
      .from(participants)
      .where(
        and(inArray(participants.spaceId, [...spaceIds]), isNull(participants.leftAt), inArray(participants.role, STAGE_ROLES)),
      )
      .orderBy(asc(participants.role), asc(participants.joinedAt), asc(participants.id));
    return spaceIds.map((id) => rows.filter((r) => r.spaceId === id));
  }

  async invitedUsers(spaceId: string) {
    return this.db
      .select({ user: users })
      .from(speakerInvites)
      .innerJoin(users, eq(users.id, speakerInvites.userId))
      .where(eq(speakerInvites.spaceId, spaceId))
      .orderBy(asc(speakerInvites.createdAt))
      .then((rows) => rows.map((r) => r.user));
  }

  /** Stage first (by role), then by join time. */
  async listParticipants(spaceId: string, first: number, after: string | null | undefined, role: Role | null | undefined) {
    const cursor = decodeCursor(after, 3) as [string, string, string] | null;
    const rows = await this.db
      .select()
      .from(participants)
      .where(
        and(
          eq(participants.spaceId, spaceId),
          isNull(participants.leftAt),
          role ? eq(participants.role, role) : undefined,
          cursor
            ? sql`(${participants.role}, ${participants.joinedAt}, ${participants.id}) > (${cursor[0]}::participant_role, ${cursor[1]}::timestamptz, ${cursor[2]}::uuid)`
            : undefined,
        ),
      )
      .orderBy(asc(participants.role), asc(participants.joinedAt), asc(participants.id))
      .limit(first + 1);
    return toPage(rows, first, (p) => [p.role, p.joinedAt.toISOString(), p.id]);
  }

  /** LIVE spaces, most participants first. */
  async listLive(first: number, after: string | null | undefined) {
    const cursor = decodeCursor(after, 2) as [number, string] | null;
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

  /** Live spaces hosted by, or with on stage, someone the viewer follows. */
  async spacesBar(viewerId: string): Promise<SpaceRow[]> {
    const followed = sql`(select ${follows.followeeId} from ${follows} where ${follows.followerId} = ${viewerId})`;
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

  // ---------------------------------------------------------------- writes

  /** Runs `work` with the space locked; publishes its events after commit. */
  private async change<T>(
    spaceId: string,
    work: (tx: Tx, space: SpaceRow, emit: (e: Omit<SpaceEventPayload, 'spaceId' | 'at'>) => void) => Promise<T>,
  ): Promise<T> {
    const pending: SpaceEventPayload[] = [];
    const result = await this.db.transaction(async (tx) => {
      const [space] = await tx.select().from(spaces).where(eq(spaces.id, spaceId)).for('update');
      if (!space) throw notFound('No such space.');
      return work(tx, space, (e) => pending.push({ ...e, spaceId, at: new Date().toISOString() }));
    });
    for (const event of pending) this.events.pubsub.publish('space', spaceId, event);
    return result;
  }

  /**
   * A live space and the viewer's presence in it, outside a transaction: for actions that change
   * no space state (reactions, audio).
   */
  async requireLivePresence(viewerId: string, spaceId: string): Promise<{ space: SpaceRow; me: ParticipantRow }> {
    const [space] = await this.byIds([spaceId]);
    if (!space) throw notFound('No such space.');
    this.requireLive(space);
    return { space, me: await this.requirePresent(this.db, space, viewerId) };
  }

  private requireLive(space: SpaceRow) {
    if (space.state === 'ENDED') throw conflict('This space has ended.');
    if (space.state !== 'LIVE') throw conflict('This space is not live yet.');
  }

  private async presentIn(tx: Tx | Database, spaceId: string, userId: string): Promise<ParticipantRow | null> {
    const [row] = await tx
      .select()
      .from(participants)
      .where(and(eq(participants.spaceId, spaceId), eq(participants.userId, userId), isNull(participants.leftAt)));
    return row ?? null;
  }

  /** The viewer's presence, or why there is none: removed users are told so, others to join. */
  private async requirePresent(tx: Tx | Database, space: SpaceRow, userId: string): Promise<ParticipantRow> {
    const me = await this.presentIn(tx, space.id, userId);
    if (me) return me;
    if (await this.isBanned(space.id, userId, tx)) throw forbidden('You were removed from this space.');
    throw conflict('Join the space first.');
  }

  private async requireModerator(tx: Tx, space: SpaceRow, userId: string): Promise<ParticipantRow> {
    const me = await this.presentIn(tx, space.id, userId);
    if (!me || !isModerator(me.role)) throw forbidden('Only the host and co-hosts can do this.');
    return me;
  }

  private async stageCounts(tx: Tx, spaceId: string) {
    const [row] = await tx
      .select({
        coHosts: sql<number>`(count(*) filter (where ${participants.role} = 'CO_HOST'))::int`,
        speakers: sql<number>`(count(*) filter (where ${participants.role} = 'SPEAKER'))::int`,
      })
      .from(participants)
      .where(and(eq(participants.spaceId, spaceId), isNull(participants.leftAt)));
    return { coHosts: row?.coHosts ?? 0, speakers: row?.speakers ?? 0 };
  }

  private async updateParticipant(tx: Tx, id: string, values: Partial<ParticipantRow>): Promise<ParticipantRow> {
    const [row] = await tx.update(participants).set(values).where(eq(participants.id, id)).returning();
    return row!;
  }

  private notify(kind: keyof SpaceListener, ...args: unknown[]) {
    for (const l of this.listeners) {
      const fn = l[kind] as ((...a: unknown[]) => unknown) | undefined;
      if (fn)
        Promise.resolve()
          .then(() => fn.apply(l, args))
          .catch((error) => console.error(`[spaces] listener ${kind} failed`, error));
    }
  }

  private activity(userIds: string[]) {
    this.events.pubsub.publish('activity', { userIds, at: new Date().toISOString() });
  }

  async create(hostId: string, input: { title: string; speakerPolicy: SpeakerPolicy; scheduledFor?: Date | null }) {
    const title = validateTitle(input.title);
    if (!title.ok) throw badInput('title', title.reason);
    const scheduled = input.scheduledFor ?? null;
    if (scheduled) {
      if (scheduled.getTime() <= Date.now()) throw badInput('scheduledFor', 'must be in the future');
      if (scheduled.getTime() > Date.now() + 366 * 86_400_000) throw badInput('scheduledFor', 'must be within a year');
    }
    try {
      const space = await this.db.transaction(async (tx) => {
        const [space] = await tx
          .insert(spaces)
          .values({
            hostId,
            title: title.title,
            speakerPolicy: input.speakerPolicy,
            state: scheduled ? 'SCHEDULED' : 'LIVE',
            scheduledFor: scheduled,
            startedAt: scheduled ? null : new Date(),
          })
          .returning();
        if (!scheduled) await tx.insert(participants).values({ spaceId: space!.id, userId: hostId, role: 'HOST', muted: false });
        return space!;
      });
      if (space.state === 'LIVE') {
        this.activity([hostId]);
        this.notify('onSpaceLive', space);
      }
      return space;
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('You are already hosting a live space; end it first.');
      throw error;
    }
  }

  async start(viewerId: string, spaceId: string) {
    try {
      const space = await this.change(spaceId, async (tx, space, emit) => {
        if (space.hostId !== viewerId) throw forbidden('Only the host can start this space.');
        if (space.state !== 'SCHEDULED') throw conflict(`This space is ${space.state.toLowerCase()}; only a scheduled space can start.`);
        const [updated] = await tx
          .update(spaces)
          .set({ state: 'LIVE', startedAt: new Date() })
          .where(eq(spaces.id, space.id))
          .returning();
        await this.upsertPresence(tx, space.id, viewerId, 'HOST');
        emit({ kind: 'SPACE_UPDATED' });
        return updated!;
      });
      this.activity([viewerId]);
      this.notify('onSpaceLive', space);
      return space;
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('You are already hosting a live space; end it first.');
      throw error;
    }
  }

  /** Ends a space for everyone (host only, or the janitor after the host's grace period). */
  async end(viewerId: string | null, spaceId: string) {
    let stageUsers: string[] = [];
    const space = await this.change(spaceId, async (tx, space, emit) => {
      if (viewerId !== null && space.hostId !== viewerId) throw forbidden('Only the host can end this space.');
      if (space.state === 'ENDED') throw conflict('This space has already ended.');
      const now = new Date();
      const [updated] = await tx
        .update(spaces)
        .set({ state: 'ENDED', endedAt: now, hostAwaySince: null })
        .where(eq(spaces.id, space.id))
        .returning();
      const left = await tx
        .update(participants)
        .set({ leftAt: now, audioConnected: false, speaking: false, handRaised: false })
        .where(and(eq(participants.spaceId, space.id), isNull(participants.leftAt)))
        .returning();
      stageUsers = left.filter((p) => isOnStage(p.role)).map((p) => p.userId);
      emit({ kind: 'SPACE_ENDED' });
      return updated!;
    });
    this.activity([space.hostId, ...stageUsers]);
    this.notify('onSpaceEnded', space);
    return space;
  }

  async setPolicy(viewerId: string, spaceId: string, policy: SpeakerPolicy) {
    const demoted: ParticipantRow[] = [];
    const space = await this.change(spaceId, async (tx, space, emit) => {
      if (space.hostId !== viewerId) throw forbidden('Only the host can change the speaker policy.');
      if (space.state === 'ENDED') throw conflict('This space has ended.');
      const [updated] = await tx.update(spaces).set({ speakerPolicy: policy }).where(eq(spaces.id, space.id)).returning();
      emit({ kind: 'SPACE_UPDATED' });
      demoted.push(...(await this.reviewEligibility(tx, updated!, emit)));
      return updated!;
    });
    this.afterDemotions(space, demoted);
    return space;
  }

  /**
   * Applies live eligibility: speakers no longer allowed go back to the audience (muted), and
   * raised hands that are no longer allowed are lowered. Returns the demoted participants.
   */
  private async reviewEligibility(
    tx: Tx,
    space: SpaceRow,
    emit: (e: Omit<SpaceEventPayload, 'spaceId' | 'at'>) => void,
    onlyUserId?: string,
  ): Promise<ParticipantRow[]> {
    const candidates = await tx
      .select()
      .from(participants)
      .where(
        and(
          eq(participants.spaceId, space.id),
          isNull(participants.leftAt),
          or(eq(participants.role, 'SPEAKER'), and(eq(participants.role, 'LISTENER'), eq(participants.handRaised, true))),
          onlyUserId ? eq(participants.userId, onlyUserId) : undefined,
        ),
      );
    const demoted: ParticipantRow[] = [];
    for (const p of candidates) {
      const facts = await this.eligibility(space, p.userId, tx);
      if (p.role === 'SPEAKER' && mustLeaveStage(p.role, facts)) {
        const row = await this.updateParticipant(tx, p.id, { role: 'LISTENER', muted: true, handRaised: false });
        demoted.push(row);
        emit({ kind: 'PARTICIPANT_UPDATED', participantId: p.id, userId: p.userId });
      } else if (p.role === 'LISTENER' && !facts.eligible) {
        await this.updateParticipant(tx, p.id, { handRaised: false });
        emit({ kind: 'PARTICIPANT_UPDATED', participantId: p.id, userId: p.userId });
      }
    }
    return demoted;
  }

  private afterDemotions(space: SpaceRow, demoted: ParticipantRow[]) {
    if (demoted.length === 0) return;
    this.activity(demoted.map((p) => p.userId));
    for (const p of demoted) this.notify('onParticipantChanged', p, space);
  }

  /** After `hostId` unfollows `userId`: under FOLLOWING, that user's eligibility ends at once. */
  async afterUnfollow(hostId: string, userId: string) {
    const live = await this.db
      .select({ id: spaces.id })
      .from(spaces)
      .where(and(eq(spaces.hostId, hostId), eq(spaces.state, 'LIVE'), eq(spaces.speakerPolicy, 'FOLLOWING')));
    for (const { id } of live) {
      const demoted: ParticipantRow[] = [];
      const space = await this.change(id, async (tx, space, emit) => {
        demoted.push(...(await this.reviewEligibility(tx, space, emit, userId)));
        return space;
      });
      this.afterDemotions(space, demoted);
    }
  }

  /** Inserts or revives the (space, user) participant row with a fresh presence. */
  private async upsertPresence(tx: Tx, spaceId: string, userId: string, role: Role): Promise<ParticipantRow> {
    const values = {
      role,
      muted: role !== 'HOST',
      handRaised: false,
      speaking: false,
      audioConnected: false,
      joinedAt: new Date(),
      leftAt: null,
    };
    const [row] = await tx
      .insert(participants)
      .values({ spaceId, userId, ...values })
      .onConflictDoUpdate({ target: [participants.spaceId, participants.userId], set: values })
      .returning();
    return row!;
  }

  async join(viewerId: string, spaceId: string) {
    let joined: ParticipantRow | null = null;
    const result = await this.change(spaceId, async (tx, space, emit) => {
      const existing = await this.presentIn(tx, space.id, viewerId);
      if (existing) return existing;
      if (await this.isBanned(space.id, viewerId, tx)) throw forbidden('You were removed from this space.');
      this.requireLive(space);
      const isHost = space.hostId === viewerId;
      const row = await this.upsertPresence(tx, space.id, viewerId, isHost ? 'HOST' : 'LISTENER');
      if (isHost && space.hostAwaySince) await tx.update(spaces).set({ hostAwaySince: null }).where(eq(spaces.id, space.id));
      emit({ kind: 'PARTICIPANT_JOINED', participantId: row.id, userId: viewerId });
      joined = row;
      return row;
    });
    if (joined && result.role === 'HOST') this.activity([viewerId]);
    return result;
  }

  async leave(viewerId: string, spaceId: string): Promise<boolean> {
    let left: ParticipantRow | null = null;
    const space = await this.change(spaceId, async (tx, space, emit) => {
      const me = await this.presentIn(tx, space.id, viewerId);
      if (!me) return space;
      left = await this.updateParticipant(tx, me.id, {
        leftAt: new Date(),
        handRaised: false,
        speaking: false,
        audioConnected: false,
      });
      // The host may come back: the space stays live for the grace period.
      if (me.role === 'HOST') await tx.update(spaces).set({ hostAwaySince: new Date() }).where(eq(spaces.id, space.id));
      emit({ kind: 'PARTICIPANT_LEFT', participantId: me.id, userId: viewerId });
      return space;
    });
    if (!left) return false;
    const row: ParticipantRow = left;
    if (isOnStage(row.role)) this.activity([viewerId]);
    this.notify('onParticipantRemoved', row, space);
    return true;
  }

  async requestToSpeak(viewerId: string, spaceId: string, raised: boolean) {
    return this.change(spaceId, async (tx, space, emit) => {
      this.requireLive(space);
      const me = await this.requirePresent(tx, space, viewerId);
      if (!raised) {
        if (!me.handRaised) return me;
        emit({ kind: 'PARTICIPANT_UPDATED', participantId: me.id, userId: viewerId });
        return this.updateParticipant(tx, me.id, { handRaised: false });
      }
      enforce(canRequestToSpeak(me.role as Role, await this.eligibility(space, viewerId, tx)));
      if (me.handRaised) return me;
      emit({ kind: 'PARTICIPANT_UPDATED', participantId: me.id, userId: viewerId });
      return this.updateParticipant(tx, me.id, { handRaised: true });
    });
  }

  private async requireUser(tx: Tx, userId: string) {
    const [user] = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId));
    if (!user) throw notFound('No such user.');
  }

  async invite(viewerId: string, spaceId: string, userId: string) {
    return this.change(spaceId, async (tx, space, emit) => {
      this.requireLive(space);
      await this.requireModerator(tx, space, viewerId);
      await this.requireUser(tx, userId);
      if (userId === viewerId) throw badInput('userId', 'you cannot invite yourself');
      if (await this.isBanned(space.id, userId, tx)) throw conflict('That user was removed from this space.');
      const inserted = await tx
        .insert(speakerInvites)
        .values({ spaceId: space.id, userId, invitedBy: viewerId })
        .onConflictDoNothing()
        .returning();
      const target = await this.presentIn(tx, space.id, userId);
      if (inserted.length > 0) emit({ kind: 'SPEAKER_INVITED', userId, participantId: target?.id ?? null });
      return space;
    });
  }

  async revokeInvite(viewerId: string, spaceId: string, userId: string) {
    const demoted: ParticipantRow[] = [];
    const space = await this.change(spaceId, async (tx, space, emit) => {
      this.requireLive(space);
      await this.requireModerator(tx, space, viewerId);
      await this.requireUser(tx, userId);
      const deleted = await tx
        .delete(speakerInvites)
        .where(and(eq(speakerInvites.spaceId, space.id), eq(speakerInvites.userId, userId)))
        .returning();
      if (deleted.length > 0) {
        const target = await this.presentIn(tx, space.id, userId);
        emit({ kind: 'SPEAKER_INVITE_REVOKED', userId, participantId: target?.id ?? null });
        demoted.push(...(await this.reviewEligibility(tx, space, emit, userId)));
      }
      return space;
    });
    this.afterDemotions(space, demoted);
    return space;
  }

  async acceptInvite(viewerId: string, spaceId: string) {
    let promoted: { row: ParticipantRow; space: SpaceRow } | null = null;
    const result = await this.change(spaceId, async (tx, space, emit) => {
      this.requireLive(space);
      const me = await this.requirePresent(tx, space, viewerId);
      if (isOnStage(me.role)) return me;
      const facts = await this.eligibility(space, viewerId, tx);
      if (!facts.invited) throw forbidden('You have not been invited to speak.');
      const counts = await this.stageCounts(tx, space.id);
      enforce(
        canSetRole(
          { userId: space.hostId, role: 'HOST' },
          { userId: viewerId, role: me.role, handRaised: me.handRaised, invited: true, eligible: facts.eligible },
          'SPEAKER',
          counts,
        ),
      );
      const row = await this.updateParticipant(tx, me.id, { role: 'SPEAKER', muted: true, handRaised: false });
      emit({ kind: 'PARTICIPANT_UPDATED', participantId: me.id, userId: viewerId });
      promoted = { row, space };
      return row;
    });
    if (promoted) {
      const { row, space } = promoted as { row: ParticipantRow; space: SpaceRow };
      this.activity([viewerId]);
      this.notify('onParticipantChanged', row, space);
    }
    return result;
  }

  async setRole(viewerId: string, spaceId: string, userId: string, role: Role) {
    let changed: { row: ParticipantRow; space: SpaceRow } | null = null;
    const result = await this.change(spaceId, async (tx, space, emit) => {
      this.requireLive(space);
      const me = await this.presentIn(tx, space.id, viewerId);
      if (!me || (viewerId !== userId && !isModerator(me.role))) throw forbidden('Only the host and co-hosts can do this.');
      await this.requireUser(tx, userId);
      const target = await this.presentIn(tx, space.id, userId);
      if (!target) throw notFound('That user is not in this space.');
      const facts = await this.eligibility(space, userId, tx);
      enforce(
        canSetRole(
          { userId: viewerId, role: me.role },
          { userId, role: target.role, handRaised: target.handRaised, invited: facts.invited, eligible: facts.eligible },
          role,
          await this.stageCounts(tx, space.id),
        ),
      );
      if (target.role === role) return target;
      const row = await this.updateParticipant(tx, target.id, {
        role,
        handRaised: false,
        // Coming on stage starts muted; leaving it always mutes.
        muted: true,
      });
      emit({ kind: 'PARTICIPANT_UPDATED', participantId: row.id, userId });
      changed = { row, space };
      return row;
    });
    if (changed) {
      const { row, space } = changed as { row: ParticipantRow; space: SpaceRow };
      this.activity([userId]);
      this.notify('onParticipantChanged', row, space);
    }
    return result;
  }

  async setMuted(viewerId: string, spaceId: string, muted: boolean) {
    let changed: { row: ParticipantRow; space: SpaceRow } | null = null;
    const result = await this.change(spaceId, async (tx, space, emit) => {
      this.requireLive(space);
      const me = await this.requirePresent(tx, space, viewerId);
      if (!muted) enforce(canUnmute(me.role as Role));
      if (me.muted === muted) return me;
      const row = await this.updateParticipant(tx, me.id, { muted });
      emit({ kind: 'PARTICIPANT_UPDATED', participantId: me.id, userId: viewerId });
      changed = { row, space };
      return row;
    });
    if (changed) this.notify('onParticipantChanged', (changed as { row: ParticipantRow }).row, (changed as { space: SpaceRow }).space);
    return result;
  }

  async muteParticipant(viewerId: string, spaceId: string, userId: string) {
    let changed: { row: ParticipantRow; space: SpaceRow } | null = null;
    const result = await this.change(spaceId, async (tx, space, emit) => {
      this.requireLive(space);
      const me = await this.requireModerator(tx, space, viewerId);
      await this.requireUser(tx, userId);
      const target = await this.presentIn(tx, space.id, userId);
      if (!target) throw notFound('That user is not in this space.');
      enforce(canModerate({ userId: viewerId, role: me.role }, { userId, role: target.role }));
      if (target.muted) return target;
      const row = await this.updateParticipant(tx, target.id, { muted: true });
      emit({ kind: 'PARTICIPANT_UPDATED', participantId: row.id, userId });
      changed = { row, space };
      return row;
    });
    if (changed) this.notify('onParticipantChanged', (changed as { row: ParticipantRow }).row, (changed as { space: SpaceRow }).space);
    return result;
  }

  async muteAll(viewerId: string, spaceId: string) {
    let muted: ParticipantRow[] = [];
    const space = await this.change(spaceId, async (tx, space, emit) => {
      this.requireLive(space);
      await this.requireModerator(tx, space, viewerId);
      muted = await tx
        .update(participants)
        .set({ muted: true })
        .where(
          and(
            eq(participants.spaceId, space.id),
            isNull(participants.leftAt),
            eq(participants.role, 'SPEAKER'),
            eq(participants.muted, false),
          ),
        )
        .returning();
      for (const p of muted) emit({ kind: 'PARTICIPANT_UPDATED', participantId: p.id, userId: p.userId });
      return space;
    });
    for (const p of muted) this.notify('onParticipantChanged', p, space);
    return space;
  }

  async remove(viewerId: string, spaceId: string, userId: string) {
    let removed: ParticipantRow | null = null;
    const space = await this.change(spaceId, async (tx, space, emit) => {
      this.requireLive(space);
      const me = await this.requireModerator(tx, space, viewerId);
      await this.requireUser(tx, userId);
      const target = await this.presentIn(tx, space.id, userId);
      const targetRole = target?.role ?? (userId === space.hostId ? 'HOST' : null);
      enforce(canModerate({ userId: viewerId, role: me.role }, { userId, role: targetRole }));
      await tx.insert(spaceBans).values({ spaceId: space.id, userId, bannedBy: viewerId }).onConflictDoNothing();
      await tx.delete(speakerInvites).where(and(eq(speakerInvites.spaceId, space.id), eq(speakerInvites.userId, userId)));
      if (target) {
        removed = await this.updateParticipant(tx, target.id, {
          leftAt: new Date(),
          handRaised: false,
          speaking: false,
          audioConnected: false,
          muted: true,
        });
      }
      emit({ kind: 'REMOVED', userId, participantId: target?.id ?? null });
      return space;
    });
    if (removed) {
      const row: ParticipantRow = removed;
      if (isOnStage(row.role)) this.activity([userId]);
      this.notify('onParticipantRemoved', row, space);
    }
    return space;
  }

  async react(viewerId: string, spaceId: string, emoji: string) {
    if (!isReaction(emoji)) throw badInput('emoji', 'not one of the supported reactions');
    const { me } = await this.requireLivePresence(viewerId, spaceId);
    this.reactionLimiter.hit(`${viewerId}:${spaceId}`);
    this.events.pubsub.publish('space', spaceId, {
      kind: 'REACTION',
      spaceId,
      userId: viewerId,
      participantId: me.id,
      emoji,
      at: new Date().toISOString(),
    });
    return true;
  }

  /** Mixer-driven state (voice): speaking and audio connection, with their events. */
  async setAudioState(participantId: string, values: { speaking?: boolean; audioConnected?: boolean }) {
    const [p] = await this.participantsByIds([participantId]);
    if (!p || p.leftAt) return null;
    return this.change(p.spaceId, async (tx, _space, emit) => {
      const [row] = await tx
        .update(participants)
        .set(values)
        .where(and(eq(participants.id, participantId), isNull(participants.leftAt)))
        .returning();
      if (!row) return null;
      if (values.speaking !== undefined && values.speaking !== p.speaking)
        emit({ kind: 'SPEAKING_CHANGED', participantId, userId: p.userId });
      if (values.audioConnected !== undefined && values.audioConnected !== p.audioConnected)
        emit({ kind: 'PARTICIPANT_UPDATED', participantId, userId: p.userId });
      return row;
    });
  }

  /**
   * The host's connection came or went (audio dropped without a hang-up, or came back): a host
   * who stays away past the grace period ends the space, like one who left.
   */
  async setHostAway(spaceId: string, away: boolean) {
    await this.db
      .update(spaces)
      .set({ hostAwaySince: away ? new Date() : null })
      .where(and(eq(spaces.id, spaceId), eq(spaces.state, 'LIVE'), away ? isNull(spaces.hostAwaySince) : sql`true`));
  }

  /** Ends live spaces whose host has been away longer than the grace period. */
  async endAbandoned(now = Date.now()): Promise<number> {
    const due = await this.db
      .select({ id: spaces.id })
      .from(spaces)
      .where(
        and(eq(spaces.state, 'LIVE'), lt(spaces.hostAwaySince, new Date(now - this.hostGraceMs))),
      );
    let ended = 0;
    for (const { id } of due) {
      try {
        await this.end(null, id);
        ended++;
      } catch {
        // ended meanwhile by its host or another instance
      }
    }
    return ended;
  }
}
