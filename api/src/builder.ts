import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import type { Context } from './context.ts';
import { unauthenticated } from './errors.ts';

export const builder = new SchemaBuilder<{
  Context: Context;
  AuthScopes: { signedIn: boolean };
  Scalars: { DateTime: { Input: Date; Output: Date } };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({ signedIn: ctx.viewer !== null }),
    unauthorizedError: () => unauthenticated(),
  },
});

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO 8601 string with time zone (e.g. 2026-11-25T12:00:00.000Z).',
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime()) || !/\d{4}-\d{2}-\d{2}T/.test(value as string))
      throw new GraphQLError('DateTime must be an ISO 8601 string such as 2026-11-25T12:00:00Z', {
        extensions: { code: 'BAD_USER_INPUT' },
      });
    return date;
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
