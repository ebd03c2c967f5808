import { randomBytes, timingSafeEqual } from 'node:crypto';
import OAuth2Server from '@node-oauth/oauth2-server';
import { and, desc, eq, gt, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { appGrants, apps, oauthCodes, oauthRefreshTokens, sessions, type Database } from '@spaces/db';
import {
  API_SCOPES,
  APP_DESCRIPTION_MAX,
  APP_NAME_MAX,
  APP_REDIRECT_URIS_MAX,
  isApiScope,
  OAUTH_ACCESS_TOKEN_TTL_S,
  OAUTH_CODE_TTL_S,
  OAUTH_REFRESH_TOKEN_TTL_S,
  TOKEN_EXPIRES_IN_DAYS,
  TOKEN_NAME_MAX,
  type ApiScope,
} from '../domain/rules.ts';
import { cleanLine } from '../domain/text.ts';
import { badInput, notFound } from '../errors.ts';
import { hashToken, type UserRow } from './accounts.ts';

export type AppRow = typeof apps.$inferSelect;
export type GrantRow = typeof appGrants.$inferSelect;
export type TokenRow = typeof sessions.$inferSelect;

/** Token prefixes: a leaked token says what it is (and secret scanners can find it). */
export const TOKEN_PREFIX = { personal: 'spaces_pat_', access: 'spaces_at_', refresh: 'spaces_rt_', secret: 'spaces_cs_' } as const;

const randomToken = (prefix: string) => prefix + randomBytes(32).toString('base64url');

/** The parameters of GET /oauth/authorize as the consent page received them (AuthorizationRequestInput). */
export interface AuthorizationRequestInput {
  responseType: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  state?: string | null;
  codeChallenge?: string | null;
  codeChallengeMethod?: string | null;
}

export interface CheckedAuthorizationRequest {
  app: AppRow;
  scopes: ApiScope[];
  redirectUri: string;
}

/** An OAuth access token (one hour) and its refresh token, as /oauth/token answers them. */
interface OAuthUser {
  id: string;
  grantId: string;
  /** The code every token of this chain descends from (code reuse revokes them all). */
  familyId: string;
}
interface OAuthClient {
  id: string;
  appId: string;
  grants: string[];
  redirectUris: string[];
}

const { Request: OAuthRequest, Response: OAuthResponse, OAuthError } = OAuth2Server;

/** PKCE code challenges (S256: base64url of a sha256, 43 characters). */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** Apps, their users' authorizations, OAuth codes and tokens, personal access tokens. */
export class Apps {
  readonly oauth: OAuth2Server;

  constructor(
    private readonly db: Database,
    /** Revokes token rows (sets revoked_at) and closes their sockets (Accounts.revokeSessions). */
    private readonly revokeTokens: (ids: string[]) => Promise<void>,
  ) {
    this.oauth = new OAuth2Server({
      model: this.model(),
      accessTokenLifetime: OAUTH_ACCESS_TOKEN_TTL_S,
      refreshTokenLifetime: OAUTH_REFRESH_TOKEN_TTL_S,
      authorizationCodeLifetime: OAUTH_CODE_TTL_S,
      allowEmptyState: true,
      // Refresh tokens rotate on every use (OAuth 2.1).
      alwaysIssueNewRefreshToken: true,
      // Public clients have no secret; confidential ones are checked in getClient either way.
      requireClientAuthentication: { authorization_code: false, refresh_token: false },
      // OAuth 2.1: S256 only (the library's default, said here on purpose).
      enablePlainPKCE: false,
    } as ConstructorParameters<typeof OAuth2Server>[0]);
  }

  // --- personal access tokens --------------------------------------------------------------

  async createPersonalAccessToken(userId: string, input: { name: string; scopes: readonly ApiScope[]; expiresInDays: number }) {
    const name = cleanLine(input.name, { max: TOKEN_NAME_MAX });
    if (!name.ok) throw badInput('name', name.reason);
    if (!Number.isInteger(input.expiresInDays) || input.expiresInDays < TOKEN_EXPIRES_IN_DAYS.min || input.expiresInDays > TOKEN_EXPIRES_IN_DAYS.max)
      throw badInput('expiresInDays', `must be ${TOKEN_EXPIRES_IN_DAYS.min}–${TOKEN_EXPIRES_IN_DAYS.max}`);
    const scopes = orderedScopes(input.scopes);
    if (scopes.length === 0) throw badInput('scopes', 'choose at least one scope');
    const token = randomToken(TOKEN_PREFIX.personal);
    const [row] = await this.db
      .insert(sessions)
      .values({
        userId,
        kind: 'personal',
        tokenHash: hashToken(token),
        name: name.text,
        scopes,
        expiresAt: new Date(Date.now() + input.expiresInDays * 86_400_000),
      })
      .returning();
    return { token, personalAccessToken: row! };
  }

  /** The user's personal access tokens that were not revoked (expired ones too), newest first. */
  personalAccessTokens(userId: string): Promise<TokenRow[]> {
    return this.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), eq(sessions.kind, 'personal'), isNull(sessions.revokedAt)))
      .orderBy(desc(sessions.createdAt), desc(sessions.id));
  }

  async revokePersonalAccessToken(userId: string, id: string): Promise<TokenRow> {
    const [row] = await this.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.id, id), eq(sessions.userId, userId), eq(sessions.kind, 'personal')))
      .limit(1);
    if (!row) throw notFound('No such personal access token.');
    if (!row.revokedAt) await this.revokeTokens([row.id]);
    return { ...row, revokedAt: row.revokedAt ?? new Date() };
  }

  // --- apps --------------------------------------------------------------------------------

  async registerApp(ownerId: string, input: { name: string; description?: string | null; redirectUris: readonly string[]; confidential?: boolean | null }) {
    const name = cleanLine(input.name, { max: APP_NAME_MAX });
    if (!name.ok) throw badInput('name', name.reason);
    let description: string | null = null;
    if (input.description != null && input.description.trim() !== '') {
      const d = cleanLine(input.description, { max: APP_DESCRIPTION_MAX });
      if (!d.ok) throw badInput('description', d.reason);
      description = d.text;
    }
    const redirectUris = [...new Set(input.redirectUris)];
    if (redirectUris.length === 0) throw badInput('redirectUris', 'give at least one redirect URI');
    if (redirectUris.length > APP_REDIRECT_URIS_MAX) throw badInput('redirectUris', `at most ${APP_REDIRECT_URIS_MAX}`);
    for (const uri of redirectUris) {
      const problem = redirectUriProblem(uri);
      if (problem) throw badInput('redirectUris', `${uri}: ${problem}`);
    }
    const clientSecret = input.confidential ? randomToken(TOKEN_PREFIX.secret) : null;
    const [app] = await this.db
      .insert(apps)
      .values({
        clientId: `spaces_app_${randomBytes(12).toString('base64url')}`,
        clientSecretHash: clientSecret ? hashToken(clientSecret) : null,
        name: name.text,
        description,
        redirectUris,
        ownerId,
      })
      .returning();
    return { app: app!, clientSecret };
  }

  appsOf(ownerId: string): Promise<AppRow[]> {
    return this.db.select().from(apps).where(eq(apps.ownerId, ownerId)).orderBy(desc(apps.createdAt), desc(apps.id));
  }

  async appById(id: string): Promise<AppRow | null> {
    const [row] = await this.db.select().from(apps).where(eq(apps.id, id)).limit(1);
    return row ?? null;
  }

  async appsByIds(ids: readonly string[]): Promise<(AppRow | null)[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.select().from(apps).where(inArray(apps.id, [...ids]));
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async appByClientId(clientId: string): Promise<AppRow | null> {
    if (typeof clientId !== 'string' || clientId.length > 100) return null;
    const [row] = await this.db.select().from(apps).where(eq(apps.clientId, clientId)).limit(1);
    return row ?? null;
  }

  /** Deletes the owner's app: every authorization, code and token of it goes, sockets close. */
  async deleteApp(ownerId: string, id: string): Promise<boolean> {
    const [app] = await this.db.select({ id: apps.id }).from(apps).where(and(eq(apps.id, id), eq(apps.ownerId, ownerId))).limit(1);
    if (!app) throw notFound('No such app.');
    const tokens = await this.db
      .select({ id: sessions.id })
      .from(sessions)
      .innerJoin(appGrants, eq(appGrants.id, sessions.grantId))
      .where(and(eq(appGrants.appId, id), isNull(sessions.revokedAt)));
    await this.revokeTokens(tokens.map((t) => t.id));
    await this.db.delete(apps).where(eq(apps.id, id));
    return true;
  }

  // --- authorizations (grants) --------------------------------------------------------------

  /** The apps the user authorized (live grants), newest first. */
  appAuthorizations(userId: string): Promise<GrantRow[]> {
    return this.db
      .select()
      .from(appGrants)
      .where(and(eq(appGrants.userId, userId), isNull(appGrants.revokedAt)))
      .orderBy(desc(appGrants.createdAt), desc(appGrants.id));
  }

  /** The user takes back an app's authorization: its codes, access and refresh tokens stop working. */
  async revokeAppAuthorization(userId: string, grantId: string): Promise<boolean> {
    const [grant] = await this.db
      .select({ id: appGrants.id })
      .from(appGrants)
      .where(and(eq(appGrants.id, grantId), eq(appGrants.userId, userId), isNull(appGrants.revokedAt)))
      .limit(1);
    if (!grant) throw notFound('No such app authorization.');
    await this.revokeGrant(grant.id);
    return true;
  }

  private async revokeGrant(grantId: string): Promise<void> {
    const now = new Date();
    await this.db.update(appGrants).set({ revokedAt: now }).where(and(eq(appGrants.id, grantId), isNull(appGrants.revokedAt)));
    await this.db
      .update(oauthRefreshTokens)
      .set({ revokedAt: now })
      .where(and(eq(oauthRefreshTokens.grantId, grantId), isNull(oauthRefreshTokens.revokedAt)));
    await this.db.update(oauthCodes).set({ usedAt: now }).where(and(eq(oauthCodes.grantId, grantId), isNull(oauthCodes.usedAt)));
    const tokens = await this.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(eq(sessions.grantId, grantId), isNull(sessions.revokedAt)));
    await this.revokeTokens(tokens.map((t) => t.id));
  }

  /** Revokes what descends from one code: its access and refresh tokens (a code used twice). */
  private async revokeFamily(familyId: string): Promise<void> {
    const now = new Date();
    await this.db
      .update(oauthRefreshTokens)
      .set({ revokedAt: now })
      .where(and(eq(oauthRefreshTokens.familyId, familyId), isNull(oauthRefreshTokens.revokedAt)));
    const tokens = await this.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(eq(sessions.familyId, familyId), isNull(sessions.revokedAt)));
    await this.revokeTokens(tokens.map((t) => t.id));
  }

  // --- the authorization request (consent screen) -------------------------------------------

  /**
   * Checks an authorization request before anything is shown or redirected: an unknown client,
   * a redirect URI not registered exactly, a missing or plain PKCE challenge, an unknown scope
   * or a response type other than `code` is BAD_USER_INPUT (never a redirect to an unchecked URI).
   */
  async checkAuthorizationRequest(input: AuthorizationRequestInput): Promise<CheckedAuthorizationRequest> {
    const app = await this.appByClientId(input.clientId);
    if (!app) throw badInput('clientId', 'no app has this client id');
    if (!app.redirectUris.includes(input.redirectUri))
      throw badInput('redirectUri', 'is not one of the app’s registered redirect URIs (they must match exactly)');
    if (input.responseType !== 'code') throw badInput('responseType', 'only "code" is supported');
    if (!input.codeChallenge) throw badInput('codeChallenge', 'PKCE is required: send code_challenge with code_challenge_method=S256');
    if (input.codeChallengeMethod !== 'S256')
      throw badInput('codeChallengeMethod', 'only S256 is supported (plain is refused)');
    if (!S256_CHALLENGE.test(input.codeChallenge)) throw badInput('codeChallenge', 'must be the base64url SHA-256 of the verifier (43 characters)');
    if (input.state != null && (input.state.length > 500 || !/^[\x20-\x7e]*$/.test(input.state)))
      throw badInput('state', 'at most 500 printable ASCII characters');
    const scopes = parseScopeString(input.scope);
    return { app, scopes, redirectUri: input.redirectUri };
  }

  /**
   * The viewer allows the request: the library's authorize step issues the code (bound to the
   * PKCE challenge and redirect URI) and builds the redirect with code and state.
   */
  async approve(user: UserRow, input: AuthorizationRequestInput): Promise<string> {
    await this.checkAuthorizationRequest(input);
    const query: Record<string, string> = {
      response_type: input.responseType,
      client_id: input.clientId,
      redirect_uri: input.redirectUri,
      scope: input.scope,
      code_challenge: input.codeChallenge!,
      code_challenge_method: input.codeChallengeMethod!,
    };
    if (input.state) query.state = input.state;
    const request = new OAuthRequest({ method: 'GET', headers: {}, query, body: {} });
    const response = new OAuthResponse({ headers: {} });
    try {
      await this.oauth.authorize(request, response, { authenticateHandler: { handle: () => ({ id: user.id }) } } as never);
    } catch (error) {
      if (error instanceof OAuthError) throw badInput('authorization', error.message);
      throw error;
    }
    const location = response.get('location') as string | undefined;
    if (!location) throw new Error('authorize gave no redirect');
    return location;
  }

  /** The viewer refuses: back to the (checked) redirect URI with error=access_denied and state. */
  async deny(input: AuthorizationRequestInput): Promise<string> {
    const { redirectUri } = await this.checkAuthorizationRequest(input);
    const url = new URL(redirectUri);
    url.searchParams.set('error', 'access_denied');
    url.searchParams.set('error_description', 'The user denied the request.');
    if (input.state) url.searchParams.set('state', input.state);
    return url.toString();
  }

  // --- RFC 7009 revocation (POST /oauth/revoke) -----------------------------------------------

  /** Revokes an access or refresh token of this client; unknown tokens are not an error (RFC 7009). */
  async revokeForClient(appId: string, token: string): Promise<void> {
    if (typeof token !== 'string' || token.length > 200) return;
    const hash = hashToken(token);
    if (token.startsWith(TOKEN_PREFIX.refresh)) {
      const [row] = await this.db
        .select({ id: oauthRefreshTokens.id, grantId: oauthRefreshTokens.grantId, familyId: oauthRefreshTokens.familyId })
        .from(oauthRefreshTokens)
        .innerJoin(appGrants, eq(appGrants.id, oauthRefreshTokens.grantId))
        .where(and(eq(oauthRefreshTokens.tokenHash, hash), eq(appGrants.appId, appId)))
        .limit(1);
      // A refresh token's revocation ends its chain: the access tokens issued alongside it too.
      if (row) await this.revokeFamily(row.familyId);
      return;
    }
    const [row] = await this.db
      .select({ id: sessions.id })
      .from(sessions)
      .innerJoin(appGrants, eq(appGrants.id, sessions.grantId))
      .where(and(eq(sessions.tokenHash, hash), eq(appGrants.appId, appId), isNull(sessions.revokedAt)))
      .limit(1);
    if (row) await this.revokeTokens([row.id]);
  }

  /** The client of a token or revoke request: client_id, and the secret for confidential apps. */
  async authenticateClient(clientId: string, clientSecret: string | null | undefined): Promise<AppRow | null> {
    const app = await this.appByClientId(clientId);
    if (!app) return null;
    if (app.clientSecretHash === null) return clientSecret ? null : app;
    if (!clientSecret || clientSecret.length > 200) return null;
    const given = Buffer.from(hashToken(clientSecret));
    const stored = Buffer.from(app.clientSecretHash);
    return given.length === stored.length && timingSafeEqual(given, stored) ? app : null;
  }

  /** Marks a grant used (its lastUsedAt), at most once a minute. */
  async touchGrant(grantId: string): Promise<void> {
    await this.db
      .update(appGrants)
      .set({ lastUsedAt: new Date() })
      .where(and(eq(appGrants.id, grantId), or(isNull(appGrants.lastUsedAt), sql`${appGrants.lastUsedAt} < now() - interval '1 minute'`)));
  }

  // --- the model @node-oauth/oauth2-server runs on -----------------------------------------

  private model() {
    const db = this.db;
    const clientOf = (app: AppRow): OAuthClient => ({
      id: app.clientId,
      appId: app.id,
      grants: ['authorization_code', 'refresh_token'],
      redirectUris: app.redirectUris,
    });
    // A code or refresh token found by its hash, with the grant it was issued under and that grant's app.
    const findIssued = async <Issued extends typeof oauthCodes | typeof oauthRefreshTokens>(issued: Issued, hashMatches: SQL) => {
      const [row] = await db
        .select({ issued: issued as typeof oauthCodes, grant: appGrants, app: apps })
        .from(issued as typeof oauthCodes)
        .innerJoin(appGrants, eq(appGrants.id, issued.grantId))
        .innerJoin(apps, eq(apps.id, appGrants.appId))
        .where(hashMatches)
        .limit(1);
      // Drizzle cannot type a select over either table: the row is one of the table asked for.
      return row as { issued: Issued['$inferSelect']; grant: GrantRow; app: AppRow } | undefined;
    };
    // A code or refresh token as the library takes it back: the app it went to, and the user with
    // the grant and token family it belongs to (what saveToken files the next tokens under).
    const issuedTo = (app: AppRow, grant: GrantRow, familyId: string) => ({
      client: clientOf(app),
      user: { id: grant.userId, grantId: grant.id, familyId } satisfies OAuthUser,
    });
    return {
      getClient: async (clientId: string, clientSecret: string | null) => {
        // authorize() asks with no secret (the user is at the consent screen, not the client).
        if (clientSecret === null) {
          const app = await this.appByClientId(clientId);
          return app ? clientOf(app) : null;
        }
        const app = await this.authenticateClient(clientId, clientSecret);
        return app ? clientOf(app) : null;
      },
      // Exact string match (OAuth 2.1), as the library's default; said here on purpose.
      validateRedirectUri: async (redirectUri: string, client: OAuthClient) => client.redirectUris.includes(redirectUri),
      validateScope: async (_user: unknown, _client: OAuthClient, scope?: string[]) => {
        if (!scope || scope.length === 0 || !scope.every(isApiScope)) return false;
        return orderedScopes(scope as ApiScope[]);
      },
      generateAuthorizationCode: async () => randomBytes(32).toString('base64url'),
      generateAccessToken: async () => randomToken(TOKEN_PREFIX.access),
      generateRefreshToken: async () => randomToken(TOKEN_PREFIX.refresh),
      saveAuthorizationCode: async (
        code: { authorizationCode: string; expiresAt: Date; redirectUri: string; scope?: string[]; codeChallenge?: string; codeChallengeMethod?: string },
        client: OAuthClient,
        user: { id: string },
      ) => {
        // PKCE is required for every client (checked before, and here for any other path in).
        if (!code.codeChallenge || code.codeChallengeMethod !== 'S256')
          throw new OAuth2Server.InvalidRequestError('Invalid request: PKCE with code_challenge_method S256 is required');
        const scopes = orderedScopes((code.scope ?? []) as ApiScope[]);
        const grantId = await this.upsertGrant(user.id, client.appId, scopes);
        await db.insert(oauthCodes).values({
          codeHash: hashToken(code.authorizationCode),
          grantId,
          redirectUri: code.redirectUri,
          scopes,
          codeChallenge: code.codeChallenge,
          codeChallengeMethod: code.codeChallengeMethod,
          expiresAt: code.expiresAt,
        });
        return { ...code, client, user };
      },
      getAuthorizationCode: async (authorizationCode: string) => {
        const row = await findIssued(oauthCodes, eq(oauthCodes.codeHash, hashToken(authorizationCode)));
        if (!row || row.grant.revokedAt) return null;
        // Used before: someone replays it. Everything issued from it is revoked (OAuth 2.1 §4.1.3).
        if (row.issued.usedAt) {
          await this.revokeFamily(row.issued.id);
          return null;
        }
        return {
          authorizationCode,
          expiresAt: row.issued.expiresAt,
          redirectUri: row.issued.redirectUri,
          scope: row.issued.scopes,
          codeChallenge: row.issued.codeChallenge,
          codeChallengeMethod: row.issued.codeChallengeMethod,
          ...issuedTo(row.app, row.grant, row.issued.id),
        };
      },
      // Single use: only the first of two concurrent redemptions marks it.
      revokeAuthorizationCode: async (code: { authorizationCode: string }) => {
        const marked = await db
          .update(oauthCodes)
          .set({ usedAt: new Date() })
          .where(and(eq(oauthCodes.codeHash, hashToken(code.authorizationCode)), isNull(oauthCodes.usedAt)))
          .returning({ id: oauthCodes.id });
        return marked.length === 1;
      },
      saveToken: async (
        token: { accessToken: string; accessTokenExpiresAt?: Date; refreshToken?: string; refreshTokenExpiresAt?: Date; scope?: string[] },
        client: OAuthClient,
        user: OAuthUser,
      ) => {
        const scopes = orderedScopes((token.scope ?? []) as ApiScope[]);
        await db.transaction(async (tx) => {
          await tx.insert(sessions).values({
            userId: user.id,
            kind: 'oauth',
            tokenHash: hashToken(token.accessToken),
            scopes,
            grantId: user.grantId,
            familyId: user.familyId,
            expiresAt: token.accessTokenExpiresAt!,
          });
          if (token.refreshToken)
            await tx.insert(oauthRefreshTokens).values({
              tokenHash: hashToken(token.refreshToken),
              grantId: user.grantId,
              familyId: user.familyId,
              scopes,
              expiresAt: token.refreshTokenExpiresAt!,
            });
        });
        return { ...token, scope: scopes, client, user };
      },
      getRefreshToken: async (refreshToken: string) => {
        const row = await findIssued(oauthRefreshTokens, eq(oauthRefreshTokens.tokenHash, hashToken(refreshToken)));
        if (!row || row.grant.revokedAt || row.issued.revokedAt) return null;
        // A rotated refresh token presented again: stolen, or the app is confused. Either way the
        // whole authorization ends (OAuth 2.1 §4.3.1 refresh token rotation).
        if (row.issued.rotatedAt) {
          await this.revokeGrant(row.grant.id);
          return null;
        }
        return {
          refreshToken,
          refreshTokenExpiresAt: row.issued.expiresAt,
          scope: row.issued.scopes,
          ...issuedTo(row.app, row.grant, row.issued.familyId),
        };
      },
      // Rotation: the used refresh token is marked rotated; only one of two concurrent uses wins.
      revokeToken: async (token: { refreshToken: string }) => {
        const marked = await db
          .update(oauthRefreshTokens)
          .set({ rotatedAt: new Date() })
          .where(
            and(
              eq(oauthRefreshTokens.tokenHash, hashToken(token.refreshToken)),
              isNull(oauthRefreshTokens.rotatedAt),
              isNull(oauthRefreshTokens.revokedAt),
              gt(oauthRefreshTokens.expiresAt, new Date()),
            ),
          )
          .returning({ id: oauthRefreshTokens.id });
        return marked.length === 1;
      },
      // Bearer tokens are authenticated by Accounts.authenticate, not by the library.
      getAccessToken: async () => null,
    };
  }

  /** One live grant per user and app: a new approval adds its scopes to it. */
  private async upsertGrant(userId: string, appId: string, scopes: ApiScope[]): Promise<string> {
    const [existing] = await this.db
      .select()
      .from(appGrants)
      .where(and(eq(appGrants.userId, userId), eq(appGrants.appId, appId), isNull(appGrants.revokedAt)))
      .limit(1);
    if (existing) {
      const merged = orderedScopes([...(existing.scopes as ApiScope[]), ...scopes]);
      if (merged.length !== existing.scopes.length) await this.db.update(appGrants).set({ scopes: merged }).where(eq(appGrants.id, existing.id));
      return existing.id;
    }
    const [row] = await this.db
      .insert(appGrants)
      .values({ userId, appId, scopes })
      .onConflictDoNothing()
      .returning({ id: appGrants.id });
    if (row) return row.id;
    return this.upsertGrant(userId, appId, scopes);
  }

  #lastSweep = 0;

  /**
   * The janitor's part (at most once an hour per instance): codes, refresh tokens and token rows
   * a day past their expiry are deleted (an expired row can never authenticate; the day keeps
   * replays recognisable for a while). Resolves to how many rows went.
   */
  async sweepIfDue(now = Date.now()): Promise<number> {
    if (now - this.#lastSweep < 3_600_000) return 0;
    this.#lastSweep = now;
    const before = new Date(now - 86_400_000);
    const codes = await this.db.delete(oauthCodes).where(lt(oauthCodes.expiresAt, before)).returning({ id: oauthCodes.id });
    const refresh = await this.db
      .delete(oauthRefreshTokens)
      .where(lt(oauthRefreshTokens.expiresAt, before))
      .returning({ id: oauthRefreshTokens.id });
    const tokens = await this.db
      .delete(sessions)
      .where(and(inArray(sessions.kind, ['personal', 'oauth']), lt(sessions.expiresAt, before)))
      .returning({ id: sessions.id });
    return codes.length + refresh.length + tokens.length;
  }
}

