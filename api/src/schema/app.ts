import { builder } from '../builder.ts';
import { API_SCOPES, API_SCOPE_WORDS, TOKEN_EXPIRES_IN_DAYS, TOKEN_NAME_MAX, type ApiScope } from '../domain/rules.ts';
import { expectId } from '../lib/ids.ts';
import type { AppRow, GrantRow, TokenRow } from '../services/apps.ts';
import type { Context } from '../context.ts';
import { User } from './user.ts';

/**
 * Third-party access (issue 13): personal access tokens, OAuth apps and the user's
 * authorizations of them. Every root field here is SESSION_ONLY (domain/rules.ts
 * ROOT_FIELD_RULES): a token can never mint or manage tokens.
 */

/** GraphQL enum value ↔ OAuth scope string (`spaces:write` ↔ SPACES_WRITE). */
const enumName = (scope: ApiScope) => scope.replace(':', '_').toUpperCase();

export const ApiScopeEnum = builder.enumType('ApiScope', {
  description: 'What a token may do; the OAuth scope string is in each value’s description.',
  values: Object.fromEntries(
    API_SCOPES.map((scope) => [enumName(scope), { value: scope, description: `\`${scope}\`: ${API_SCOPE_WORDS[scope]}.` }]),
  ) as Record<string, { value: ApiScope; description: string }>,
});

const scopesOf = (row: { scopes: string[] | null }) => (row.scopes ?? []) as ApiScope[];

export const PersonalAccessToken = builder.nodeRef<TokenRow>('PersonalAccessToken', { id: { resolve: (row) => row.id }, loadOne: tokenNode }).implement({
  description: 'A token a user made for their own scripts (`spaces_pat_…`), limited to its scopes.',
  fields: (t) => ({
    name: t.string({ resolve: (row) => row.name ?? '' }),
    scopes: t.field({ type: [ApiScopeEnum], resolve: scopesOf }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it was last used (to the minute); null if never.',
    }),
  }),
});

const CreatedPersonalAccessToken = builder
  .objectRef<{ token: string; personalAccessToken: TokenRow }>('CreatedPersonalAccessToken')
  .implement({
    fields: (t) => ({
      token: t.exposeString('token', { description: 'The token itself: shown once, never again.' }),
      personalAccessToken: t.field({ type: PersonalAccessToken, resolve: (p) => p.personalAccessToken }),
    }),
  });

