import { describe, expect, it } from 'vitest';
import { API_SCOPES, ROOT_FIELD_RULES, tokenMayUse } from './rules.ts';
import { orderedScopes, parseScopeString, redirectUriProblem } from '../services/apps.ts';

describe('tokenMayUse', () => {
  it('the PWA session (null scopes) may use every field, session-only ones too', () => {
    expect(tokenMayUse('Mutation', 'createPersonalAccessToken', null)).toEqual({ ok: true });
    expect(tokenMayUse('Mutation', 'createSpace', null)).toEqual({ ok: true });
  });

  it('a token needs the field’s scope, and names it when missing', () => {
    expect(tokenMayUse('Mutation', 'createSpace', new Set(['spaces:write']))).toEqual({ ok: true });
    expect(tokenMayUse('Mutation', 'createSpace', new Set(['read']))).toEqual({
      ok: false,
      requiredScope: 'spaces:write',
      message: 'This token lacks the "spaces:write" scope.',
    });
    expect(tokenMayUse('Query', 'iceServers', new Set(['read']))).toMatchObject({ ok: false, requiredScope: 'audio' });
  });

  it('session-only and undecided fields are refused to every token; open ones allowed', () => {
    const all = new Set(API_SCOPES);
    expect(tokenMayUse('Mutation', 'registerApp', all)).toMatchObject({ ok: false, requiredScope: 'session' });
    expect(tokenMayUse('Mutation', 'someNewField', all)).toMatchObject({ ok: false, requiredScope: 'session' });
    expect(tokenMayUse('Mutation', 'signOut', new Set())).toEqual({ ok: true });
  });

  it('every scope is required by at least one root field', () => {
    const used = new Set(Object.values(ROOT_FIELD_RULES).flatMap((rules) => Object.values(rules)));
    for (const scope of API_SCOPES) expect(used.has(scope), scope).toBe(true);
  });
});

describe('OAuth parameters', () => {
  it('scope strings: known, space-separated, in canonical order', () => {
    expect(parseScopeString('spaces:write  read')).toEqual(['read', 'spaces:write']);
    expect(() => parseScopeString('read admin')).toThrow(/unknown scope "admin"/);
    expect(() => parseScopeString('  ')).toThrow(/at least one/);
    expect(orderedScopes(['audio', 'read', 'audio'])).toEqual(['read', 'audio']);
  });

  it('redirect URIs: https, loopback http, private-use schemes; no fragments', () => {
    expect(redirectUriProblem('https://app.example/cb?x=1')).toBeNull();
    expect(redirectUriProblem('http://127.0.0.1:5000/cb')).toBeNull();
    expect(redirectUriProblem('http://localhost/cb')).toBeNull();
    expect(redirectUriProblem('com.example.app:/oauth')).toBeNull();
    expect(redirectUriProblem('http://app.example/cb')).toMatch(/localhost only/);
    expect(redirectUriProblem('https://app.example/cb#frag')).toMatch(/fragment/);
    expect(redirectUriProblem('javascript:alert(1)')).not.toBeNull();
    expect(redirectUriProblem('/relative')).toMatch(/absolute/);
  });
});
