import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, asc, desc, eq, gt, inArray, lte, or, sql } from 'drizzle-orm';
import { fleetReplies, fleetUploads, fleetViews, fleets, follows, users, type Database } from '@spaces/db';
import {
  canReplyToFleet,
  FLEET_TEXT_MAX,
  FLEET_TTL_MS,
  isReaction,
  REACTIONS,
  replyRefusal,
  type ReplyPolicy,
} from '../domain/rules.ts';
import { cleanLine } from '../domain/text.ts';
import { appError, badInput, conflict, forbidden, notFound } from '../errors.ts';
import { decodeCursor, toPage, type Page } from '../lib/pagination.ts';
import type { SpacesPubSub } from '../pubsub.ts';
import { userColumns, type UserRow } from './accounts.ts';
import { renderImage } from './images.ts';
import type { Limits } from './limits.ts';
import type { MediaStore } from './media-storage.ts';
import type { Notifications } from './notifications.ts';
import type { SpaceRow } from './spaces/index.ts';

export type FleetRow = typeof fleets.$inferSelect;
export type FleetReplyRow = typeof fleetReplies.$inferSelect;
export type FleetBackground = FleetRow['background'];

/** The API's clock in epoch milliseconds: every expiry decision reads it (tests move it). */
export type Clock = () => number;

/** Uploads larger than this are refused before they are read to the end. */
export const FLEET_PHOTO_MAX_BYTES = 8 * 1024 * 1024;
/** Decoded size limit (decompression bombs); sharp refuses to decode past it. */
export const FLEET_PHOTO_MAX_PIXELS = 40_000_000;
/** The photo is resized to fit this box (never enlarged), portrait like a phone screen. */
export const FLEET_PHOTO_BOX = { width: 1080, height: 1920 } as const;
/** How long an uploaded photo waits for its postFleet. */
export const FLEET_UPLOAD_TTL_MS = 3_600_000;

/** Served fleet photos: the expiry (epoch seconds) is in the key, so GET refuses them once expired. */
const PHOTO_KEY = /^fleets\/(\d{1,12})-[0-9a-f]{32}-1080\.webp$/;
/** A photo uploaded and not yet posted: never served. */
const UPLOAD_FOLDER = 'fleet-uploads/';

/** One author on the viewer's fleets bar. */
export interface FleetAuthorEntry {
  authorId: string;
  /** Their active fleets, oldest first (the order they are shown in). */
  fleets: FleetRow[];
  hasUnseen: boolean;
}

export interface PostFleetInput {
  text?: string | null;
  background?: FleetBackground | null;
  photoUploadId?: string | null;
  caption?: string | null;
  replyPolicy?: ReplyPolicy | null;
  spaceId?: string | null;
}

export interface FleetsOptions {
  clock: Clock;
  /** Signs upload ids (Config.uploadSecret). */
  uploadSecret: string;
  /** A bar subscription re-checks its fleets' expiry at least this often (the clock may jump in tests). */
  expiryCheckMs: number;
  /** The LIVE space a user hosts or is on stage in ("I'm live" shares). */
  liveSpaceOf: (userId: string) => Promise<SpaceRow | null>;
  spaceById: (spaceId: string) => Promise<SpaceRow | null>;
}

/**
 * Fleets: text or photo posts that live 24 hours. Expiry is a filter on every read
 * (`expires_at > clock()`), never the sweeper's job; the sweeper only deletes what expired, with
 * its files. Posting and deleting publish on the `fleets` topic, which reaches every instance's
 * bar subscriptions; each subscription also times the next expiry among what it shows.
 */
export class Fleets {
  constructor(
    private readonly db: Database,
    readonly media: MediaStore,
    private readonly pubsub: SpacesPubSub,
    private readonly limits: Limits,
    private readonly notifications: Notifications,
    readonly options: FleetsOptions,
  ) {}

  get now(): Date {
    return new Date(this.options.clock());
  }

  private active() {
    return gt(fleets.expiresAt, this.now);
  }

  /* ---- Photos ---- */