export const App = builder.nodeRef<AppRow>('App', { id: { resolve: (row) => row.id }, loadOne: appNode }).implement({
  description: 'A third-party app (an OAuth client) registered by a user.',
  fields: (t) => ({
    clientId: t.exposeString('clientId', { description: 'The OAuth client_id.' }),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    redirectUris: t.exposeStringList('redirectUris'),
    confidential: t.boolean({
      description:
        'Confidential apps authenticate to /oauth/token with their secret; public ones (mobile, SPA, CLI) with PKCE only.',
      resolve: (app) => app.clientSecretHash !== null,
    }),
    owner: t.field({
      type: User,
      resolve: async (app, _args, ctx) => {
        const owner = await ctx.loaders.user.load(app.ownerId);
        if (!owner) throw new Error(`app ${app.id} has no owner`);
        return owner;
      },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const RegisteredApp = builder.objectRef<{ app: AppRow; clientSecret: string | null }>('RegisteredApp').implement({
  fields: (t) => ({
    app: t.field({ type: App, resolve: (p) => p.app }),
    clientSecret: t.exposeString('clientSecret', { nullable: true, description: 'Confidential apps only, shown once.' }),
  }),
});

export const AppAuthorization = builder.nodeRef<GrantRow>('AppAuthorization', { id: { resolve: (row) => row.id }, loadOne: grantNode }).implement({
  description: 'An app the viewer has allowed to act for them.',
  fields: (t) => ({
    app: t.field({
      type: App,
      resolve: async (grant, _args, ctx) => {
        const app = await ctx.services.apps.appById(grant.appId);
        if (!app) throw new Error(`grant ${grant.id} has no app`);
        return app;
      },
    }),
    scopes: t.field({ type: [ApiScopeEnum], resolve: scopesOf }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
  }),
});

const AuthorizationRequest = builder
  .objectRef<{ app: AppRow; scopes: ApiScope[]; redirectUri: string }>('AuthorizationRequest')
  .implement({
    description: 'A checked authorization request, for the consent screen.',
    fields: (t) => ({
      app: t.field({ type: App, resolve: (r) => r.app }),
      scopes: t.field({ type: [ApiScopeEnum], resolve: (r) => r.scopes }),
      redirectUri: t.exposeString('redirectUri'),
    }),
  });

const AuthorizationDecision = builder.objectRef<{ redirectTo: string }>('AuthorizationDecision').implement({
  fields: (t) => ({
    redirectTo: t.exposeString('redirectTo', {
      description: 'Where the browser goes next: the app’s redirect URI with code and state (or error=access_denied).',
    }),
  }),
});

const AuthorizationRequestInput = builder.inputType('AuthorizationRequestInput', {
  description: 'The query parameters of GET /oauth/authorize, as the consent page received them.',
  fields: (t) => ({
    responseType: t.string({ required: true }),
    clientId: t.string({ required: true }),
    redirectUri: t.string({ required: true }),
    scope: t.string({ required: true }),
    state: t.string(),
    codeChallenge: t.string(),
    codeChallengeMethod: t.string(),
  }),
});

const CreatePersonalAccessTokenInput = builder.inputType('CreatePersonalAccessTokenInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: `1–${TOKEN_NAME_MAX} characters.` }),
    scopes: t.field({ type: [ApiScopeEnum], required: true }),
    expiresInDays: t.int({ required: true, description: `${TOKEN_EXPIRES_IN_DAYS.min}–${TOKEN_EXPIRES_IN_DAYS.max}.` }),
  }),
});

const RegisterAppInput = builder.inputType('RegisterAppInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: '1–50 characters.' }),
    description: t.string({ description: 'At most 300 characters.' }),
    redirectUris: t.stringList({
      required: true,
      description:
        'Exact redirect URIs (1–10): https, http://localhost / 127.0.0.1 / [::1] for native apps, or a private-use scheme (com.example.app:/callback); no fragments.',
    }),
    confidential: t.boolean({ defaultValue: false }),
  }),
});

// Only their owner, from the PWA's own session, sees these by global id (node() brands what it
// returns with the id's type, so no isTypeOf is needed).
async function tokenNode(id: string, ctx: Context) {
  if (!ctx.viewer || ctx.auth.kind !== 'session') return null;
  return (await ctx.services.apps.personalAccessTokens(ctx.viewer.id)).find((t) => t.id === id) ?? null;
}
async function appNode(id: string, ctx: Context) {
  if (!ctx.viewer || ctx.auth.kind !== 'session') return null;
  const app = await ctx.services.apps.appById(id);
  return app && app.ownerId === ctx.viewer.id ? app : null;
}
async function grantNode(id: string, ctx: Context) {
  if (!ctx.viewer || ctx.auth.kind !== 'session') return null;
  return (await ctx.services.apps.appAuthorizations(ctx.viewer.id)).find((g) => g.id === id) ?? null;
}

builder.queryFields((t) => ({
  personalAccessTokens: t.withAuth({ session: true }).field({
    type: [PersonalAccessToken],
    description: 'Session only. The viewer’s personal access tokens (not revoked, newest first).',
    resolve: (_root, _args, ctx) => ctx.services.apps.personalAccessTokens(ctx.viewer.id),
  }),
  apps: t.withAuth({ session: true }).field({
    type: [App],
    description: 'Session only. Apps the viewer registered.',
    resolve: (_root, _args, ctx) => ctx.services.apps.appsOf(ctx.viewer.id),
  }),
  appAuthorizations: t.withAuth({ session: true }).field({
    type: [AppAuthorization],
    description: 'Session only. Apps the viewer has authorized (with live grants).',
    resolve: (_root, _args, ctx) => ctx.services.apps.appAuthorizations(ctx.viewer.id),
  }),
  authorizationRequest: t.withAuth({ session: true }).field({
    type: AuthorizationRequest,
    description:
      'Session only. Validates an authorization request for the consent screen. BAD_USER_INPUT (never a redirect) for an unknown client, a redirect URI that is not registered exactly, a missing/plain PKCE challenge, an unknown scope or response_type other than code.',
    args: { input: t.arg({ type: AuthorizationRequestInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.apps.checkAuthorizationRequest(input),
  }),
}));

builder.mutationFields((t) => ({
  createPersonalAccessToken: t.withAuth({ session: true }).field({
    type: CreatedPersonalAccessToken,
    description: `Session only. A new personal access token (\`spaces_pat_…\`) with these scopes, expiring in ${TOKEN_EXPIRES_IN_DAYS.min}–${TOKEN_EXPIRES_IN_DAYS.max} days. The token is returned once.`,
    args: { input: t.arg({ type: CreatePersonalAccessTokenInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.apps.createPersonalAccessToken(ctx.viewer.id, input),
  }),
  revokePersonalAccessToken: t.withAuth({ session: true }).field({
    type: PersonalAccessToken,
    description: 'Session only. The token stops working at once and its open sockets close. NOT_FOUND for another user’s token.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      ctx.services.apps.revokePersonalAccessToken(ctx.viewer.id, expectId('id', String(id), 'PersonalAccessToken')),
  }),
  registerApp: t.withAuth({ session: true }).field({
    type: RegisteredApp,
    description: 'Session only. Registers an OAuth app owned by the viewer; a confidential one gets its secret once.',
    args: { input: t.arg({ type: RegisterAppInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.apps.registerApp(ctx.viewer.id, input),
  }),
  deleteApp: t.withAuth({ session: true }).boolean({
    description: 'Session only. Deletes the viewer’s app: every authorization and token of it ends (sockets close).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.apps.deleteApp(ctx.viewer.id, expectId('id', String(id), 'App')),
  }),
  approveAuthorization: t.withAuth({ session: true }).field({
    type: AuthorizationDecision,
    description:
      'Session only. The viewer allows the request: issues a code (10 minutes, single use, bound to the PKCE challenge and redirect URI).',
    args: { input: t.arg({ type: AuthorizationRequestInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ redirectTo: await ctx.services.apps.approve(ctx.viewer, input) }),
  }),
  denyAuthorization: t.withAuth({ session: true }).field({
    type: AuthorizationDecision,
    description: 'Session only. The viewer refuses the request: the redirect carries error=access_denied and the state.',
    args: { input: t.arg({ type: AuthorizationRequestInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ redirectTo: await ctx.services.apps.deny(input) }),
  }),
  revokeAppAuthorization: t.withAuth({ session: true }).boolean({
    description: 'Session only. Revokes every token of that app for the viewer.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) =>
      ctx.services.apps.revokeAppAuthorization(ctx.viewer.id, expectId('id', String(id), 'AppAuthorization')),
  }),
}));