/** Scopes in the canonical order, without duplicates. */
export function orderedScopes(scopes: readonly string[]): ApiScope[] {
  const set = new Set(scopes);
  return API_SCOPES.filter((s) => set.has(s));
}

/** An OAuth `scope` parameter: space-separated known scope strings, at least one. */
export function parseScopeString(scope: string): ApiScope[] {
  const words = scope.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) throw badInput('scope', 'ask for at least one scope');
  const unknown = words.filter((w) => !isApiScope(w));
  if (unknown.length > 0) throw badInput('scope', `unknown scope ${unknown.map((w) => `"${w}"`).join(', ')}; known: ${API_SCOPES.join(' ')}`);
  return orderedScopes(words);
}

/**
 * Why a redirect URI cannot be registered, or null: an absolute URI without a fragment; https,
 * or http only for loopback (RFC 8252 native apps), or a private-use scheme (com.example.app:/cb).
 */
export function redirectUriProblem(uri: string): string | null {
  if (uri.length > 500) return 'at most 500 characters';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'not an absolute URI';
  }
  if (url.hash || uri.includes('#')) return 'must not contain a fragment';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:')
    return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) ? null : 'http is allowed for localhost only; use https';
  if (/^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol)) return null;
  return 'use https, http://localhost, or a private-use scheme such as com.example.app:/callback';
}

