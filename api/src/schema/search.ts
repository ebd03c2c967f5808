import { builder } from '../builder.ts';
import type { UserRow } from '../services/accounts.ts';
import { pageSize } from '../lib/pagination.ts';
import { SEARCH_QUERY_MAX_CHARS, SUGGESTION_FOLLOWED_BY_SHOWN, type Suggestion } from '../services/search.ts';
import { SpaceConnection } from './space.ts';
import { User, UserConnection } from './user.ts';

const SuggestedUser = builder.objectRef<Suggestion>('SuggestedUser').implement({
  description: 'Someone the viewer might follow, and why.',
  fields: (t) => ({
    user: t.field({ type: User, resolve: (s) => s.user }),
    followedByFollowingCount: t.exposeInt('followedByFollowingCount', {
      description: 'How many of the accounts the viewer follows follow this user (0 when signed out).',
    }),
    followedBy: t.field({
      type: [User],
      description: `Up to ${SUGGESTION_FOLLOWED_BY_SHOWN} of those accounts, most recent follow first ("Followed by @ana and 2 others").`,
      resolve: async (s, _args, ctx) =>
        (await ctx.loaders.user.loadMany(s.followedByIds)).filter((u): u is UserRow => !!u && !(u instanceof Error)),
    }),
  }),
});

const queryHelp = `\`query\`: what the person typed, at most ${SEARCH_QUERY_MAX_CHARS} characters (a leading @ is ignored; an empty query finds nothing). Case-insensitive; matches anywhere in the text, and from 4 characters on also near spellings ("hanna" finds "hana"). \`first\` defaults to 20, at most 100; page on with \`after: pageInfo.endCursor\`.`;

builder.queryFields((t) => ({
  search: t.field({
    type: UserConnection,
    description: `People whose handle or display name matches: exact handle, then handles starting with the query, then names with a word starting with it, then other matches; the most followed first within each. ${queryHelp}`,
    args: { query: t.arg.string({ required: true }), first: t.arg.int(), after: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.search.people(args.query, pageSize(args.first), args.after),
  }),
  searchSpaces: t.field({
    type: SpaceConnection,
    description: `Live and scheduled spaces whose title matches (ended ones are left out): live spaces first, most recently started first, then scheduled ones, soonest first; within each, titles with a word starting with the query come before other matches. ${queryHelp}`,
    args: { query: t.arg.string({ required: true }), first: t.arg.int(), after: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.search.spaces(args.query, pageSize(args.first), args.after),
  }),
  suggestedUsers: t.field({
    type: [SuggestedUser],
    description:
      'People to follow. Signed in: accounts the viewer does not follow yet (never the viewer), those followed by more of the people the viewer follows first, then the most followed, then the newest — so a brand-new account gets the most followed people. Signed out: the most followed people. Empty only when there is nobody else to suggest. `first` defaults to 20, at most 100.',
    args: { first: t.arg.int() },
    resolve: (_root, args, ctx) => ctx.services.search.suggestedUsers(ctx.viewer?.id ?? null, pageSize(args.first)),
  }),
}));
