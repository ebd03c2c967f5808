import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { users, type Database } from '@spaces/db';
import { cleanLine } from '../domain/text.ts';
import { badInput, notFound } from '../errors.ts';
import { imageRefused, renderImage, type ImageRefusal } from './images.ts';
import type { Limiter } from '../lib/rate-limit.ts';
import type { Limits } from './limits.ts';
import type { MediaStore } from './media-storage.ts';
import { userColumns, type UserRow } from './accounts.ts';

export const BIO_MAX_CHARS = 160;
export const DISPLAY_NAME_MAX_CHARS = 50;

/** Uploads larger than this are refused before they are read to the end. */
export const AVATAR_MAX_BYTES = 5 * 1024 * 1024;
/**
 * Decoded size limit (decompression bombs: a few KB of PNG can declare 50,000 × 50,000 pixels).
 * 25 megapixels covers any phone photo; sharp refuses to decode past it (limitInputPixels).
 */
export const AVATAR_MAX_PIXELS = 25_000_000;
/** The square renditions kept of an avatar, in pixels: LARGE for profiles, SMALL for lists and bubbles. */
export const AVATAR_SIZES = { LARGE: 400, SMALL: 96 } as const;
export type AvatarSize = keyof typeof AVATAR_SIZES;
/** Why an avatar was refused, in `extensions.reason` of its BAD_USER_INPUT error (field `avatar`). */
export type AvatarRefusal = ImageRefusal;

export const avatarRefused = (reason: AvatarRefusal, message: string) => imageRefused('avatar', reason, message);

/** Square WebP renditions of an untrusted upload, metadata dropped (services/images.ts). */
export function renderAvatar(input: Uint8Array): Promise<Record<AvatarSize, Uint8Array>> {
  const square = (px: number) => ({ width: px, height: px, fit: 'cover', quality: 82 }) as const;
  return renderImage(input, { field: 'avatar', maxBytes: AVATAR_MAX_BYTES, maxPixels: AVATAR_MAX_PIXELS }, {
    LARGE: square(AVATAR_SIZES.LARGE),
    SMALL: square(AVATAR_SIZES.SMALL),
  });
}

export interface ProfileInput {
  displayName?: string | null;
  bio?: string | null;
}

/** What the viewer may change about themselves: display name, bio, avatar. */
export class Profiles {
  private readonly updates: Limiter;
  private readonly uploads: Limiter;

  constructor(
    private readonly db: Database,
    readonly media: MediaStore,
    limits: Limits,
  ) {
    this.updates = limits.store.limiter('user:profile', { points: 30, durationSeconds: 60 });
    this.uploads = limits.store.limiter('user:avatar', { points: 20, durationSeconds: 3600 });
  }

  /** `/media/avatars/<id>-400.webp` (or the bucket's public URL), or null without an avatar. */
  avatarUrl(user: Pick<UserRow, 'avatarKey'>, size: AvatarSize): string | null {
    return user.avatarKey ? this.media.urlOf(`${user.avatarKey}-${AVATAR_SIZES[size]}.webp`) : null;
  }

  /** Fields left out (or null) stay as they are; an empty bio clears it. RATE_LIMITED past 30 a minute. */
  async update(userId: string, input: ProfileInput): Promise<UserRow> {
    const changes: Partial<Pick<UserRow, 'displayName' | 'bio'>> = {};
    if (input.displayName !== null && input.displayName !== undefined) {
      const name = cleanLine(input.displayName, { max: DISPLAY_NAME_MAX_CHARS });
      if (!name.ok) throw badInput('displayName', name.reason);
      changes.displayName = name.text;
    }
    if (input.bio !== null && input.bio !== undefined) {
      const bio = cleanLine(input.bio, { min: 0, max: BIO_MAX_CHARS });
      if (!bio.ok) throw badInput('bio', bio.reason);
      changes.bio = bio.text;
    }
    await this.updates.hit(userId);
    if (Object.keys(changes).length === 0) return this.load(userId);
    const [user] = await this.db.update(users).set(changes).where(eq(users.id, userId)).returning(userColumns);
    if (!user) throw notFound('No such user.');
    return user;
  }

  /**
   * Renders and stores a new avatar, then points the user at it; the previous one's files are
   * deleted after the switch (a reader holding the old URL gets a 404 from then on).
   */
  async setAvatar(userId: string, upload: Uint8Array): Promise<UserRow> {
    await this.uploads.hit(userId);
    const renditions = await renderAvatar(upload);
    const key = `avatars/${randomBytes(16).toString('hex')}`;
    const stored = await Promise.allSettled(
      Object.entries(renditions).map(([size, bytes]) =>
        this.media.put(`${key}-${AVATAR_SIZES[size as AvatarSize]}.webp`, bytes, 'image/webp'),
      ),
    );
    const failed = stored.find((r) => r.status === 'rejected');
    if (failed) {
      await this.deleteFiles(key); // whichever rendition did get stored
      throw failed.reason;
    }
    const { user, previous } = await this.db.transaction(async (tx) => {
      const [before] = await tx.select({ avatarKey: users.avatarKey }).from(users).where(eq(users.id, userId)).for('update');
      const [after] = await tx.update(users).set({ avatarKey: key }).where(eq(users.id, userId)).returning(userColumns);
      return { user: after, previous: before?.avatarKey ?? null };
    });
    if (!user) {
      await this.deleteFiles(key);
      throw notFound('No such user.');
    }
    if (previous) await this.deleteFiles(previous);
    return user;
  }

  /** Idempotent. */
  async removeAvatar(userId: string): Promise<UserRow> {
    const { user, previous } = await this.db.transaction(async (tx) => {
      const [before] = await tx.select({ avatarKey: users.avatarKey }).from(users).where(eq(users.id, userId)).for('update');
      const [after] = await tx.update(users).set({ avatarKey: null }).where(eq(users.id, userId)).returning(userColumns);
      return { user: after, previous: before?.avatarKey ?? null };
    });
    if (!user) throw notFound('No such user.');
    if (previous) await this.deleteFiles(previous);
    return user;
  }

  private async load(userId: string): Promise<UserRow> {
    const [user] = await this.db.select(userColumns).from(users).where(eq(users.id, userId)).limit(1);
    if (!user) throw notFound('No such user.');
    return user;
  }

  /** Best effort: a file left behind costs disk, not correctness. */
  private async deleteFiles(key: string): Promise<void> {
    await Promise.all(
      Object.values(AVATAR_SIZES).map((px) =>
        this.media.delete(`${key}-${px}.webp`).catch((error) => console.error('[media] could not delete', key, error)),
      ),
    );
  }
}
