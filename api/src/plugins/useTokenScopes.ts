import { defaultFieldResolver, type GraphQLFieldResolver, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import type { Context } from '../context.ts';
import { tokenMayUse, type RootType } from '../domain/rules.ts';
import { appError } from '../errors.ts';

/**
 * What a personal access token or OAuth access token may do (domain/rules.ts ROOT_FIELD_RULES,
 * tokenMayUse), enforced in one place for every transport — HTTP, SSE and WebSocket (which runs
 * subscriptions outside envelop's hooks): each root field of Query, Mutation and Subscription
 * checks the credential's scopes before its resolver (or subscribe) runs. The PWA's own session
 * has every scope. A field with no rule is refused to tokens until the rules decide on it.
 * Token requests are also counted against the token's and its app's limits here.
 */
export function withTokenScopes(schema: GraphQLSchema): GraphQLSchema {
  guard(schema.getQueryType(), 'Query', 'resolve');
  guard(schema.getMutationType(), 'Mutation', 'resolve');
  guard(schema.getSubscriptionType(), 'Subscription', 'subscribe');
  return schema;
}

function guard(type: GraphQLObjectType | null | undefined, rootType: RootType, hook: 'resolve' | 'subscribe') {
  if (!type) return;
  for (const field of Object.values(type.getFields())) {
    const inner = (field[hook] ?? defaultFieldResolver) as GraphQLFieldResolver<unknown, Context>;
    field[hook] = (source, args, ctx: Context, info) => {
      const { auth } = ctx;
      if (auth.kind !== 'personal' && auth.kind !== 'oauth') return inner(source, args, ctx, info);
      const verdict = tokenMayUse(rootType, field.name, auth.scopes);
      if (!verdict.ok) throw appError('FORBIDDEN', verdict.message, { requiredScope: verdict.requiredScope });
      return countedOnce(ctx, auth.tokenId, auth.appId).then(() => inner(source, args, ctx, info));
    };
  }
}

/**
 * Per-token and per-app limits (services/limits.ts tokenRequest): one hit per request (an HTTP
 * request or a WebSocket operation has one context), however many root fields it selects. A
 * subscription counts when it starts, not per event.
 */
const counted = new WeakMap<Context, Promise<void>>();
function countedOnce(ctx: Context, tokenId: string, appId: string | null): Promise<void> {
  let hit = counted.get(ctx);
  if (!hit) counted.set(ctx, (hit = ctx.services.limits.tokenRequest(tokenId, appId)));
  return hit;
}
