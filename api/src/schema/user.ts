import { eq, sql } from 'drizzle-orm';
import { users } from '@spaces/db';
import { builder } from '../builder.ts';
import { notFound } from '../errors.ts';
import { expectId } from '../lib/ids.ts';
import { pageSize } from '../lib/pagination.ts';
import type { Context } from '../context.ts';
import { userColumns, type UserRow } from '../services/accounts.ts';
import { VIEWER_DEPENDENT } from '../lib/shared-execution.ts';
import { AVATAR_SIZES, BIO_MAX_CHARS } from '../services/profiles.ts';
import { Space, SpaceConnection } from './space.ts';

export const User = builder.nodeRef<UserRow>('User', { id: { resolve: (row) => row.id }, loadOne: (id, ctx) => ctx.loaders.user.load(id) });

export const UserConnection = builder.connectionObject({ type: User, name: 'UserConnection', description: 'A page of User objects.' });

export const AvatarSizeEnum = builder.enumType('AvatarSize', {
  description: 'The square renditions kept of every avatar (WebP).',
  values: {
    LARGE: { value: 'LARGE', description: `${AVATAR_SIZES.LARGE}×${AVATAR_SIZES.LARGE} pixels: profiles.` },
    SMALL: { value: 'SMALL', description: `${AVATAR_SIZES.SMALL}×${AVATAR_SIZES.SMALL} pixels: lists, bubbles, stage tiles.` },
  } as const,
});

User.implement({
  description: 'A person with an account: they follow others, host spaces and take part in them.',
  fields: (t) => ({
    handle: t.exposeString('handle', { description: 'Unique, case-insensitive, 3–15 of [A-Za-z0-9_].' }),
    displayName: t.exposeString('displayName', { description: 'The name shown, 1–50 characters; changed with updateProfile.' }),
    bio: t.exposeString('bio', {
      description: `A short plain-text introduction, one line of at most ${BIO_MAX_CHARS} characters; "" when the user wrote none. Changed with updateProfile.`,
    }),
    avatarUrl: t.string({
      nullable: true,
      description:
        'The avatar, a square WebP image (null without one). A path on the API\'s own origin (`/media/avatars/….webp`), or an absolute URL when media is served from a bucket\'s public address: resolve it against the API\'s URL. A new upload gets a new URL, so it may be cached forever. ' +
        'Upload: `POST /media/avatar` with the image itself as the body (`Content-Type: image/jpeg`, `image/png`, `image/webp`, `image/gif` or `image/avif`; at most 5 MB and 25 megapixels) and the same credentials as GraphQL (bearer token, or the session cookie from the app\'s own origin). ' +
        'It answers `{"data":{"avatarUrl":…,"avatarSmallUrl":…}}`, or `{"errors":[…]}` with the contract\'s codes: BAD_USER_INPUT (`extensions.reason` NOT_AN_IMAGE, TOO_LARGE or TOO_MANY_PIXELS), UNAUTHENTICATED, FORBIDDEN (cross-site cookie request), RATE_LIMITED (20 uploads an hour). The server crops the image to a square, resizes it, re-encodes it and drops all its metadata (EXIF, GPS, ICC). Remove it with removeAvatar.',
      args: { size: t.arg({ type: AvatarSizeEnum, defaultValue: 'LARGE', required: true, description: 'Which rendition; LARGE when left out.' }) },
      resolve: (user, args, ctx) => ctx.services.profiles.avatarUrl(user, args.size),
    }),
    isGuest: t.exposeBoolean('isGuest', {
      description: 'A listener-only guest account (startGuestSession), shown as "Guest"; it cannot be followed, invited or put on stage.',
    }),
    followerCount: t.exposeInt('followerCount', { description: 'How many accounts follow this user.' }),
    followingCount: t.exposeInt('followingCount', { description: 'How many accounts this user follows.' }),
    viewerFollows: t.boolean({
      extensions: VIEWER_DEPENDENT,
      description: 'Whether the signed-in viewer follows this user (false when signed out).',
      resolve: (user, _args, ctx) => ctx.loaders.viewerFollows.load(user.id),
    }),
    followsViewer: t.boolean({
      extensions: VIEWER_DEPENDENT,
      description: 'Whether this user follows the signed-in viewer.',
      resolve: (user, _args, ctx) => ctx.loaders.followsViewer.load(user.id),
    }),
    liveSpace: t.field({
      type: Space,
      nullable: true,
      description: 'The LIVE space they host or are on stage in (host, co-host or speaker), else null: drives the live ring on their avatar.',
      resolve: (user, _args, ctx) => ctx.loaders.liveSpace.load(user.id),
    }),
    upcomingSpaces: t.field({
      type: [Space],
      description: 'The SCHEDULED spaces they host (not cancelled), soonest first, at most 20.',
      resolve: (user, _args, ctx) => ctx.loaders.upcomingHosted.load(user.id),
    }),
    recentSpaces: t.field({
      type: SpaceConnection,
      description: 'The spaces they hosted that have ended (cancelled ones left out), newest first. `first` defaults to 20, at most 100.',
      args: { first: t.arg.int(), after: t.arg.string() },
      resolve: (user, args, ctx) => ctx.services.spaces.listRecent(user.id, pageSize(args.first), args.after),
    }),
    followers: t.field({
      type: UserConnection,
      description: 'Accounts following this user, newest first. `first` defaults to 20, at most 100.',
      args: { first: t.arg.int(), after: t.arg.string() },
      resolve: (user, args, ctx) => ctx.services.follows.list('followers', user.id, pageSize(args.first), args.after),
    }),
    following: t.field({
      type: UserConnection,
      description: 'Accounts this user follows, newest first. `first` defaults to 20, at most 100.',
      args: { first: t.arg.int(), after: t.arg.string() },
      resolve: (user, args, ctx) => ctx.services.follows.list('following', user.id, pageSize(args.first), args.after),
    }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: User,
    nullable: true,
    description: 'The signed-in user, or null.',
    resolve: (_root, _args, ctx) => ctx.viewer,
  }),
  user: t.field({
    type: User,
    nullable: true,
    description: 'A user by handle (case-insensitive), or null.',
    args: { handle: t.arg.string({ required: true }) },
    resolve: async (_root, { handle }, ctx) => {
      // Only well-formed handles can exist; anything else is simply not found.
      if (!/^[A-Za-z0-9_]{1,64}$/.test(handle.trim())) return null;
      const [user] = await ctx.services.db
        .select(userColumns)
        .from(users)
        .where(eq(sql`lower(${users.handle})`, handle.trim().toLowerCase()))
        .limit(1);
      return user ?? null;
    },
  }),
}));

