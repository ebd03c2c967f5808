import { describe, expect, it } from 'vitest';
import { describeScopes, SCOPES, scopeNames, scopeWords } from './scopes';

describe('scope words', () => {
  it('names every scope of the API once, with its OAuth string', () => {
    expect(SCOPES.map((s) => s.scope)).toEqual(['READ', 'FOLLOW', 'SPACES_WRITE', 'SPACES_MODERATE', 'AUDIO', 'PROFILE_WRITE', 'FLEETS_WRITE']);
    expect(SCOPES.map((s) => s.name)).toEqual(['read', 'follow', 'spaces:write', 'spaces:moderate', 'audio', 'profile:write', 'fleets:write']);
    // Each says something different: a person can tell them apart on the consent screen.
    expect(new Set(SCOPES.map((s) => s.words)).size).toBe(SCOPES.length);
  });

  it('says what spaces:write allows in plain words', () => {
    expect(scopeWords('SPACES_WRITE')).toBe('Create, join and leave spaces; raise your hand; react');
  });

  it('lists scopes in a fixed order, each once, whatever order the API sent', () => {
    expect(describeScopes(['SPACES_WRITE', 'READ', 'READ']).map((s) => s.name)).toEqual(['read', 'spaces:write']);
    expect(scopeNames(['FLEETS_WRITE', 'FOLLOW'])).toBe('follow, fleets:write');
  });

  it('still shows a scope a newer API added, by its own name', () => {
    expect(describeScopes(['READ', 'DIRECT_MESSAGES'])).toEqual([
      expect.objectContaining({ name: 'read' }),
      { scope: 'DIRECT_MESSAGES', name: 'direct_messages', words: 'direct messages' },
    ]);
  });
});
