import { and, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { participants, spaceBans, spaceReminders, spaces, speakerInvites, users, type Database } from '@spaces/db';
import { appError, badInput, conflict, forbidden, isUniqueViolation, notFound } from '../../errors.ts';
import {
  AUDIENCE_EVENT_THRESHOLD,
  canCancelSpace,
  canSetReminder,
  canUpdateSpace,
  validateScheduledFor,
  canMarkHandsSeen,
  canModerate,
  canTarget,
  canRequestToSpeak,
  canSetRole,
  canUnmute,
  isModerator,
  isOnStage,
  isReaction,
  mustLeaveStage,
  validateTitle,
  type Role,
  type SpeakerPolicy,
  type Verdict,
} from '../../domain/rules.ts';
import type { Limiter } from '../../lib/rate-limit.ts';
import { changeSpace } from './change.ts';
import { Effects, type Dispatcher } from './effects.ts';
import { Presence } from './presence.ts';
import { Recaps } from './recap.ts';
import { requireLive, SpaceReads, type ParticipantRow, type SpaceRow, type Tx } from './reads.ts';

/** What a shared-lock presence change answers when the viewer is the host (see changeOwnPresence). */
const HOST_NEEDS_EXCLUSIVE_LOCK = Symbol('host needs the exclusive space lock');

function enforce(verdict: Verdict): void {
  if (!verdict.ok) throw appError(verdict.code, verdict.reason);
}

/** A rule about guests (canTarget) broken: FORBIDDEN with `extensions.reason: "GUEST"`. */
function enforceGuest(verdict: Verdict): void {
  if (!verdict.ok) throw appError(verdict.code, verdict.reason, { reason: 'GUEST' });
}

/** The columns of a participant that commands write (presence and audio have their own modules). */
type ParticipantFields = Partial<Pick<ParticipantRow, 'role' | 'muted' | 'handRaised' | 'handSeen'>>;

/**
 * Spaces, participants, invitations and bans: reads (SpaceReads) and the commands that change
 * them. Every command runs in `changeSpace` (the space row locked) and records what it did in
 * Effects; the Dispatcher publishes events, spaces-bar activity and room reconciliation after
 * commit. No command talks to the mixer.
 */
export class Spaces extends SpaceReads {
  readonly presence: Presence;
  readonly recaps: Recaps;

  constructor(
    db: Database,
    readonly dispatcher: Dispatcher,
    hostGraceMs: number,
    /** Reactions per user per space (REACTION_RATE), counted across instances. */
    private readonly reactionLimiter: Limiter,
    /** How long a participant may go unseen before leaving (PRESENCE_GRACE_MS). */
    presenceGraceMs?: number,
  ) {
    super(db);
    this.presence = new Presence(db, dispatcher, hostGraceMs, presenceGraceMs);
    this.recaps = new Recaps(db);
    // Audience summaries say how many listeners there are, counted here (all instances' joins).
    dispatcher.countListenersWith(async (spaceId) => (await this.counts([spaceId]))[0]!.listeners);
  }

  get hostGraceMs(): number {
    return this.presence.hostGraceMs;
  }

  private change<T>(spaceId: string, work: (tx: Tx, space: SpaceRow, fx: Effects) => Promise<T>): Promise<T> {
    return changeSpace(this.db, this.dispatcher, spaceId, work);
  }

  private async requireModerator(tx: Tx, space: SpaceRow, userId: string): Promise<ParticipantRow> {
    const me = await this.presentIn(tx, space.id, userId);
    if (!me || !isModerator(me.role)) throw forbidden('Only the host and co-hosts can do this.');
    return me;
  }

  private async requireUser(tx: Tx, userId: string) {
    const [user] = await tx.select({ id: users.id, isGuest: users.isGuest }).from(users).where(eq(users.id, userId));
    if (!user) throw notFound('No such user.');
    return user;
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

  /**
   * Writes a participant's fields and records the change (event, stage activity, room). A hand
   * raised or lowered (going on stage lowers it) is not seen by a host yet: handSeen resets.
   */
  private async updateParticipant(tx: Tx, fx: Effects, before: ParticipantRow, values: ParticipantFields): Promise<ParticipantRow> {
    const set = values.handRaised !== undefined && values.handSeen === undefined ? { ...values, handSeen: false } : values;
    const [row] = await tx.update(participants).set(set).where(eq(participants.id, before.id)).returning();
    fx.event({ kind: 'PARTICIPANT_UPDATED', participantId: row!.id, userId: row!.userId });
    fx.participant(before, row!);
    return row!;
  }

  async create(hostId: string, input: { title: string; speakerPolicy: SpeakerPolicy; scheduledFor?: Date | null }) {
    const title = validateTitle(input.title);
    if (!title.ok) throw badInput('title', title.reason);
    const scheduled = input.scheduledFor ?? null;
    if (scheduled) {
      const when = validateScheduledFor(scheduled);
      if (!when.ok) throw badInput('scheduledFor', when.reason);
    }
    try {
      let fx: Effects | null = null;
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
        fx = new Effects(space!.id);
        if (scheduled) {
          fx.scheduleChanged(hostId);
          return space!;
        }
        fx.participant(null, await this.presence.enter(tx, space!.id, hostId, 'HOST'));
        fx.spaceState([hostId]);
        fx.notify({ kind: 'SPACE_STARTED', actorId: hostId, spaceId: space!.id, to: { followersOf: hostId } });
        return space!;
      });
      if (fx) this.dispatcher.dispatch(fx);
      return space;
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('You are already hosting a live space; end it first.');
      throw error;
    }
  }

  async start(viewerId: string, spaceId: string) {
    try {
      return await this.change(spaceId, async (tx, space, fx) => {
        if (space.hostId !== viewerId) throw forbidden('Only the host can start this space.');
        if (space.state !== 'SCHEDULED') throw conflict(`This space is ${space.state.toLowerCase()}; only a scheduled space can start.`);
        const [updated] = await tx
          .update(spaces)
          .set({ state: 'LIVE', startedAt: new Date() })
          .where(eq(spaces.id, space.id))
          .returning();
        const host = await this.presence.enter(tx, space.id, viewerId, 'HOST');
        fx.event({ kind: 'SPACE_UPDATED' });
        fx.participant(null, host);
        fx.spaceState([viewerId]);
        // Reminder holders are told by SPACE_REMINDER; the host's other followers by SPACE_STARTED.
        fx.notify({ kind: 'SPACE_REMINDER', actorId: viewerId, spaceId: space.id, to: { remindersOf: space.id } });
        fx.notify({
          kind: 'SPACE_STARTED',
          actorId: viewerId,
          spaceId: space.id,
          to: { followersOf: viewerId, exceptRemindersOf: space.id },
        });
        return updated!;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict('You are already hosting a live space; end it first.');
      throw error;
    }
  }

  /** Ends a space for everyone (host only, or the janitor after the host's grace period). */
  async end(viewerId: string | null, spaceId: string) {
    return this.change(spaceId, async (tx, space, fx) => {
      if (viewerId !== null && space.hostId !== viewerId) throw forbidden('Only the host can end this space.');
      if (space.state === 'ENDED') throw conflict('This space has already ended.');
      const now = new Date();
      await this.recaps.lastSample(tx, space.id);
      const [updated] = await tx.update(spaces).set({ state: 'ENDED', endedAt: now }).where(eq(spaces.id, space.id)).returning();
      await this.presence.spaceEnded(tx, space.id);
      const present = await tx
        .select()
        .from(participants)
        .where(and(eq(participants.spaceId, space.id), isNull(participants.leftAt)));
      await this.presence.exit(tx, present, now);
      fx.event({ kind: 'SPACE_ENDED' });
      fx.spaceState([space.hostId, ...present.filter((p) => isOnStage(p.role)).map((p) => p.userId)]);
      return updated!;
    });
  }

  /** Ends live spaces whose host has been away longer than the grace period. */
  async endAbandoned(now = Date.now()): Promise<number> {
    let ended = 0;
    for (const id of await this.presence.abandoned(now)) {
      try {
        await this.end(null, id);
        ended++;
      } catch (error) {
        // Ended meanwhile by its host or another instance's janitor: nothing left to do.
        if ((error as { extensions?: { code?: string } }).extensions?.code !== 'CONFLICT') throw error;
      }
    }
    return ended;
  }

  /**
   * The presence janitor: participants nobody has seen for the presence grace period leave
   * (through the ordinary leave path, so everyone is told); an unseen host is away instead, and
   * the host's grace period runs (endAbandoned). Returns how many left.
   */
  async sweepPresence(): Promise<number> {
    let left = 0;
    for (const unseen of await this.presence.unseen()) {
      try {
        if (unseen.role === 'HOST') await this.presence.hostUnseen(unseen.spaceId);
        else if (await this.#leave(unseen.userId, unseen.spaceId, (tx, me) => this.presence.stillUnseen(tx, me.id))) left++;
      } catch (error) {
        // The space went away meanwhile (deleted with its host): nothing left to do for it.
        if ((error as { extensions?: { code?: string } }).extensions?.code !== 'NOT_FOUND') throw error;
      }
    }
    return left;
  }

  /** Signing out: the user leaves every space they are in (a host is away, as after leaveSpace). */
  async leaveEverywhere(userId: string): Promise<number> {
    const present = await this.db
      .select({ spaceId: participants.spaceId })
      .from(participants)
      .where(and(eq(participants.userId, userId), isNull(participants.leftAt)));
    let left = 0;
    for (const { spaceId } of present) if (await this.leave(userId, spaceId)) left++;
    return left;
  }

  /**
   * updateSpace: the host edits the title and speaker policy (SCHEDULED or LIVE) or the start time
   * (SCHEDULED only). One SPACE_UPDATED for the lot.
   */
  async update(viewerId: string, spaceId: string, input: { title?: string; scheduledFor?: Date; speakerPolicy?: SpeakerPolicy }) {
    const values: Partial<Pick<SpaceRow, 'title' | 'scheduledFor' | 'speakerPolicy'>> = {};
    if (input.title !== undefined) {
      const title = validateTitle(input.title);
      if (!title.ok) throw badInput('title', title.reason);
      values.title = title.title;
    }
    if (input.scheduledFor !== undefined) {
      const when = validateScheduledFor(input.scheduledFor);
      if (!when.ok) throw badInput('scheduledFor', when.reason);
      values.scheduledFor = input.scheduledFor;
    }
    if (input.speakerPolicy !== undefined) values.speakerPolicy = input.speakerPolicy;
    return this.change(spaceId, async (tx, space, fx) => {
      enforce(
        canUpdateSpace({ isHost: space.hostId === viewerId }, space.state, {
          title: 'title' in values,
          scheduledFor: 'scheduledFor' in values,
          speakerPolicy: 'speakerPolicy' in values,
        }),
      );
      if (Object.keys(values).length === 0) return space;
      const [updated] = await tx.update(spaces).set(values).where(eq(spaces.id, space.id)).returning();
      fx.event({ kind: 'SPACE_UPDATED' });
      if (space.state === 'SCHEDULED') fx.scheduleChanged(space.hostId);
      else {
        // A live space shows on the bars of its stage's followers: they get the new title.
        const stage = await tx
          .select({ userId: participants.userId })
          .from(participants)
          .where(and(eq(participants.spaceId, space.id), isNull(participants.leftAt), inArray(participants.role, ['HOST', 'CO_HOST', 'SPEAKER'])));
        fx.stage(space.hostId, ...stage.map((p) => p.userId));
      }
      // A live space's new policy applies at once, as with setSpeakerPolicy.
      if (space.state === 'LIVE' && values.speakerPolicy && values.speakerPolicy !== space.speakerPolicy)
        await this.reviewEligibility(tx, updated!, fx);
      return updated!;
    });
  }

  /** cancelSpace: a scheduled space ends before it started; reminder holders are told. */
  async cancel(viewerId: string, spaceId: string) {
    return this.change(spaceId, async (tx, space, fx) => {
      enforce(canCancelSpace({ isHost: space.hostId === viewerId }, space.state));
      const [updated] = await tx
        .update(spaces)
        .set({ state: 'ENDED', cancelled: true, endedAt: new Date() })
        .where(eq(spaces.id, space.id))
        .returning();
      fx.event({ kind: 'SPACE_ENDED' });
      fx.scheduleChanged(space.hostId);
      fx.notify({ kind: 'SPACE_CANCELLED', actorId: viewerId, spaceId: space.id, to: { remindersOf: space.id } });
      return updated!;
    });
  }

  /**
   * setReminder: sets or clears the viewer's reminder for a scheduled space. Under the shared
   * lock (it writes only the viewer's reminder row), so a start or cancel is not missed: either
   * it ran first (CONFLICT here) or it sees the reminder.
   */
  async setReminder(viewerId: string, spaceId: string, on: boolean) {
    return changeSpace(
      this.db,
      this.dispatcher,
      spaceId,
      async (tx, space) => {
        enforce(canSetReminder(space.state));
        if (on) await tx.insert(spaceReminders).values({ spaceId: space.id, userId: viewerId }).onConflictDoNothing();
        else
          await tx
            .delete(spaceReminders)
            .where(and(eq(spaceReminders.spaceId, space.id), eq(spaceReminders.userId, viewerId)));
        return space;
      },
      'share',
    );
  }

  async setPolicy(viewerId: string, spaceId: string, policy: SpeakerPolicy) {
    return this.change(spaceId, async (tx, space, fx) => {
      if (space.hostId !== viewerId) throw forbidden('Only the host can change the speaker policy.');
      if (space.state === 'ENDED') throw conflict('This space has ended.');
      const [updated] = await tx.update(spaces).set({ speakerPolicy: policy }).where(eq(spaces.id, space.id)).returning();
      fx.event({ kind: 'SPACE_UPDATED' });
      await this.reviewEligibility(tx, updated!, fx);
      return updated!;
    });
  }

  /**
   * Applies live eligibility: speakers no longer allowed go back to the audience (muted), and
   * raised hands that are no longer allowed are lowered.
   */
  private async reviewEligibility(tx: Tx, space: SpaceRow, fx: Effects, onlyUserId?: string): Promise<void> {
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
    for (const p of candidates) {
      const facts = await this.eligibility(space, p.userId, tx);
      if (p.role === 'SPEAKER' && mustLeaveStage(p.role, facts))
        await this.updateParticipant(tx, fx, p, { role: 'LISTENER', muted: true, handRaised: false });
      else if (p.role === 'LISTENER' && !facts.eligible) await this.updateParticipant(tx, fx, p, { handRaised: false });
    }
  }

  /** After `hostId` unfollows `userId`: under FOLLOWING, that user's eligibility ends at once. */
  async afterUnfollow(hostId: string, userId: string) {
    const live = await this.db
      .select({ id: spaces.id })
      .from(spaces)
      .where(and(eq(spaces.hostId, hostId), eq(spaces.state, 'LIVE'), eq(spaces.speakerPolicy, 'FOLLOWING')));
    for (const { id } of live) await this.change(id, (tx, space, fx) => this.reviewEligibility(tx, space, fx, userId));
  }

  /**
   * A listener's join or a non-host's leave runs under the shared space lock (change.ts): it
   * writes only its own participant row, so a crowd joins in parallel while every other command
   * still runs alone. The host's join and leave write the space row (host away), so they take the
   * exclusive lock; the host never changes, so knowing it from the shared read is enough.
   */
  private changeOwnPresence<T>(
    viewerId: string,
    spaceId: string,
    work: (tx: Tx, space: SpaceRow, fx: Effects) => Promise<T>,
  ): Promise<T> {
    return changeSpace(
      this.db,
      this.dispatcher,
      spaceId,
      async (tx, space, fx) => (space.hostId === viewerId ? HOST_NEEDS_EXCLUSIVE_LOCK : work(tx, space, fx)),
      'share',
    ).then((result) => (result === HOST_NEEDS_EXCLUSIVE_LOCK ? this.change(spaceId, work) : result));
  }

  async join(viewerId: string, spaceId: string) {
    return this.changeOwnPresence(viewerId, spaceId, async (tx, space, fx) => {
      if (space.hostId === viewerId) {
        const existing = await this.presentIn(tx, space.id, viewerId);
        if (existing) {
          // Joining again is being there: seen, and no longer away (exclusive lock: may write the space).
          await this.presence.seen(tx, existing.id);
          if (space.state === 'LIVE' && space.hostAwaySince) await this.presence.hostIsBack(tx, space.id);
          return existing;
        }
        if (await this.isBanned(space.id, viewerId, tx)) throw forbidden('You were removed from this space.');
        requireLive(space);
        const row = await this.presence.enter(tx, space.id, viewerId, 'HOST');
        fx.event({ kind: 'PARTICIPANT_JOINED', participantId: row.id, userId: viewerId });
        fx.participant(null, row);
        return row;
      }
      // The common case first, in two queries: a live space, not removed from it, not present yet.
      if (space.state === 'LIVE' && !(await this.isBanned(space.id, viewerId, tx))) {
        const row = await this.presence.enterAsListener(tx, space.id, viewerId);
        if (row) {
          fx.listenerMoved('PARTICIPANT_JOINED', row, await this.listenersBeyond(tx, space.id, AUDIENCE_EVENT_THRESHOLD));
          fx.participant(null, row);
          return row;
        }
      }
      // Present already (or made so meanwhile by another request of the viewer's, which told
      // everyone), removed, or not live: answered as for the host. Joining again counts as
      // being seen (own row only: allowed under the shared lock).
      const existing = await this.presentIn(tx, space.id, viewerId);
      if (existing) {
        await this.presence.seen(tx, existing.id);
        return existing;
      }
      if (await this.isBanned(space.id, viewerId, tx)) throw forbidden('You were removed from this space.');
      requireLive(space);
      throw conflict('You left while joining; try again.');
    });
  }

  async leave(viewerId: string, spaceId: string): Promise<boolean> {
    return this.#leave(viewerId, spaceId);
  }

  /** Leaves, if present and (when given) `only` holds for the viewer's row under the lock. */
  #leave(viewerId: string, spaceId: string, only?: (tx: Tx, me: ParticipantRow) => Promise<boolean>): Promise<boolean> {
    return this.changeOwnPresence(viewerId, spaceId, async (tx, space, fx) => {
      const me = await this.presentIn(tx, space.id, viewerId);
      if (!me) return false;
      if (only && !(await only(tx, me))) return false;
      const [left] = await this.presence.exit(tx, [me]);
      // Left meanwhile by another request of the same viewer (shared lock), which tells everyone.
      if (!left) return false;
      // The host may come back: the space stays live for the grace period.
      if (me.role === 'HOST') await this.presence.hostLeft(tx, space.id);
      // A raised hand is the moderators' business: its owner leaving is told individually.
      if (me.role === 'LISTENER' && !me.handRaised)
        fx.listenerMoved('PARTICIPANT_LEFT', me, await this.listenersBeyond(tx, space.id, AUDIENCE_EVENT_THRESHOLD));
      else fx.event({ kind: 'PARTICIPANT_LEFT', participantId: me.id, userId: viewerId });
      fx.participant(me, left);
      return true;
    });
  }

  async requestToSpeak(viewerId: string, spaceId: string, raised: boolean) {
    return this.change(spaceId, async (tx, space, fx) => {
      requireLive(space);
      const me = await this.requirePresent(tx, space, viewerId);
      if (raised) enforce(canRequestToSpeak(me.role as Role, await this.eligibility(space, viewerId, tx)));
      if (me.handRaised === raised) return me;
      if (raised) fx.notify({ kind: 'HAND_RAISED', actorId: viewerId, spaceId: space.id, to: { moderatorsOf: space.id } });
      return this.updateParticipant(tx, fx, me, { handRaised: raised });
    });
  }

  async invite(viewerId: string, spaceId: string, userId: string) {
    return this.change(spaceId, async (tx, space, fx) => {
      requireLive(space);
      await this.requireModerator(tx, space, viewerId);
      enforceGuest(canTarget(await this.requireUser(tx, userId), 'invite'));
      if (userId === viewerId) throw badInput('userId', 'you cannot invite yourself');
      if (await this.isBanned(space.id, userId, tx)) throw conflict('That user was removed from this space.');
      const inserted = await tx
        .insert(speakerInvites)
        .values({ spaceId: space.id, userId, invitedBy: viewerId })
        .onConflictDoNothing()
        .returning();
      const target = await this.presentIn(tx, space.id, userId);
      if (inserted.length > 0) {
        fx.event({ kind: 'SPEAKER_INVITED', userId, participantId: target?.id ?? null });
        fx.notify({ kind: 'SPEAKER_INVITED', actorId: viewerId, spaceId: space.id, to: { users: [userId] } });
      }
      return space;
    });
  }

  async revokeInvite(viewerId: string, spaceId: string, userId: string) {
    return this.change(spaceId, async (tx, space, fx) => {
      requireLive(space);
      await this.requireModerator(tx, space, viewerId);
      await this.requireUser(tx, userId);
      const deleted = await tx
        .delete(speakerInvites)
        .where(and(eq(speakerInvites.spaceId, space.id), eq(speakerInvites.userId, userId)))
        .returning();
      if (deleted.length > 0) {
        const target = await this.presentIn(tx, space.id, userId);
        fx.event({ kind: 'SPEAKER_INVITE_REVOKED', userId, participantId: target?.id ?? null });
        await this.reviewEligibility(tx, space, fx, userId);
      }
      return space;
    });
  }

  async acceptInvite(viewerId: string, spaceId: string) {
    return this.change(spaceId, async (tx, space, fx) => {
      requireLive(space);
      const me = await this.requirePresent(tx, space, viewerId);
      if (isOnStage(me.role)) return me;
      const facts = await this.eligibility(space, viewerId, tx);
      if (!facts.invited) throw forbidden('You have not been invited to speak.');
      enforce(
        canSetRole(
          { userId: space.hostId, role: 'HOST' },
          { userId: viewerId, role: me.role, handRaised: me.handRaised, invited: true, eligible: facts.eligible },
          'SPEAKER',
          await this.stageCounts(tx, space.id),
        ),
      );
      return this.updateParticipant(tx, fx, me, { role: 'SPEAKER', muted: true, handRaised: false });
    });
  }

  async setRole(viewerId: string, spaceId: string, userId: string, role: Role) {
    return this.change(spaceId, async (tx, space, fx) => {
      requireLive(space);
      const me = await this.presentIn(tx, space.id, viewerId);
      if (!me || (viewerId !== userId && !isModerator(me.role))) throw forbidden('Only the host and co-hosts can do this.');
      const user = await this.requireUser(tx, userId);
      if (isOnStage(role)) enforceGuest(canTarget(user, 'stage'));
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
      // Coming on stage starts muted; leaving it always mutes.
      return this.updateParticipant(tx, fx, target, { role, handRaised: false, muted: true });
    });
  }

  async setMuted(viewerId: string, spaceId: string, muted: boolean) {
    return this.change(spaceId, async (tx, space, fx) => {
      requireLive(space);
      const me = await this.requirePresent(tx, space, viewerId);
      if (!muted) enforce(canUnmute(me.role as Role));
      if (me.muted === muted) return me;
      return this.updateParticipant(tx, fx, me, { muted });
    });
  }

  /**
   * A host or co-host tells the raised hands that a host saw them: each hand not yet seen is
   * marked (PARTICIPANT_UPDATED each). Returns how many were newly marked.
   */
  async markHandsSeen(viewerId: string, spaceId: string): Promise<number> {
    return this.change(spaceId, async (tx, space, fx) => {
      requireLive(space);
      const me = await this.presentIn(tx, space.id, viewerId);
      enforce(canMarkHandsSeen((me?.role ?? null) as Role | null));
      const unseen = await tx
        .select()
        .from(participants)
        .where(
          and(
            eq(participants.spaceId, space.id),
            isNull(participants.leftAt),
            eq(participants.handRaised, true),
            eq(participants.handSeen, false),
          ),
        );
      for (const p of unseen) await this.updateParticipant(tx, fx, p, { handSeen: true });
      return unseen.length;
    });
  }

  async muteParticipant(viewerId: string, spaceId: string, userId: string) {
    return this.change(spaceId, async (tx, space, fx) => {
      requireLive(space);
      const me = await this.requireModerator(tx, space, viewerId);
      await this.requireUser(tx, userId);
      const target = await this.presentIn(tx, space.id, userId);
      if (!target) throw notFound('That user is not in this space.');
      enforce(canModerate({ userId: viewerId, role: me.role }, { userId, role: target.role }));
      if (target.muted) return target;
      return this.updateParticipant(tx, fx, target, { muted: true });
    });
  }

  async muteAll(viewerId: string, spaceId: string) {
    return this.change(spaceId, async (tx, space, fx) => {
      requireLive(space);
      await this.requireModerator(tx, space, viewerId);
      const open = await tx
        .select()
        .from(participants)
        .where(
          and(eq(participants.spaceId, space.id), isNull(participants.leftAt), eq(participants.role, 'SPEAKER'), eq(participants.muted, false)),
        );
      for (const p of open) await this.updateParticipant(tx, fx, p, { muted: true });
      return space;
    });
  }

  async remove(viewerId: string, spaceId: string, userId: string) {
    return this.change(spaceId, async (tx, space, fx) => {
      requireLive(space);
      const me = await this.requireModerator(tx, space, viewerId);
      await this.requireUser(tx, userId);
      const target = await this.presentIn(tx, space.id, userId);
      const targetRole = target?.role ?? (userId === space.hostId ? 'HOST' : null);
      enforce(canModerate({ userId: viewerId, role: me.role }, { userId, role: targetRole }));
      await tx.insert(spaceBans).values({ spaceId: space.id, userId, bannedBy: viewerId }).onConflictDoNothing();
      await tx.delete(speakerInvites).where(and(eq(speakerInvites.spaceId, space.id), eq(speakerInvites.userId, userId)));
      if (target) {
        const [removed] = await this.presence.exit(tx, [target], new Date(), { muted: true });
        fx.participant(target, removed ?? null);
      }
      fx.event({ kind: 'REMOVED', userId, participantId: target?.id ?? null });
      return space;
    });
  }

  async react(viewerId: string, spaceId: string, emoji: string) {
    if (!isReaction(emoji)) throw badInput('emoji', 'not one of the supported reactions');
    const { me } = await this.requireLivePresence(viewerId, spaceId);
    await this.reactionLimiter.hit(`${viewerId}:${spaceId}`);
    this.dispatcher.publish(spaceId, { kind: 'REACTION', userId: viewerId, participantId: me.id, emoji });
    return true;
  }
}
