import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import { and, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import { audienceRelays, participants, type Database } from '@spaces/db';
import { JanusError } from '@spaces/janus';
import type { SpaceRow } from '../spaces/reads.ts';
import type { JanusInstance } from './instances.ts';

export type RelayRow = typeof audienceRelays.$inferSelect;

/** What relays need from the mixer: instances by name. */
export interface RelayOwner {
  instance(name: string | null): JanusInstance | null;
  /** Every configured instance, up or down. */
  all(): JanusInstance[];
}

const newMountpointId = () => randomInt(1, 2 ** 47);
/**
 * Helper threads of each relay mountpoint: 0, the mountpoint's own thread relays to every viewer.
 * Measured (`pnpm bench`, audience.ts): helper threads made no difference at 400 viewers, the cost
 * is in Janus's per-connection loops (event_loops), so none are spent.
 */
export const RELAY_MOUNTPOINT_THREADS = 0;
/** Mountpoints of ours carry this description, so orphans can be told from an operator's own. */
const DESCRIPTION = 'spaces-relay';

/**
 * The audience tier's plumbing, and the only writer of `audience_relays`: for every edge that has
 * listeners of a live space, a Streaming mountpoint on that edge fed by an `rtp_forward` of the
 * space's AudioBridge room. Desired state comes from the database (where listeners are placed);
 * the reconciler calls `reconcile` under the room's lock, so runs for a space never interleave.
 * The forwarded mix is the room's own: it only ever carries who `isHeardAtMixer` lets through.
 */
export class AudienceRelays {
  /** Unrecorded mountpoints and when first seen: one may be mid-creation, so it gets a grace period. */
  readonly #unrecordedSince = new Map<string, number>();

  constructor(
    private readonly db: Database,
    private readonly owner: RelayOwner,
  ) {}

  /** The relay of a space on an edge, once it exists. */
  async of(spaceId: string, edge: string): Promise<RelayRow | null> {
    const [row] = await this.db
      .select()
      .from(audienceRelays)
      .where(and(eq(audienceRelays.spaceId, spaceId), eq(audienceRelays.instance, edge)));
    return row ?? null;
  }

  /** Listeners placed on each edge (any space), for placing the next one. */
  async loadByEdge(): Promise<Map<string, number>> {
    const rows = await this.db
      .select({ edge: participants.audioInstance, n: sql<number>`count(*)::int` })
      .from(participants)
      .where(and(eq(participants.audioTier, 'AUDIENCE'), isNotNull(participants.audioInstance)))
      .groupBy(participants.audioInstance);
    return new Map(rows.map((r) => [r.edge!, Number(r.n)]));
  }

  /**
   * Makes a space's relays match where its listeners are. Returns what it did, one line each, for
   * the reconciler's counters. `mix` is the instance with the space's room (null while down).
   */
  async reconcile(space: SpaceRow, mix: JanusInstance | null): Promise<string[]> {
    const done: string[] = [];
    const rows = await this.db.select().from(audienceRelays).where(eq(audienceRelays.spaceId, space.id));
    const wanted = new Set<string>();
    if (space.state === 'LIVE') {
      const edges = await this.db
        .selectDistinct({ edge: participants.audioInstance })
        .from(participants)
        .where(
          and(
            eq(participants.spaceId, space.id),
            eq(participants.audioTier, 'AUDIENCE'),
            isNull(participants.leftAt),
            isNotNull(participants.audioInstance),
          ),
        );
      for (const { edge } of edges) if (edge) wanted.add(edge);
    }

    // Relays nobody listens to any more (or of an ended space, or on an edge no longer configured).
    for (const row of rows.filter((r) => !wanted.has(r.instance))) {
      await this.#remove(row, mix, space);
      done.push(`removed the relay on "${row.instance}"`);
    }

    const room = space.mixerRoom;
    const forwarders = mix && room !== null ? await this.#forwarders(mix, room) : null;
    // The forwards the relays kept after this run stand for (the rest from the room are orphans).
    const recorded = new Set(rows.filter((r) => wanted.has(r.instance) && r.forwarder !== null).map((r) => r.forwarder!));
    for (const edgeName of wanted) {
      const edge = this.owner.instance(edgeName);
      if (!edge?.relays) continue; // down: its listeners were told to reconnect elsewhere
      let row = rows.find((r) => r.instance === edgeName) ?? null;
      if (row && !(await this.#mountpointExists(edge, row.mountpoint))) {
        // The edge restarted: its mountpoint went with it (and the forward into it is useless).
        await this.#stopForward(mix, room, row.forwarder);
        if (row.forwarder !== null) recorded.delete(row.forwarder);
        await this.db.delete(audienceRelays).where(and(eq(audienceRelays.spaceId, space.id), eq(audienceRelays.instance, edgeName)));
        row = null;
        done.push(`recreating the lost mountpoint on "${edgeName}"`);
      }
      if (!row) {
        row = await this.#create(space.id, edge);
        done.push(`created a relay on "${edgeName}"`);
      }
      // The mix may have gone down since this run began (a Janus restart): then the next run forwards.
      const control = mix?.control;
      if (mix && control && room !== null && forwarders && (row.forwarder === null || !forwarders.has(row.forwarder))) {
        const forwarder = await control.rtpForward({
          room,
          host: edge.rtpHost,
          port: row.port,
          ptype: 111,
          codec: 'opus',
          always_on: true,
          secret: mix.roomSecret(room),
        });
        await this.db
          .update(audienceRelays)
          .set({ forwarder: forwarder.stream_id })
          .where(and(eq(audienceRelays.spaceId, space.id), eq(audienceRelays.instance, edgeName)));
        forwarders.add(forwarder.stream_id);
        recorded.add(forwarder.stream_id);
        row = { ...row, forwarder: forwarder.stream_id };
        done.push(`forwarding the mix to "${edgeName}"`);
      }
    }

    // Forwards from the room that no relay stands for (left by a crash, or by a lost edge).
    if (mix && room !== null && forwarders) {
      for (const id of forwarders) {
        if (recorded.has(id)) continue;
        await this.#stopForward(mix, room, id);
        done.push(`stopped an orphaned forward ${id}`);
      }
    }
    return done;
  }

  /** An edge went away: its relays are gone with it (the forwards into it become orphans to stop). */
  async forgetEdge(edge: string): Promise<string[]> {
    const gone = await this.db.delete(audienceRelays).where(eq(audienceRelays.instance, edge)).returning({ spaceId: audienceRelays.spaceId });
    return gone.map((g) => g.spaceId);
  }

  /** Mountpoints of ours on an edge that no relay stands for (a crash between create and record). */
  async removeOrphans(edge: JanusInstance, graceMs: number): Promise<number> {
    if (!edge.relays) return 0;
    const listed = (await edge.relays.list()).filter((m) => m.description === DESCRIPTION);
    if (listed.length === 0) return 0;
    const known = new Set(
      (
        await this.db
          .select({ m: audienceRelays.mountpoint })
          .from(audienceRelays)
          .where(and(eq(audienceRelays.instance, edge.name), inArray(audienceRelays.mountpoint, listed.map((m) => m.id))))
      ).map((r) => r.m),
    );
    let removed = 0;
    const now = Date.now();
    for (const m of listed) {
      const key = `${edge.name}:${m.id}`;
      if (known.has(m.id)) {
        this.#unrecordedSince.delete(key);
        continue;
      }
      const since = this.#unrecordedSince.get(key) ?? now;
      this.#unrecordedSince.set(key, since);
      if (now - since < graceMs) continue;
      this.#unrecordedSince.delete(key);
      await this.#destroyMountpoint(edge, m.id);
      removed++;
    }
    return removed;
  }

  async #create(spaceId: string, edge: JanusInstance): Promise<RelayRow> {
    const id = newMountpointId();
    const { port } = await edge.relays!.createRtpAudio({
      id,
      description: DESCRIPTION,
      secret: edge.mountpointSecret(id),
      pin: edge.mountpointPin(id),
      is_private: true,
      // Bind where the forwarded mix arrives when that is an address (never all interfaces needlessly).
      ...(isIP(edge.rtpHost) ? { iface: edge.rtpHost } : {}),
      threads: RELAY_MOUNTPOINT_THREADS,
    });
    const [row] = await this.db.insert(audienceRelays).values({ spaceId, instance: edge.name, mountpoint: id, port }).returning();
    return row!;
  }

  async #remove(row: RelayRow, mix: JanusInstance | null, space: SpaceRow) {
    await this.#stopForward(mix, space.mixerRoom, row.forwarder);
    const edge = this.owner.instance(row.instance);
    if (edge) await this.#destroyMountpoint(edge, row.mountpoint);
    await this.db.delete(audienceRelays).where(and(eq(audienceRelays.spaceId, row.spaceId), eq(audienceRelays.instance, row.instance)));
  }

  /** The room's forwards; null when the mix is down (it went down after this run began). */
  async #forwarders(mix: JanusInstance, room: number): Promise<Set<number> | null> {
    const control = mix.control;
    if (!control) return null;
    try {
      return new Set((await control.listForwarders(room, { secret: mix.roomSecret(room) })).map((f) => f.stream_id));
    } catch (error) {
      // The room is being recreated by the reconciler: nothing is forwarded from it yet.
      if (error instanceof JanusError && error.kind === 'no-such-room') return new Set();
      throw error;
    }
  }

  async #stopForward(mix: JanusInstance | null, room: number | null, forwarder: number | null) {
    if (!mix?.control || room === null || forwarder === null) return;
    try {
      await mix.control.stopRtpForward(room, forwarder, { secret: mix.roomSecret(room) });
    } catch (error) {
      // Gone already (the room was destroyed or recreated): nothing to stop.
      if (!(error instanceof JanusError && (error.kind === 'no-such-room' || error.kind === 'invalid-element' || error.kind === 'no-such-user')))
        throw error;
    }
  }

  async #mountpointExists(edge: JanusInstance, id: number): Promise<boolean> {
    try {
      await edge.relays!.info(id, { secret: edge.mountpointSecret(id) });
      return true;
    } catch (error) {
      if (error instanceof JanusError && error.kind === 'no-such-mountpoint') return false;
      throw error;
    }
  }

  async #destroyMountpoint(edge: JanusInstance, id: number) {
    try {
      await edge.relays?.destroy(id, { secret: edge.mountpointSecret(id) });
    } catch (error) {
      if (!(error instanceof JanusError && error.kind === 'no-such-mountpoint')) throw error;
    }
  }
}
