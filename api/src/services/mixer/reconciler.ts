import { and, eq, isNotNull } from 'drizzle-orm';
import type postgres from 'postgres';
import { participants, spaces, type Database } from '@spaces/db';
import { JanusConnectionError, JanusError, type AudioBridgeParticipant } from '@spaces/janus';
import { isHeardAtMixer, type Role } from '../../domain/rules.ts';
import type { SpaceRow } from '../spaces/reads.ts';
import type { AudioState } from './audio-state.ts';
import type { JanusInstance } from './instances.ts';
import type { AudienceRelays } from './relays.ts';

/** A connection this API instance holds (its Janus handle), as the reconciler sees it. */
export interface HeldConnection {
  participantId: string;
  spaceId: string;
  mixerId: number;
  /** A seat in the room, or a viewer of an audience relay. */
  tier: 'STAGE' | 'AUDIENCE';
  /** Joining: Janus may not list it yet. */
  joining: boolean;
  /** Replaced by a newer connection that is connecting: kept (muted) until that one is up. */
  retiring?: boolean;
}

/** What the reconciler needs from the mixer. */
export interface RoomOwner {
  instance(name: string | null): JanusInstance | null;
  /** A live space without a room yet: place it (and create the room). */
  place(space: SpaceRow): Promise<void>;
  createRoom(instance: JanusInstance, room: number): Promise<void>;
  held(spaceId: string): HeldConnection[];
  /** Lets go of a connection the database no longer wants (detaches our handle). */
  release(participantId: string, mixerId: number): Promise<void>;
  /** The space's audience relays, made to match where its listeners are. */
  relays: AudienceRelays;
  /** Instances that serve audiences and are up, for the orphan sweep. */
  edges(): JanusInstance[];
}

export interface ReconcileStats {
  /** Rooms compared with the database. */
  runs: number;
  /** Requests sent to make Janus match (mute, unmute, kick, create, destroy) or records corrected. */
  operations: number;
  /** Of those, what a periodic sweep found drifted (nobody had asked for a change). */
  repairs: number;
  failures: number;
  lastFailure: string | null;
}

export interface ReconcilerOptions {
  /** How often every live room is compared with the database. */
  sweepMs: number;
  /** How long a connection the database expects may be missing from its room before it counts as gone. */
  missingGraceMs: number;
  /** Rooms reconciled at once (each may hold a database connection for its lock). */
  concurrency: number;
}

type Trigger = 'change' | 'sweep';

interface RoomQueue {
  /** A run to do after the current one (a change outranks a sweep). */
  pending: Trigger | null;
  /** Callers waiting for the next run to finish. */
  waiters: (() => void)[];
  drained: Promise<void>;
  markDrained: () => void;
  /** The run's place in the slot queue while it waits for one: a change promotes a sweep's. */
  waitingFor: { trigger: Trigger; go: () => void } | null;
}
const LOCK_NAMESPACE = 0x5ace;

/**
 * Makes each room match the database, like a controller: the desired state is the database's
 * (who holds which mixer id, role, muted, present) through `isHeardAtMixer`; the observed state is
 * Janus's participant list. One run per room at a time on this instance, and across instances
 * under a PostgreSQL advisory lock, so operations on a room never reorder. It runs after every
 * committed change that touches a room, when a Janus (re)connects, and in a periodic sweep that
 * repairs any drift (a lost request, an operator poking Janus).
 */
export class Reconciler {
  readonly stats: ReconcileStats = { runs: 0, operations: 0, repairs: 0, failures: 0, lastFailure: null };
  readonly #rooms = new Map<string, RoomQueue>();
  readonly #missingSince = new Map<string, number>();
  /**
   * When each room was last asked for because of a change, and when its last run began: a sweep
   * that reaches a change before the run it asked for applies that change — not drift.
   */
  readonly #changedAt = new Map<string, number>();
  readonly #lastRunAt = new Map<string, number>();
  /** Runs waiting for a slot: those a change asked for go before the periodic sweep's. */
  readonly #waiting: Record<Trigger, (() => void)[]> = { change: [], sweep: [] };
  #active = 0;
  #sweep: NodeJS.Timeout | null = null;
  #sweeping = false;
  #stopped = false;

