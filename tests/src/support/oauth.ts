import { createHash, randomBytes } from 'node:crypto';
import type { TestApp } from './app.ts';

/** A PKCE pair (RFC 7636): a random verifier and its S256 challenge. */
export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export const REGISTER_APP = `mutation($input: RegisterAppInput!) {
  registerApp(input: $input) { clientSecret app { id clientId name confidential redirectUris owner { handle } } }
}`;
export const AUTHORIZATION_REQUEST = `query($input: AuthorizationRequestInput!) {
  authorizationRequest(input: $input) { app { clientId name owner { handle } } scopes redirectUri }
}`;
export const APPROVE = `mutation($input: AuthorizationRequestInput!) { approveAuthorization(input: $input) { redirectTo } }`;
export const DENY = `mutation($input: AuthorizationRequestInput!) { denyAuthorization(input: $input) { redirectTo } }`;
export const CREATE_PAT = `mutation($input: CreatePersonalAccessTokenInput!) {
  createPersonalAccessToken(input: $input) { token personalAccessToken { id name scopes createdAt expiresAt lastUsedAt } }
}`;

export interface RegisteredApp {
  id: string;
  clientId: string;
  clientSecret: string | null;
  redirectUri: string;
}

export async function registerApp(
  t: TestApp,
  ownerToken: string,
  options: { confidential?: boolean; redirectUris?: string[]; name?: string } = {},
): Promise<RegisteredApp> {
  const redirectUris = options.redirectUris ?? ['https://app.example/callback'];
  const r = await t.gql(REGISTER_APP, { input: { name: options.name ?? 'Test app', redirectUris, confidential: options.confidential ?? false } }, { token: ownerToken });
  if (!r.data?.registerApp) throw new Error(`registerApp failed: ${JSON.stringify(r.errors)}`);
  return { id: r.data.registerApp.app.id, clientId: r.data.registerApp.app.clientId, clientSecret: r.data.registerApp.clientSecret, redirectUri: redirectUris[0]! };
}

/** The parameters of an authorization request (as the consent page gets them). */
export function authorizationInput(app: RegisteredApp, scope: string, challenge: string, extra: Record<string, unknown> = {}) {
  return {
    responseType: 'code',
    clientId: app.clientId,
    redirectUri: app.redirectUri,
    scope,
    state: 'st-' + randomBytes(4).toString('hex'),
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    ...extra,
  };
}

/** The user approves: the code from the redirect (and the redirect itself). */
export async function approve(t: TestApp, userToken: string, input: Record<string, unknown>) {
  const r = await t.gql(APPROVE, { input }, { token: userToken });
  if (!r.data?.approveAuthorization) throw new Error(`approveAuthorization failed: ${JSON.stringify(r.errors)}`);
  const redirectTo = new URL(r.data.approveAuthorization.redirectTo);
  return { redirectTo, code: redirectTo.searchParams.get('code')!, state: redirectTo.searchParams.get('state') };
}

export interface TokenAnswer {
  status: number;
  body: {
    access_token?: string;
    refresh_token?: string;
    token_type?: string;
    expires_in?: number;
    scope?: string;
    error?: string;
    error_description?: string;
  };
}

/** POST a form to an OAuth endpoint of the running app. */
export async function postForm(base: string, path: string, form: Record<string, string | undefined>, headers: Record<string, string> = {}): Promise<TokenAnswer> {
  const body = new URLSearchParams(Object.entries(form).filter((e): e is [string, string] => e[1] !== undefined));
  const response = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  return { status: response.status, body: (await response.json()) as TokenAnswer['body'] };
}

/** Approve and exchange: a fresh access and refresh token for `user` with `scope`. */
export async function oauthTokens(t: TestApp, base: string, app: RegisteredApp, userToken: string, scope: string) {
  const { verifier, challenge } = pkce();
  const { code } = await approve(t, userToken, authorizationInput(app, scope, challenge));
  const answer = await postForm(base, '/oauth/token', {
    grant_type: 'authorization_code',
    code,
    redirect_uri: app.redirectUri,
    client_id: app.clientId,
    client_secret: app.clientSecret ?? undefined,
    code_verifier: verifier,
  });
  if (answer.status !== 200) throw new Error(`token exchange failed: ${JSON.stringify(answer.body)}`);
  return { accessToken: answer.body.access_token!, refreshToken: answer.body.refresh_token!, answer };
}

/** A personal access token for `userToken`'s user with these scope enum values. */
export async function personalToken(t: TestApp, userToken: string, scopes: string[], name = 'script', expiresInDays = 30) {
  const r = await t.gql(CREATE_PAT, { input: { name, scopes, expiresInDays } }, { token: userToken });
  if (!r.data?.createPersonalAccessToken) throw new Error(`createPersonalAccessToken failed: ${JSON.stringify(r.errors)}`);
  return r.data.createPersonalAccessToken as { token: string; personalAccessToken: { id: string; name: string; scopes: string[]; expiresAt: string; lastUsedAt: string | null } };
}
