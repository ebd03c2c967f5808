import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import type { Auth, Context } from './context.ts';
import { appError, unauthenticated } from './errors.ts';
import type { UserRow } from './services/accounts.ts';
import { SESSION_ONLY_MESSAGE } from './domain/rules.ts';

export const builder = new SchemaBuilder<{
  Context: Context;
  AuthScopes: {
    signedIn: boolean;
    /** The PWA's own sign-in (not a token, not a guest): token and app management (SESSION_ONLY). */
    session: boolean;
  };
  // Fields behind these scopes get a narrowed context (t.withAuth): no `ctx.viewer!`.
  AuthContexts: {
    signedIn: Context & { viewer: UserRow; sessionId: string };
    session: Context & { viewer: UserRow; sessionId: string; auth: Extract<Auth, { kind: 'session' }> };
  };
  Scalars: { DateTime: { Input: Date; Output: Date } };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({
      signedIn: ctx.viewer !== null,
      session: ctx.viewer !== null && ctx.auth.kind === 'session' && !ctx.auth.guest,
    }),
    // Signed out: sign in first. A guest or a token on a session-only field: FORBIDDEN (the
    // scope rules refuse tokens before this for root fields; this covers nested ones too).
    unauthorizedError: (_parent, ctx) => {
      if (!ctx.viewer) return unauthenticated();
      if (ctx.auth.kind === 'session' && ctx.auth.guest)
        return appError('FORBIDDEN', 'Guests can only listen: sign in or create an account to do that.', { reason: 'GUEST' });
      return appError('FORBIDDEN', SESSION_ONLY_MESSAGE, { requiredScope: 'session' });
    },
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