  constructor(
    private readonly db: Database,
    /** postgres.js client for the cross-instance lock; absent with PGlite (one process). */
    private readonly sql: postgres.Sql | undefined,
    private readonly audio: AudioState,
    private readonly owner: RoomOwner,
    private readonly options: ReconcilerOptions,
  ) {}

  get missingGraceMs(): number {
    return this.options.missingGraceMs;
  }

  start(): void {
    // A sweep that is still going when the next is due is not doubled up.
    this.#sweep ??= setInterval(() => {
      if (this.#sweeping) return;
      this.#sweeping = true;
      void this.sweep().finally(() => (this.#sweeping = false));
    }, this.options.sweepMs);
    this.#sweep.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#sweep) clearInterval(this.#sweep);
    await Promise.allSettled([...this.#rooms.values()].map((q) => q.drained));
  }

  /**
   * Queues the space's room. Requests coalesce: while a run is going, any number of requests make
   * one more run after it. Resolves once a run that started after this call has finished.
   */
  request(spaceId: string, trigger: Trigger = 'change'): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (trigger === 'change') this.#changedAt.set(spaceId, Date.now());
    let queue = this.#rooms.get(spaceId);
    if (!queue) {
      let drained!: () => void;
      const done = new Promise<void>((resolve) => (drained = resolve));
      queue = { pending: null, waiters: [], drained: done, markDrained: drained, waitingFor: null };
      this.#rooms.set(spaceId, queue);
      void this.#drain(spaceId, queue);
    }
    if (queue.pending !== 'change') queue.pending = trigger;
    // A sweep's run of this room still waiting for a slot will read the change: let it go first.
    const waiting = queue.waitingFor;
    if (trigger === 'change' && waiting?.trigger === 'sweep') {
      const list = this.#waiting.sweep;
      const at = list.indexOf(waiting.go);
      if (at !== -1) {
        list.splice(at, 1);
        this.#waiting.change.push(waiting.go);
        waiting.trigger = 'change';
      }
    }
    return new Promise<void>((resolve) => queue.waiters.push(resolve));
  }

  async #drain(spaceId: string, queue: RoomQueue) {
    await Promise.resolve(); // let the request that created the queue register first
    while (queue.pending && !this.#stopped) {
      const trigger = queue.pending;
      const waiters = queue.waiters.splice(0);
      queue.pending = null;
      await this.#run(spaceId, trigger, queue);
      for (const resolve of waiters) resolve();
    }
    this.#rooms.delete(spaceId);
    for (const resolve of queue.waiters.splice(0)) resolve();
    queue.markDrained();
  }

  /**
   * Compares every live room placed on a connected instance (or on `only`) with the database.
   * Resolves whether a connection the database expects is missing from its room but still
   * within the grace period (a join in flight, or gone: a second sweep after the grace tells).
   */
  async sweep(only?: JanusInstance, trigger: Trigger = 'sweep'): Promise<boolean> {
    const live = await this.db
      .select({ id: spaces.id, instance: spaces.mixerInstance })
      .from(spaces)
      .where(and(eq(spaces.state, 'LIVE'), only ? eq(spaces.mixerInstance, only.name) : undefined))
      .catch((error) => {
        this.#fail(`sweep: ${(error as Error).message}`, error);
        return [];
      });
    const rooms = live.filter((s) => s.instance === null || this.owner.instance(s.instance));
    await Promise.all(rooms.map((s) => this.request(s.id, trigger)));
    if (!only) await this.#removeOrphanMountpoints();
    return this.anyMissing(rooms.map((s) => s.id));
  }

  async #removeOrphanMountpoints() {
    for (const edge of this.owner.edges()) {
      if (this.#stopped) return;
      try {
        const removed = await this.owner.relays.removeOrphans(edge, this.options.missingGraceMs);
        if (removed > 0) {
          this.stats.operations += removed;
          this.stats.repairs += removed;
          console.error(`[mixer] sweep removed ${removed} orphaned mountpoint(s) on "${edge.name}"`);
        }
      } catch (error) {
        this.#fail(`orphan mountpoints on "${edge.name}": ${(error as Error).message}`, error);
      }
    }
  }

  /** Whether a connection the database expects in one of these rooms is missing but within its grace. */
  anyMissing(spaceIds: string[]): boolean {
    const ids = new Set(spaceIds);
    return [...this.#missingSince.keys()].some((key) => ids.has(key.split(':')[0]!));
  }

  async #run(spaceId: string, trigger: Trigger, queue: RoomQueue) {
    await this.#slot(trigger, queue);
    try {
      await this.#locked(spaceId, () => this.#reconcile(spaceId, trigger));
    } catch (error) {
      this.#fail(`room of space ${spaceId}: ${(error as Error).message}`, error);
      // Retried soon by itself, not only at the next sweep.
      if (!this.#stopped) setTimeout(() => void this.request(spaceId), 500).unref();
    } finally {
      this.#release();
    }
  }

  #fail(what: string, error: unknown) {
    this.stats.failures++;
    this.stats.lastFailure = what;
    const expected = error instanceof JanusConnectionError || error instanceof JanusError;
    console.error(`[mixer] reconcile failed: ${what}`, expected ? '' : error);
  }

  async #slot(trigger: Trigger, queue: RoomQueue) {
    if (this.#active < this.options.concurrency) {
      this.#active++;
      return;
    }
    await new Promise<void>((go) => {
      queue.waitingFor = { trigger, go };
      this.#waiting[trigger].push(go);
    });
    queue.waitingFor = null;
  }

