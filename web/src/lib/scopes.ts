/**
 * What a token may do, in words a person reads on the consent screen and the developer page.
 * The API names a scope two ways (api/src/domain/rules.ts): the OAuth string an app asks for
 * (`spaces:write`) and the GraphQL enum the PWA reads and sends (SPACES_WRITE).
 */

export type ApiScope = 'READ' | 'FOLLOW' | 'SPACES_WRITE' | 'SPACES_MODERATE' | 'AUDIO' | 'PROFILE_WRITE' | 'FLEETS_WRITE';

export interface ScopeInfo {
  scope: ApiScope;
  /** The OAuth scope string. */
  name: string;
  /** One line, what an app or script with it may do on the person's behalf. */
  words: string;
}

/** Every scope, in the order they are listed (reading first, then what changes things). */
export const SCOPES: readonly ScopeInfo[] = [
  { scope: 'READ', name: 'read', words: 'See spaces, people, profiles and fleets, and your notifications' },
  { scope: 'FOLLOW', name: 'follow', words: 'Follow and unfollow people' },
  { scope: 'SPACES_WRITE', name: 'spaces:write', words: 'Create, join and leave spaces; raise your hand; react' },
  { scope: 'SPACES_MODERATE', name: 'spaces:moderate', words: 'Moderate spaces you host: choose speakers, mute and remove people' },
  { scope: 'AUDIO', name: 'audio', words: 'Listen to spaces, and speak when you are on stage' },
  { scope: 'PROFILE_WRITE', name: 'profile:write', words: 'Change your name, bio and picture' },
  { scope: 'FLEETS_WRITE', name: 'fleets:write', words: 'Post, reply to and delete fleets' },
];

const BY_SCOPE = new Map(SCOPES.map((s) => [s.scope, s]));

/** The words for one scope (an unknown one, from a newer API, by its own name). */
export function scopeWords(scope: string): string {
  return BY_SCOPE.get(scope as ApiScope)?.words ?? scope.toLowerCase().replace(/_/g, ' ');
}

/** Scopes in the listed order, each once, with their words: what the screens show. */
export function describeScopes(scopes: readonly string[]): { scope: string; name: string; words: string }[] {
  const wanted = new Set(scopes);
  const known = SCOPES.filter((s) => wanted.has(s.scope));
  const unknown = [...wanted].filter((s) => !BY_SCOPE.has(s as ApiScope)).map((s) => ({ scope: s, name: s.toLowerCase(), words: scopeWords(s) }));
  return [...known, ...unknown];
}

/** A short list for a table cell: "read, spaces:write". */
export function scopeNames(scopes: readonly string[]): string {
  return describeScopes(scopes)
    .map((s) => s.name)
    .join(', ');
}
