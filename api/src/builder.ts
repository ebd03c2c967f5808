import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import type { Auth, Context } from './context.ts';
import { appError, unauthenticated } from './errors.ts';
import type { UserRow } from './services/accounts.ts';
import { SESSION_ONLY_MESSAGE } from './domain/rules.ts';
import { INVALID_GLOBAL_ID, parseGlobalId, toGlobalId, type NodeType } from './lib/ids.ts';

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
  plugins: [ScopeAuthPlugin, RelayPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  relay: {
    // Global ids keep their format: base64url("Type:uuid") (lib/ids.ts).
    encodeGlobalID: (typename, id) => toGlobalId(typename as NodeType, String(id)),
    // Only `node(id:)` decodes with this: an id that is not ours names no type, and node() answers
    // null for it. Typed id arguments use expectId (a coded BAD_USER_INPUT naming the argument).
    decodeGlobalID: (globalID) => {
      const parsed = parseGlobalId(globalID);
      return parsed ? { typename: parsed.type, id: parsed.id } : INVALID_GLOBAL_ID;
    },
    nodeTypeOptions: { description: 'An object with a global id, fetchable with `node(id:)`; the id names its type.' },
    idFieldOptions: { description: 'Opaque global id.' },
    nodeQueryOptions: {
      description: 'Any object by its global id; null when it does not exist or is not visible.',
      // The loaded node is branded with the id's type: `Node` resolves to it without isTypeOf.
      resolve: (_root, { id }, _ctx, _info, resolveNode) => (id.typename === INVALID_GLOBAL_ID.typename ? null : resolveNode(id)),
    },
    nodesQueryOptions: false,
    clientMutationId: 'omit',
    cursorType: 'String',
    pageInfoTypeOptions: { description: 'Where a page of a connection ends, for fetching the next one with `after: endCursor`.' },
    // Connections page forward only (`first`, `after`): the plugin's PageInfo has these two as well.
    hasPreviousPageFieldOptions: { description: 'Always false: connections are paged forward, with `first` and `after: endCursor`.' },
    startCursorFieldOptions: { description: "The first edge's cursor; null for an empty page." },
  },
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
