import { defaultFieldResolver, type GraphQLFieldResolver, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import type { Context } from '../context.ts';
import { guestMayUse } from '../domain/rules.ts';
import { appError } from '../errors.ts';

/**
 * What a guest may do (domain/rules.ts guestMayUse), enforced in one place for every transport
 * (HTTP, SSE and WebSocket, which executes subscriptions outside envelop's hooks): each root
 * field of Mutation and Subscription checks the viewer before its resolver runs. Resolvers
 * never repeat the check, and a new mutation is denied to guests until the rules allow it.
 */
export function withGuestLimits(schema: GraphQLSchema): GraphQLSchema {
  guard(schema.getMutationType(), 'mutation', 'resolve');
  guard(schema.getSubscriptionType(), 'subscription', 'subscribe');
  return schema;
}

function guard(type: GraphQLObjectType | null | undefined, operation: 'mutation' | 'subscription', hook: 'resolve' | 'subscribe') {
  if (!type) return;
  for (const field of Object.values(type.getFields())) {
    const inner = (field[hook] ?? defaultFieldResolver) as GraphQLFieldResolver<unknown, Context>;
    field[hook] = (source, args, ctx: Context, info) => {
      if (ctx.viewer?.isGuest) {
        const verdict = guestMayUse(operation, field.name);
        if (!verdict.ok)
          throw verdict.code === 'CONFLICT'
            ? appError('CONFLICT', verdict.message, { useInstead: verdict.useInstead })
            : appError('FORBIDDEN', verdict.message, { reason: verdict.reason });
      }
      return inner(source, args, ctx, info);
    };
  }
}
