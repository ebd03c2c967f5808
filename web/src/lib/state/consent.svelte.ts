import { AppError, toAppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';
import {
  ApproveAuthorizationMutation,
  AuthorizationRequestQuery,
  DenyAuthorizationMutation,
  type AuthorizationRequestData,
  type AuthorizationRequestInput,
} from '$lib/graphql/apps';

/**
 * The query of GET /oauth/authorize as the API's AuthorizationRequestInput. A missing required
 * parameter is sent empty, so the API's own check (BAD_USER_INPUT, naming it) is the one shown.
 */
export function authorizationInput(params: URLSearchParams): AuthorizationRequestInput {
  const optional = (name: string) => params.get(name) ?? null;
  return {
    responseType: params.get('response_type') ?? '',
    clientId: params.get('client_id') ?? '',
    redirectUri: params.get('redirect_uri') ?? '',
    scope: params.get('scope') ?? '',
    state: optional('state'),
    codeChallenge: optional('code_challenge'),
    codeChallengeMethod: optional('code_challenge_method'),
  };
}

/**
 * - loading: asking the API whether the request is valid
 * - ready: the consent screen (Allow / Deny)
 * - invalid: the request itself is wrong (unknown app, unregistered redirect URI, no PKCE …):
 *   shown on the page and never redirected, since the redirect URI cannot be trusted
 * - signed-out: the session is gone; the page sends the person to sign in and back
 * - error: anything else (the network, the server); Try again
 * - deciding: Allow or Deny was pressed and the API is answering
 * - leaving: the browser is on its way back to the app
 */
export type ConsentStatus = 'loading' | 'ready' | 'invalid' | 'signed-out' | 'error' | 'deciding' | 'leaving';

/** The OAuth consent screen: checks the request, then sends the person back to the app with the answer. */
export class Consent {
  status = $state<ConsentStatus>('loading');
  request = $state<AuthorizationRequestData | null>(null);
  error = $state<AppError | null>(null);
  /** What the person chose, while the browser leaves (for the words on screen). */
  decision = $state<'allow' | 'deny' | null>(null);

  #api: Api;
  #navigate: (url: string) => void;
  #input: AuthorizationRequestInput | null = null;

  /** `navigate` leaves the app for the app's redirect URI (location.assign in the page). */
  constructor(api: Api, navigate: (url: string) => void) {
    this.#api = api;
    this.#navigate = navigate;
  }

  async load(input: AuthorizationRequestInput): Promise<void> {
    this.#input = input;
    this.status = 'loading';
    this.error = null;
    try {
      const data = await this.#api.query(AuthorizationRequestQuery, { input });
      this.request = data.authorizationRequest;
      this.status = 'ready';
    } catch (error) {
      this.#failed(toAppError(error));
    }
  }

  allow(): Promise<void> {
    return this.#decide('allow');
  }

  deny(): Promise<void> {
    return this.#decide('deny');
  }

  async #decide(decision: 'allow' | 'deny'): Promise<void> {
    const input = this.#input;
    if (!input || this.status !== 'ready') return;
    this.status = 'deciding';
    this.decision = decision;
    this.error = null;
    try {
      const redirectTo =
        decision === 'allow'
          ? (await this.#api.mutate(ApproveAuthorizationMutation, { input })).approveAuthorization.redirectTo
          : (await this.#api.mutate(DenyAuthorizationMutation, { input })).denyAuthorization.redirectTo;
      this.status = 'leaving';
      this.#navigate(redirectTo);
    } catch (error) {
      this.decision = null;
      const failure = toAppError(error);
      this.#failed(failure);
      // A passing failure leaves the choice open: the request itself was fine.
      if (failure.code !== 'BAD_USER_INPUT' && failure.code !== 'UNAUTHENTICATED') this.status = 'ready';
    }
  }

  #failed(error: AppError): void {
    this.error = error;
    if (error.code === 'BAD_USER_INPUT') this.status = 'invalid';
    else if (error.code === 'UNAUTHENTICATED') this.status = 'signed-out';
    else this.status = 'error';
  }
}
