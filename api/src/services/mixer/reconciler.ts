import { and, eq, isNotNull } from 'drizzle-orm';
import type postgres from 'postgres';
import { participants, spaces, type Database } from '@spaces/db';
import { JanusConnectionError, JanusError, type AudioBridgeParticipant } from '@spaces/janus';
import { isHeardAtMixer, type Role } from '../../domain/rules.ts';
import type { SpaceRow } from '../spaces/reads.ts';
import type { AudioState } from './audio-state.ts';
import type { JanusInstance } from './instances.ts';

/** A connection this API instance holds (its Janus handle), as the reconciler sees it. */
export interface HeldConnection {
  participantId: string;
  spaceId: string;
  mixerId: number;
  /** Joining: Janus may not list it yet. */
  joining: boolean;
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
const LOCK_NAMESPACE = 0x5ace;
const RECENT_CHANGE_MS = 1_000;

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
  readonly #rooms = new Map<string, { running: Promise<void>; again: Trigger | null }>();
  readonly #missingSince = new Map<string, number>();
  /** When each room was last asked for because of a change: a sweep right after one is not a repair. */
  readonly #changedAt = new Map<string, number>();
  readonly #waiting: (() => void)[] = [];
  #active = 0;
  #sweep: NodeJS.Timeout | null = null;
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
    this.#sweep ??= setInterval(() => void this.sweep(), this.options.sweepMs);
    this.#sweep.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#sweep) clearInterval(this.#sweep);
    await Promise.allSettled([...this.#rooms.values()].map((r) => r.running));
  }

  /** Queue the space's room; runs coalesce (a request while one runs makes one more run after it). */
  request(spaceId: string, trigger: Trigger = 'change'): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (trigger === 'change') this.#changedAt.set(spaceId, Date.now());
    const queued = this.#rooms.get(spaceId);
    if (queued) {
      if (queued.again !== 'change') queued.again = trigger;
      return queued.running;
    }
    const entry = { running: Promise.resolve(), again: null as Trigger | null };
    entry.running = (async () => {
      let next: Trigger | null = trigger;
      while (next && !this.#stopped) {
        entry.again = null;
        await this.#run(spaceId, next);
        next = entry.again;
      }
      this.#rooms.delete(spaceId);
    })();
    this.#rooms.set(spaceId, entry);
    return entry.running;
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
    const ids = new Set(rooms.map((s) => s.id));
    return [...this.#missingSince.keys()].some((key) => ids.has(key.split(':')[0]!));
  }

  async #run(spaceId: string, trigger: Trigger) {
    await this.#slot();
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

  async #slot() {
    if (this.#active < this.options.concurrency) {
      this.#active++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release() {
    const next = this.#waiting.shift();
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
    const [space] = await this.db.select().from(spaces).where(eq(spaces.id, spaceId));
    if (!space) return;
    this.stats.runs++;
    // A sweep that overtakes the run a fresh change asked for applies that change: not drift.
    if (trigger === 'sweep' && Date.now() - (this.#changedAt.get(spaceId) ?? 0) < RECENT_CHANGE_MS) trigger = 'change';
    if (space.state !== 'LIVE') this.#changedAt.delete(spaceId);
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
    const rows = await this.db
      .select()
      .from(participants)
      .where(and(eq(participants.spaceId, spaceId), isNotNull(participants.mixerParticipantId)));
    const held = this.owner.held(spaceId);
    const instance = this.owner.instance(space.mixerInstance);

    if (space.state !== 'LIVE') {
      for (const c of held) await this.owner.release(c.participantId, c.mixerId);
      for (const row of rows) await this.audio.forget(row.id, row.mixerParticipantId);
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

    let observed: AudioBridgeParticipant[];
    try {
      observed = await instance.control!.listParticipants(room);
    } catch (error) {
      if (!(error instanceof JanusError && error.kind === 'no-such-room')) throw error;
      await this.owner.createRoom(instance, room);
      count('created the missing room');
      observed = [];
    }

    const expected = new Map(rows.filter((r) => r.leftAt === null).map((r) => [r.mixerParticipantId!, r]));
    const secret = instance.roomSecret(room);
    for (const p of observed) {
      const row = expected.get(p.id);
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
    for (const row of rows) if (row.leftAt !== null) await this.audio.forget(row.id, row.mixerParticipantId);
    const quiet = await this.db
      .select({ id: participants.id, role: participants.role, muted: participants.muted })
      .from(participants)
      .where(and(eq(participants.spaceId, spaceId), eq(participants.speaking, true)));
    for (const q of quiet)
      if (!isHeardAtMixer({ role: q.role as Role, muted: q.muted, present: true })) await this.audio.quiet(q.id);

    // Our own handles that no longer hold the participant's connection.
    for (const c of held) {
      const row = rows.find((r) => r.id === c.participantId);
      if (!c.joining && (!row || row.leftAt !== null || row.mixerParticipantId !== c.mixerId)) await this.owner.release(c.participantId, c.mixerId);
    }
  }

  /** A request whose named failure means there is nothing left to do (e.g. the user already left). */
  async #tolerate(request: Promise<void>, kind: JanusError['kind']) {
    try {
      await request;
    } catch (error) {
      if (!(error instanceof JanusError && error.kind === kind)) throw error;
    }
  }

  /** For tests and benchmarks: resolves when the room has no run queued or running. */
  async settled(spaceId: string): Promise<void> {
    while (this.#rooms.has(spaceId)) await this.#rooms.get(spaceId)!.running;
  }
}