  #release() {
    const next = this.#waiting.change.shift() ?? this.#waiting.sweep.shift();
    if (next) next();
    else this.#active--;
  }

  async #locked(spaceId: string, work: () => Promise<void>) {
    if (!this.sql) return work();
    await this.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext(${spaceId}))`;
      await work();
    });
  }

  async #reconcile(spaceId: string, trigger: Trigger) {
    const startedAt = Date.now();
    const [space] = await this.db.select().from(spaces).where(eq(spaces.id, spaceId));
    if (!space) return;
    this.stats.runs++;
    if (trigger === 'sweep' && (this.#changedAt.get(spaceId) ?? 0) >= (this.#lastRunAt.get(spaceId) ?? 0)) trigger = 'change';
    this.#lastRunAt.set(spaceId, startedAt);
    if (space.state !== 'LIVE') {
      this.#changedAt.delete(spaceId);
      this.#lastRunAt.delete(spaceId);
    }
    const count = (what: string) => {
      this.stats.operations++;
      if (trigger === 'sweep') {
        this.stats.repairs++;
        console.error(`[mixer] sweep repaired drift in the room of space ${spaceId}: ${what}`);
      }
    };
    if (space.mixerRoom === null) {
      if (space.state === 'LIVE') await this.owner.place(space);
      return;
    }
    const room = space.mixerRoom;
    const instance = this.owner.instance(space.mixerInstance);
    // What is observed is read before what is wanted. A join records its connection before it
    // joins (and before this instance holds it), so anything listed or held here is already in
    // the rows read below: reading the rows first, a join landing in between was kicked as no
    // one's, and its handle released as replaced.
    const allHeld = this.owner.held(spaceId);
    let observed: AudioBridgeParticipant[] = [];
    if (space.state === 'LIVE' && instance) {
      try {
        observed = await instance.control!.listParticipants(room);
      } catch (error) {
        if (!(error instanceof JanusError && error.kind === 'no-such-room')) throw error;
        await this.owner.createRoom(instance, room);
        count('created the missing room');
      }
    }
    const connected = await this.db
      .select()
      .from(participants)
      .where(and(eq(participants.spaceId, spaceId), isNotNull(participants.mixerParticipantId)));
    // The room holds stage seats; audience connections are viewers of the relays.
    const rows = connected.filter((r) => r.audioTier !== 'AUDIENCE');
    const held = allHeld.filter((c) => c.tier === 'STAGE');

    // Our audience connections the database no longer wants (left, replaced, moved).
    for (const c of allHeld) {
      if (c.tier !== 'AUDIENCE' || c.joining) continue;
      const row = connected.find((r) => r.id === c.participantId);
      const gone = !row || row.leftAt !== null;
      if (c.retiring ? gone : gone || row.mixerParticipantId !== c.mixerId || row.audioTier !== 'AUDIENCE') {
        await this.owner.release(c.participantId, c.mixerId);
      }
    }

    if (space.state !== 'LIVE') {
      for (const c of held) await this.owner.release(c.participantId, c.mixerId);
      for (const row of connected) await this.audio.forget(row.id, row.mixerParticipantId);
      for (const what of await this.owner.relays.reconcile(space, instance)) count(what);
      if (instance) {
        try {
          await instance.control!.destroy(room, { secret: instance.roomSecret(room) });
          count('destroyed the room of an ended space');
        } catch (error) {
          if (!(error instanceof JanusError && error.kind === 'no-such-room')) throw error;
        }
      }
      return;
    }
    if (!instance) return; // down: its loss was recorded; restored when it is back

    const expected = new Map(rows.filter((r) => r.leftAt === null).map((r) => [r.mixerParticipantId!, r]));
    const secret = instance.roomSecret(room);
    // Retired since the listing too: replaced while this run read the rows.
    const retiring = new Set(
      this.owner
        .held(spaceId)
        .filter((c) => c.tier === 'STAGE' && c.retiring)
        .map((c) => c.mixerId),
    );
    for (const p of observed) {
      const row = expected.get(p.id);
      if (!row && retiring.has(p.id)) {
        // Ours, replaced, playing until its successor is up: never heard meanwhile.
        if (!p.muted) {
          await this.#tolerate(instance.control!.mute(room, p.id, { secret }), 'no-such-user');
          count(`muted a replaced connection ${p.id}`);
        }
        continue;
      }
      if (!row) {
        await this.#tolerate(instance.control!.kick(room, p.id, { secret }), 'no-such-user');
        count(`kicked ${p.id} (no participant holds it)`);
        continue;
      }
      const heard = isHeardAtMixer({ role: row.role as Role, muted: row.muted, present: true });
      if (p.muted === heard) {
        if (heard) await this.#tolerate(instance.control!.unmute(room, p.id, { secret }), 'no-such-user');
        else await this.#tolerate(instance.control!.mute(room, p.id, { secret }), 'no-such-user');
        count(`${heard ? 'unmuted' : 'muted'} participant ${row.id}`);
      }
    }

    // Connections the database expects but Janus does not have: gone, once missing for a while
    // (a join in flight is not listed yet).
    const listed = new Set(observed.map((p) => p.id));
    const now = Date.now();
    for (const row of expected.values()) {
      const key = `${spaceId}:${row.id}:${row.mixerParticipantId}`;
      if (listed.has(row.mixerParticipantId!) || held.some((c) => c.participantId === row.id && c.joining)) {
        this.#missingSince.delete(key);
        continue;
      }
      const since = this.#missingSince.get(key) ?? now;
      this.#missingSince.set(key, since);
      if (now - since >= this.options.missingGraceMs) {
        this.#missingSince.delete(key);
        await this.audio.forget(row.id, row.mixerParticipantId);
        count(`recorded participant ${row.id}'s audio as gone`);
      }
    }
    // Left participants' records, and anyone not heard marked speaking.
    for (const row of connected) if (row.leftAt !== null) await this.audio.forget(row.id, row.mixerParticipantId);
    const quiet = await this.db
      .select({ id: participants.id, role: participants.role, muted: participants.muted })
      .from(participants)
      .where(and(eq(participants.spaceId, spaceId), eq(participants.speaking, true)));
    for (const q of quiet)
      if (!isHeardAtMixer({ role: q.role as Role, muted: q.muted, present: true })) await this.audio.quiet(q.id);

    // Our own handles that no longer hold the participant's connection.
    for (const c of held) {
      const row = connected.find((r) => r.id === c.participantId);
      const gone = !row || row.leftAt !== null;
      if (!c.joining && (c.retiring ? gone : gone || row.mixerParticipantId !== c.mixerId)) await this.owner.release(c.participantId, c.mixerId);
    }

    // The relays of the room's mix to the edges its listeners are on.
    for (const what of await this.owner.relays.reconcile(space, instance)) count(what);
  }

  /** A request whose named failure means there is nothing left to do (e.g. the user already left). */
  async #tolerate(request: Promise<void>, kind: JanusError['kind']) {
    try {
      await request;
    } catch (error) {
      if (!(error instanceof JanusError && error.kind === kind)) throw error;
    }
  }

  /** For tests and benchmarks: resolves once the room has been compared after this call. */
  settled(spaceId: string): Promise<void> {
    return this.request(spaceId);
  }
}