async function loadUserArg(ctx: Context, userId: string) {
  const id = expectId('userId', userId, 'User');
  const user = await ctx.loaders.user.load(id);
  if (!user) throw notFound('No such user.');
  return user;
}

/** Whom the viewer follows changed: their own spaces bar may have (services/bars.ts). */
function followChanged(ctx: Context & { viewer: UserRow }, followeeId: string, following: boolean) {
  const followerId = ctx.viewer.id;
  const follow = { followerId, followeeId, following };
  ctx.services.events.pubsub.publish('activity', { userIds: [followerId], at: new Date().toISOString(), follow });
}

const UpdateProfileInput = builder.inputType('UpdateProfileInput', {
  description: 'The viewer\'s profile fields to change; a field left out (or null) stays as it is.',
  fields: (t) => ({
    displayName: t.string({ description: '1–50 characters, one line (whitespace runs collapse; control, bidirectional and invisible characters are refused).' }),
    bio: t.string({ description: `0–${BIO_MAX_CHARS} characters, one line, same text rules; "" clears it.` }),
  }),
});

builder.mutationFields((t) => ({
  updateProfile: t.withAuth({ signedIn: true }).field({
    type: User,
    description:
      'Change the viewer\'s display name and/or bio. Returns the updated viewer. BAD_USER_INPUT (`extensions.field` displayName or bio) for text the policy refuses; RATE_LIMITED past 30 updates a minute. The avatar is uploaded over HTTP: see User.avatarUrl.',
    args: { input: t.arg({ type: UpdateProfileInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const user = await ctx.services.profiles.update(ctx.viewer.id, input);
      ctx.loaders.user.clear(user.id).prime(user.id, user);
      return user;
    },
  }),
  removeAvatar: t.withAuth({ signedIn: true }).field({
    type: User,
    description: 'Remove the viewer\'s avatar (its files are deleted; avatarUrl becomes null). Idempotent. Returns the updated viewer.',
    resolve: async (_root, _args, ctx) => {
      const user = await ctx.services.profiles.removeAvatar(ctx.viewer.id);
      ctx.loaders.user.clear(user.id).prime(user.id, user);
      return user;
    },
  }),
  follow: t.withAuth({ signedIn: true }).field({
    type: User,
    description:
      'Follow a user. Idempotent: following twice changes nothing. Returns the followed user. RATE_LIMITED past 60 follows and unfollows a minute.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.limits.user('follow', ctx.viewer.id);
      const target = await loadUserArg(ctx, String(args.userId));
      if (await ctx.services.follows.follow(ctx.viewer.id, target.id)) followChanged(ctx, target.id, true);
      ctx.loaders.user.clear(target.id);
      return (await ctx.loaders.user.load(target.id))!;
    },
  }),
  unfollow: t.withAuth({ signedIn: true }).field({
    type: User,
    description: 'Stop following a user. Idempotent. Returns the unfollowed user. Counts with follow toward RATE_LIMITED.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.limits.user('follow', ctx.viewer.id);
      const target = await loadUserArg(ctx, String(args.userId));
      if (await ctx.services.follows.unfollow(ctx.viewer.id, target.id)) {
        // Under FOLLOWING, the unfollowed user's eligibility in the viewer's live spaces ends now.
        await ctx.services.spaces.afterUnfollow(ctx.viewer.id, target.id);
        followChanged(ctx, target.id, false);
      }
      ctx.loaders.user.clear(target.id);
      return (await ctx.loaders.user.load(target.id))!;
    },
  }),
}));