  /**
   * Renders an uploaded photo (fit into 1080×1920, WebP, metadata dropped), stores it aside and
   * returns a signed upload id for postFleet: `<id>.<expiry s>.<HMAC of id, user, expiry>`.
   */
  async uploadPhoto(userId: string, upload: Uint8Array): Promise<{ uploadId: string; expiresAt: Date }> {
    await this.limits.user('fleetPhoto', userId);
    const { photo } = await renderImage(
      upload,
      { field: 'photo', maxBytes: FLEET_PHOTO_MAX_BYTES, maxPixels: FLEET_PHOTO_MAX_PIXELS },
      { photo: { ...FLEET_PHOTO_BOX, fit: 'inside', quality: 80 } },
    );
    const id = randomBytes(16).toString('hex');
    const mediaKey = `${UPLOAD_FOLDER}${id}.webp`;
    const expiresAt = new Date(this.options.clock() + FLEET_UPLOAD_TTL_MS);
    await this.media.put(mediaKey, photo, 'image/webp');
    try {
      await this.db.insert(fleetUploads).values({ id, userId, mediaKey, expiresAt });
    } catch (error) {
      await this.deleteFile(mediaKey);
      throw error;
    }
    const seconds = Math.floor(expiresAt.getTime() / 1000);
    return { uploadId: `${id}.${seconds}.${this.sign(id, userId, seconds)}`, expiresAt };
  }

  private sign(id: string, userId: string, seconds: number): string {
    return createHmac('sha256', this.options.uploadSecret).update(`fleet-upload\n${id}\n${userId}\n${seconds}`).digest('base64url').slice(0, 32);
  }

  /** The upload's id if the signature, the user and the expiry check out; BAD_USER_INPUT otherwise. */
  private verifyUpload(userId: string, uploadId: string): string {
    const refused = (why: string) => appError('BAD_USER_INPUT', `photoUploadId: ${why}`, { field: 'photoUploadId' });
    const match = /^([0-9a-f]{32})\.(\d{1,12})\.([A-Za-z0-9_-]{32})$/.exec(uploadId);
    if (!match) throw refused('not an upload id from POST /media/fleet-photo');
    const [, id, secondsText, signature] = match as unknown as [string, string, string, string];
    const expected = Buffer.from(this.sign(id, userId, Number(secondsText)));
    if (!timingSafeEqual(expected, Buffer.from(signature))) throw refused('not an upload of yours');
    if (Number(secondsText) * 1000 <= this.options.clock()) throw refused('the upload expired (they last an hour): upload the photo again');
    return id;
  }

  /** Whether GET /media may serve this key now: fleet photos until their fleet expires, pending uploads never. */
  mayServe(key: string): boolean {
    if (key.startsWith(UPLOAD_FOLDER)) return false;
    if (!key.startsWith('fleets/')) return true;
    const match = PHOTO_KEY.exec(key);
    return !!match && Number(match[1]) * 1000 > this.options.clock();
  }

  /** Seconds a served fleet photo may be cached: until it expires. */
  cacheSecondsOf(key: string): number | null {
    const match = PHOTO_KEY.exec(key);
    return match ? Math.max(0, Math.floor(Number(match[1]) - this.options.clock() / 1000)) : null;
  }

  photoUrl(fleet: Pick<FleetRow, 'photoKey'>): string | null {
    return fleet.photoKey ? this.media.urlOf(fleet.photoKey) : null;
  }

  /* ---- Posting ---- */

