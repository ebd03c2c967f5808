import { eq, sql } from 'drizzle-orm';
import { users } from '@spaces/db';
import { builder } from '../builder.ts';
import { notFound } from '../errors.ts';
import { expectId } from '../lib/ids.ts';
import { pageSize } from '../lib/pagination.ts';
import type { Context } from '../context.ts';
import type { UserRow } from '../services/accounts.ts';
import { VIEWER_DEPENDENT } from '../lib/shared-execution.ts';
import { connectionOf } from './connection.ts';
import { NodeInterface, registerNodeLoader } from './node.ts';

export const User = builder.objectRef<UserRow>('User');

registerNodeLoader('User', (id, ctx) => ctx.loaders.user.load(id));

export const UserConnection = connectionOf('User', User);

User.implement({
  description: 'A person with an account: they follow others, host spaces and take part in them.',
  interfaces: [NodeInterface],
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'passwordHash' in value,
  fields: (t) => ({
    handle: t.exposeString('handle', { description: 'Unique, case-insensitive, 3–15 of [A-Za-z0-9_].' }),
    displayName: t.exposeString('displayName'),
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
        .select()
        .from(users)
        .where(eq(sql`lower(${users.handle})`, handle.trim().toLowerCase()))
        .limit(1);
      return user ?? null;
    },
  }),
}));

async function loadUserArg(ctx: Parameters<Parameters<typeof registerNodeLoader>[1]>[1], userId: string) {
  const id = expectId('userId', userId, 'User');
  const user = await ctx.loaders.user.load(id);
  if (!user) throw notFound('No such user.');
  return user;
}

/** Whom the viewer follows changed: their own spaces bar may have (services/bars.ts). */
function followChanged(ctx: Context, followeeId: string, following: boolean) {
  const followerId = ctx.viewer!.id;
  const follow = { followerId, followeeId, following };
  ctx.services.events.pubsub.publish('activity', { userIds: [followerId], at: new Date().toISOString(), follow });
}

builder.mutationFields((t) => ({
  follow: t.field({
    type: User,
    authScopes: { signedIn: true },
    description:
      'Follow a user. Idempotent: following twice changes nothing. Returns the followed user. RATE_LIMITED past 60 follows and unfollows a minute.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.limits.user('follow', ctx.viewer!.id);
      const target = await loadUserArg(ctx, String(args.userId));
      if (await ctx.services.follows.follow(ctx.viewer!.id, target.id)) followChanged(ctx, target.id, true);
      ctx.loaders.user.clear(target.id);
      return (await ctx.loaders.user.load(target.id))!;
    },
  }),
  unfollow: t.field({
    type: User,
    authScopes: { signedIn: true },
    description: 'Stop following a user. Idempotent. Returns the unfollowed user. Counts with follow toward RATE_LIMITED.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.limits.user('follow', ctx.viewer!.id);
      const target = await loadUserArg(ctx, String(args.userId));
      if (await ctx.services.follows.unfollow(ctx.viewer!.id, target.id)) {
        // Under FOLLOWING, the unfollowed user's eligibility in the viewer's live spaces ends now.
        await ctx.services.spaces.afterUnfollow(ctx.viewer!.id, target.id);
        followChanged(ctx, target.id, false);
      }
      ctx.loaders.user.clear(target.id);
      return (await ctx.loaders.user.load(target.id))!;
    },
  }),
}));
