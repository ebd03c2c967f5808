import { describe, expect, it } from 'vitest';
import { FakeApi, graphQLError } from '$lib/testing/fake-api';
import { authorizationInput, Consent } from './consent.svelte';

const query = new URLSearchParams({
  response_type: 'code',
  client_id: 'spaces_app_1',
  redirect_uri: 'https://bot.example/callback',
  scope: 'read spaces:write',
  state: 'xyz',
  code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  code_challenge_method: 'S256',
});

const request = {
  redirectUri: 'https://bot.example/callback',
  scopes: ['READ', 'SPACES_WRITE'],
  app: {
    id: 'A1',
    clientId: 'spaces_app_1',
    name: 'Echo bot',
    description: 'Says hello',
    redirectUris: ['https://bot.example/callback'],
    confidential: false,
    createdAt: '2026-01-01T00:00:00.000Z',
    owner: { id: 'U2', handle: 'maker', displayName: 'Maker' },
  },
};

function consentWith(api: FakeApi) {
  const visited: string[] = [];
  return { consent: new Consent(api, (url) => visited.push(url)), visited };
}

describe('authorizationInput', () => {
  it('maps the OAuth query parameters to the API input', () => {
    expect(authorizationInput(query)).toEqual({
      responseType: 'code',
      clientId: 'spaces_app_1',
      redirectUri: 'https://bot.example/callback',
      scope: 'read spaces:write',
      state: 'xyz',
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      codeChallengeMethod: 'S256',
    });
  });

  it('sends missing parameters empty (required) or null (optional), for the API to judge', () => {
    expect(authorizationInput(new URLSearchParams('client_id=c'))).toEqual({
      responseType: '',
      clientId: 'c',
      redirectUri: '',
      scope: '',
      state: null,
      codeChallenge: null,
      codeChallengeMethod: null,
    });
  });
});

describe('Consent', () => {
  it('shows a checked request, then Allow sends the browser where the API says', async () => {
    const api = new FakeApi()
      .on('AuthorizationRequest', { authorizationRequest: request })
      .on('ApproveAuthorization', { approveAuthorization: { redirectTo: 'https://bot.example/callback?code=c1&state=xyz' } });
    const { consent, visited } = consentWith(api);
    await consent.load(authorizationInput(query));
    expect(consent.status).toBe('ready');
    expect(consent.request?.app.name).toBe('Echo bot');
    await consent.allow();
    expect(api.callsTo('ApproveAuthorization')).toEqual([{ name: 'ApproveAuthorization', variables: { input: authorizationInput(query) } }]);
    expect(visited).toEqual(['https://bot.example/callback?code=c1&state=xyz']);
    expect(consent.status).toBe('leaving');
    expect(consent.decision).toBe('allow');
  });

  it('Deny goes back with the API’s answer too, and only one decision is sent', async () => {
    const api = new FakeApi()
      .on('AuthorizationRequest', { authorizationRequest: request })
      .on('DenyAuthorization', { denyAuthorization: { redirectTo: 'https://bot.example/callback?error=access_denied&state=xyz' } })
      .on('ApproveAuthorization', { approveAuthorization: { redirectTo: 'https://bot.example/callback?code=c1' } });
    const { consent, visited } = consentWith(api);
    await consent.load(authorizationInput(query));
    await Promise.all([consent.deny(), consent.allow()]);
    expect(visited).toEqual(['https://bot.example/callback?error=access_denied&state=xyz']);
    expect(api.callsTo('ApproveAuthorization')).toHaveLength(0);
  });

  it('shows an invalid request on the page and never navigates', async () => {
    const api = new FakeApi().on(
      'AuthorizationRequest',
      graphQLError('BAD_USER_INPUT', 'redirectUri: is not one of the app’s registered redirect URIs', { field: 'redirectUri' }),
    );
    const { consent, visited } = consentWith(api);
    await consent.load(authorizationInput(query));
    expect(consent.status).toBe('invalid');
    expect(consent.error?.message).toBe('The redirect URI is not one of the app’s registered redirect URIs.');
    await consent.allow();
    await consent.deny();
    expect(visited).toEqual([]);
    expect(api.callsTo('ApproveAuthorization')).toHaveLength(0);
  });

  it('asks to sign in when the session is gone', async () => {
    const api = new FakeApi().on('AuthorizationRequest', graphQLError('UNAUTHENTICATED', 'Sign in first.'));
    const { consent } = consentWith(api);
    await consent.load(authorizationInput(query));
    expect(consent.status).toBe('signed-out');
  });

  it('keeps the choice open when deciding fails for a passing reason', async () => {
    let fail = true;
    const api = new FakeApi()
      .on('AuthorizationRequest', { authorizationRequest: request })
      .on('ApproveAuthorization', () =>
        fail ? graphQLError('INTERNAL_SERVER_ERROR', 'boom') : { approveAuthorization: { redirectTo: 'https://bot.example/callback?code=c2' } },
      );
    const { consent, visited } = consentWith(api);
    await consent.load(authorizationInput(query));
    await consent.allow();
    expect(consent.status).toBe('ready');
    expect(consent.error?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(consent.decision).toBeNull();
    expect(visited).toEqual([]);
    fail = false;
    await consent.allow();
    expect(visited).toEqual(['https://bot.example/callback?code=c2']);
  });
});