  async post(author: UserRow, input: PostFleetInput): Promise<FleetRow> {
    const text = optionalText('text', input.text);
    const caption = optionalText('caption', input.caption);
    const hasPhoto = input.photoUploadId !== null && input.photoUploadId !== undefined;
    if (hasPhoto && text !== null) throw badInput('text', 'a fleet is a text or a photo, not both (use caption with a photo)');
    if (!hasPhoto && caption !== null) throw badInput('caption', 'only a photo has a caption');
    if (!hasPhoto && text === null && !input.spaceId) throw badInput('text', 'give a text or a photoUploadId (or share a live space)');
    let space: SpaceRow | null = null;
    if (input.spaceId) {
      space = await this.options.spaceById(input.spaceId);
      if (!space) throw notFound('No such space.');
      if (space.state !== 'LIVE') throw conflict('Only a live space can be shared into a fleet.');
      const mine = await this.options.liveSpaceOf(author.id);
      if (mine?.id !== space.id) throw forbidden('Only the host or someone on its stage can share a live space ("I\'m live").');
    }
    const uploadId = hasPhoto ? this.verifyUpload(author.id, input.photoUploadId!) : null;
    await this.limits.user('postFleet', author.id);
    const createdAt = this.now;
    const expiresAt = new Date(createdAt.getTime() + FLEET_TTL_MS);
    let photoKey: string | null = null;
    if (uploadId) {
      // Consumed once: the row goes in the same statement that proves it was still there.
      const [upload] = await this.db
        .delete(fleetUploads)
        .where(and(eq(fleetUploads.id, uploadId), eq(fleetUploads.userId, author.id), gt(fleetUploads.expiresAt, createdAt)))
        .returning();
      if (!upload)
        throw appError('BAD_USER_INPUT', 'photoUploadId: this upload was already used or has expired', { field: 'photoUploadId' });
      const bytes = await this.media.get(upload.mediaKey);
      if (!bytes) throw appError('BAD_USER_INPUT', 'photoUploadId: the upload is gone; upload the photo again', { field: 'photoUploadId' });
      // The served key carries the expiry, so GET /media refuses it from then on, swept or not.
      photoKey = `fleets/${Math.floor(expiresAt.getTime() / 1000)}-${randomBytes(16).toString('hex')}-1080.webp`;
      await this.media.put(photoKey, bytes, 'image/webp');
      await this.deleteFile(upload.mediaKey);
    }
    try {
      const [fleet] = await this.db
        .insert(fleets)
        .values({
          authorId: author.id,
          kind: photoKey ? 'PHOTO' : 'TEXT',
          text: photoKey ? null : text,
          background: input.background ?? 'BLUE',
          photoKey,
          caption: photoKey ? caption : null,
          replyPolicy: input.replyPolicy ?? author.fleetReplyPolicy,
          spaceId: space?.id ?? null,
          createdAt,
          expiresAt,
        })
        .returning();
      this.changed(author.id);
      return fleet!;
    } catch (error) {
      if (photoKey) await this.deleteFile(photoKey);
      throw error;
    }
  }

  /** The author only (FORBIDDEN otherwise); the photo is deleted with it. */
  async delete(userId: string, fleetId: string): Promise<void> {
    const fleet = await this.byId(fleetId);
    if (!fleet) throw notFound('No such fleet.');
    if (fleet.authorId !== userId) throw forbidden('Only its author can delete a fleet.');
    const [deleted] = await this.db.delete(fleets).where(eq(fleets.id, fleetId)).returning();
    if (deleted?.photoKey) await this.deleteFile(deleted.photoKey);
    this.changed(userId);
  }

  async setDefaultReplyPolicy(userId: string, policy: ReplyPolicy): Promise<UserRow> {
    const [user] = await this.db.update(users).set({ fleetReplyPolicy: policy }).where(eq(users.id, userId)).returning(userColumns);
    if (!user) throw notFound('No such user.');
    return user;
  }

  /** Idempotent; the author's own views are not counted. NOT_FOUND for an expired or deleted fleet. */
  async markSeen(viewerId: string, fleetId: string): Promise<FleetRow> {
    const fleet = await this.byId(fleetId);
    if (!fleet) throw notFound('No such fleet.');
    if (fleet.authorId !== viewerId) {
      const inserted = await this.db
        .insert(fleetViews)
        .values({ fleetId, viewerId, viewedAt: this.now })
        .onConflictDoNothing()
        .returning({ fleetId: fleetViews.fleetId });
      // The viewer's own bar changes (the author's ring may turn seen), on whichever instance holds it.
      if (inserted.length > 0) this.pubsub.publish('fleets', { authorId: fleet.authorId, seenBy: viewerId, at: new Date().toISOString() });
    }
    return fleet;
  }

  /* ---- Replies ---- */

  async replyFacts(viewer: UserRow | null, fleet: FleetRow) {
    const authorFollows =
      !!viewer &&
      viewer.id !== fleet.authorId &&
      (await this.db
        .select({ one: sql`1` })
        .from(follows)
        .where(and(eq(follows.followerId, fleet.authorId), eq(follows.followeeId, viewer.id)))
        .limit(1)).length > 0;
    return {
      signedIn: !!viewer,
      isGuest: !!viewer?.isGuest,
      isAuthor: viewer?.id === fleet.authorId,
      policy: fleet.replyPolicy,
      authorFollows,
    };
  }

  /**
   * A private reply (text) or reaction (one of the space reactions) to the author, who gets a
   * FLEET_REPLY notification. The fleet's reply policy decides (domain/rules.ts canReplyToFleet).
   */
  async reply(viewer: UserRow, fleetId: string, input: { text?: string | null; emoji?: string | null }): Promise<FleetReplyRow> {
    const text = optionalText('text', input.text);
    const emoji = input.emoji ?? null;
    if ((text === null) === (emoji === null)) throw badInput('text', 'give exactly one of text or emoji');
    if (emoji !== null && !isReaction(emoji)) throw badInput('emoji', `must be one of ${REACTIONS.join(' ')}`);
    const fleet = await this.byId(fleetId);
    if (!fleet) throw notFound('No such fleet.');
    const facts = await this.replyFacts(viewer, fleet);
    const verdict = canReplyToFleet(facts);
    if (!verdict.ok) throw appError(verdict.code, verdict.reason, { reason: replyRefusal(facts) });
    await this.limits.user('replyToFleet', viewer.id);
    const [reply] = await this.db
      .insert(fleetReplies)
      .values({ fleetId, authorId: viewer.id, text, emoji, createdAt: this.now })
      .returning();
    await this.notifications
      .deliver({ kind: 'FLEET_REPLY', actorId: viewer.id, spaceId: null, fleetId, to: { users: [fleet.authorId] } })
      .catch((error) => console.error('[fleets] reply notification failed', error));
    return reply!;
  }

  /** The fleet's replies, newest first (for its author: the schema checks). */
  async replies(fleetId: string, first: number, after: string | null | undefined): Promise<Page<FleetReplyRow>> {
    const cursor = decodeCursor(after, ['timestamp', 'uuid']);
    const rows = await this.db
      .select()
      .from(fleetReplies)
      .where(
        and(
          eq(fleetReplies.fleetId, fleetId),
          cursor ? sql`(${fleetReplies.createdAt}, ${fleetReplies.id}) < (${cursor[0]}::timestamptz, ${cursor[1]}::uuid)` : undefined,
        ),
      )
      .orderBy(desc(fleetReplies.createdAt), desc(fleetReplies.id))
      .limit(first + 1);
    return toPage(rows, first, (r) => [r.createdAt.toISOString(), r.id]);
  }

  /** A reply, for the fleet's author or the reply's author only, while the fleet is active. */
  async replyByIdFor(viewerId: string | null, id: string): Promise<FleetReplyRow | null> {
    if (!viewerId) return null;
    const [row] = await this.db
      .select({ reply: fleetReplies })
      .from(fleetReplies)
      .innerJoin(fleets, eq(fleets.id, fleetReplies.fleetId))
      .where(and(eq(fleetReplies.id, id), this.active(), or(eq(fleets.authorId, viewerId), eq(fleetReplies.authorId, viewerId))));
    return row?.reply ?? null;
  }

  /* ---- Reads (active fleets only) ---- */

  async byId(id: string): Promise<FleetRow | null> {
    const [row] = await this.db.select().from(fleets).where(and(eq(fleets.id, id), this.active()));
    return row ?? null;
  }

  async byIds(ids: readonly string[]): Promise<(FleetRow | null)[]> {
    const rows = await this.db.select().from(fleets).where(and(inArray(fleets.id, [...ids]), this.active()));
    return ids.map((id) => rows.find((r) => r.id === id) ?? null);
  }

  /** By author: their active fleets, oldest first. */
  async activeByAuthors(authorIds: readonly string[]): Promise<FleetRow[][]> {
    const rows = await this.db
      .select()
      .from(fleets)
      .where(and(inArray(fleets.authorId, [...authorIds]), this.active()))
      .orderBy(asc(fleets.createdAt), asc(fleets.id));
    return authorIds.map((id) => rows.filter((r) => r.authorId === id));
  }

  /** Which of these fleets the viewer has seen. */
  async seenAmong(viewerId: string, fleetIds: readonly string[]): Promise<Set<string>> {
    const rows = await this.db
      .select({ id: fleetViews.fleetId })
      .from(fleetViews)
      .where(and(eq(fleetViews.viewerId, viewerId), inArray(fleetViews.fleetId, [...fleetIds])));
    return new Set(rows.map((r) => r.id));
  }

  async viewCounts(fleetIds: readonly string[]): Promise<number[]> {
    const rows = await this.db
      .select({ id: fleetViews.fleetId, n: sql<number>`count(*)::int` })
      .from(fleetViews)
      .where(inArray(fleetViews.fleetId, [...fleetIds]))
      .groupBy(fleetViews.fleetId);
    return fleetIds.map((id) => rows.find((r) => r.id === id)?.n ?? 0);
  }

  /** Who saw the fleet, most recent first. */
  async viewers(fleetId: string, first: number, after: string | null | undefined): Promise<Page<UserRow>> {
    const cursor = decodeCursor(after, ['timestamp', 'uuid']);
    const rows = await this.db
      .select({ user: userColumns, viewedAt: fleetViews.viewedAt })
      .from(fleetViews)
      .innerJoin(users, eq(users.id, fleetViews.viewerId))
      .where(
        and(
          eq(fleetViews.fleetId, fleetId),
          cursor ? sql`(${fleetViews.viewedAt}, ${fleetViews.viewerId}) < (${cursor[0]}::timestamptz, ${cursor[1]}::uuid)` : undefined,
        ),
      )
      .orderBy(desc(fleetViews.viewedAt), desc(fleetViews.viewerId))
      .limit(first + 1);
    const page = toPage(rows, first, (r) => [r.viewedAt.toISOString(), r.user.id]);
    return { pageInfo: page.pageInfo, edges: page.edges.map((e) => ({ cursor: e.cursor, node: e.node.user })) };
  }

  /**
   * The viewer's fleets bar: their own first (when they have active fleets), then the accounts
   * they follow with active fleets, those with unseen ones first, then the most recent first.
   */
  async bar(viewerId: string): Promise<FleetAuthorEntry[]> {
    const rows = await this.db
      .select({
        fleet: fleets,
        seen: sql<boolean>`exists (select 1 from ${fleetViews} where ${fleetViews.fleetId} = ${fleets.id} and ${fleetViews.viewerId} = ${viewerId})`,
      })
      .from(fleets)
      .where(
        and(
          this.active(),
          or(
            eq(fleets.authorId, viewerId),
            inArray(fleets.authorId, this.db.select({ id: follows.followeeId }).from(follows).where(eq(follows.followerId, viewerId))),
          ),
        ),
      )
      .orderBy(asc(fleets.createdAt), asc(fleets.id));
    const byAuthor = new Map<string, FleetAuthorEntry>();
    for (const { fleet, seen } of rows) {
      let entry = byAuthor.get(fleet.authorId);
      if (!entry) byAuthor.set(fleet.authorId, (entry = { authorId: fleet.authorId, fleets: [], hasUnseen: false }));
      entry.fleets.push(fleet);
      if (!seen && fleet.authorId !== viewerId) entry.hasUnseen = true;
    }
    const latest = (e: FleetAuthorEntry) => e.fleets.at(-1)!.createdAt.getTime();
    const own = byAuthor.get(viewerId);
    const others = [...byAuthor.values()]
      .filter((e) => e.authorId !== viewerId)
      .sort((a, b) => Number(b.hasUnseen) - Number(a.hasUnseen) || latest(b) - latest(a) || (a.authorId < b.authorId ? -1 : 1));
    return own ? [own, ...others] : others;
  }

  /**
   * The viewer's bar now, then again whenever it may have changed: a followed author (or the
   * viewer) posted or deleted (`fleets` topic, from any instance), the viewer followed or
   * unfollowed someone (`activity`), the viewer saw a fleet on it, or a fleet on it expired (timed
   * here, per subscription).
   * Changes that arrive together make one new bar.
   */
  watchBar(viewerId: string): AsyncIterableIterator<FleetAuthorEntry[]> {
    let dirty = true;
    let closed = false;
    let wake: (() => void) | null = null;
    let timer: NodeJS.Timeout | null = null;
    let followees = new Set<string>();
    let nextExpiry = Infinity;
    const mark = () => {
      dirty = true;
      wake?.();
    };
    const stopFleets = this.pubsub.listen('fleets', (p) => {
      if (p.seenBy !== undefined) {
        if (p.seenBy === viewerId) mark();
      } else if (p.authorId === viewerId || followees.has(p.authorId)) mark();
    });
    const stopActivity = this.pubsub.listen('activity', (p) => {
      if (p.follow?.followerId === viewerId) mark();
    });
    const schedule = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (closed || nextExpiry === Infinity) return;
      const wait = Math.min(Math.max(0, nextExpiry - this.options.clock()), this.options.expiryCheckMs);
      timer = setTimeout(() => {
        if (this.options.clock() >= nextExpiry) mark();
        else schedule();
      }, wait);
      timer.unref();
    };
    const close = () => {
      closed = true;
      stopFleets();
      stopActivity();
      if (timer) clearTimeout(timer);
      wake?.();
    };
    const iterator: AsyncIterableIterator<FleetAuthorEntry[]> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        while (!dirty && !closed) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        if (closed) return { done: true, value: undefined };
        dirty = false;
        followees = new Set(
          (await this.db.select({ id: follows.followeeId }).from(follows).where(eq(follows.followerId, viewerId))).map((r) => r.id),
        );
        const bar = await this.bar(viewerId);
        nextExpiry = Math.min(Infinity, ...bar.flatMap((e) => e.fleets.map((f) => f.expiresAt.getTime())));
        schedule();
        return { done: false, value: bar };
      },
      return: async () => {
        close();
        return { done: true, value: undefined };
      },
      throw: async (error: unknown) => {
        close();
        throw error;
      },
    };
    return iterator;
  }

  /* ---- Sweeping ---- */

  /**
   * Deletes expired fleets (views, replies and their notifications go with them) and their
   * photos, and uploads never posted within the hour. Returns what was deleted.
   */
  async sweep(): Promise<{ fleets: number; uploads: number }> {
    const now = this.now;
    const expired = await this.db.delete(fleets).where(lte(fleets.expiresAt, now)).returning({ photoKey: fleets.photoKey });
    const unused = await this.db.delete(fleetUploads).where(lte(fleetUploads.expiresAt, now)).returning({ mediaKey: fleetUploads.mediaKey });
    await Promise.all([
      ...expired.flatMap((f) => (f.photoKey ? [this.deleteFile(f.photoKey)] : [])),
      ...unused.map((u) => this.deleteFile(u.mediaKey)),
    ]);
    return { fleets: expired.length, uploads: unused.length };
  }

  private changed(authorId: string) {
    this.pubsub.publish('fleets', { authorId, at: new Date().toISOString() });
  }

  /** Best effort: a file left behind costs disk, not privacy (GET refuses expired keys). */
  private async deleteFile(key: string): Promise<void> {
    await this.media.delete(key).catch((error) => console.error('[media] could not delete', key, error));
  }
}

/** An optional one-line text of at most FLEET_TEXT_MAX characters; null when left out or blank. */
function optionalText(field: string, raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined || raw.trim() === '') return null;
  const verdict = cleanLine(raw, { max: FLEET_TEXT_MAX });
  if (!verdict.ok) throw badInput(field, verdict.reason);
  return verdict.text;
}
