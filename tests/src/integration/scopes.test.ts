import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLObjectType } from 'graphql';
import { schema } from '@spaces/api';
import { API_SCOPES, MEDIA_UPLOAD_SCOPES, ROOT_FIELD_RULES, type ApiScope, type RootType } from '@spaces/api/rules';
import { codes, handle, startTestApp, type GqlResult, type TestApp } from '../support/app.ts';
import { personalToken } from '../support/oauth.ts';
import { subscribe, wsClient } from '../support/ws.ts';
import { rootFieldCall } from '../support/field-calls.ts';

/**
 * The scope matrix, driven by the rules table (domain/rules.ts ROOT_FIELD_RULES) and the served
 * schema: for each scope, a personal access token with only that scope calls every root field
 * and must get past the scope check exactly where the rules say, and `FORBIDDEN` naming the
 * missing scope everywhere else. A root field added without a decision fails the first test.
 */
let t: TestApp;
let base: string;
let owner: { id: string; token: string; handle: string };
const tokens = new Map<ApiScope, string>();
let spaceId: string;

const ROOTS: { type: RootType; object: GraphQLObjectType; keyword: string }[] = [
  { type: 'Query', object: schema.getQueryType()!, keyword: 'query' },
  { type: 'Mutation', object: schema.getMutationType()!, keyword: 'mutation' },
  { type: 'Subscription', object: schema.getSubscriptionType()!, keyword: 'subscription' },
];

/** Called separately: they change who is signed in (signOut would revoke the token under test). */
const NOT_IN_MATRIX = new Set(['signOut', 'signIn', 'signUp', 'startGuestSession']);

const enumOf = (scope: ApiScope) => scope.replace(':', '_').toUpperCase();

beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.start();
  owner = await t.signUp(handle('sc'));
  for (const scope of API_SCOPES) tokens.set(scope, (await personalToken(t, owner.token, [enumOf(scope)], `only ${scope}`)).token);
  const created = await t.gql(`mutation { createSpace(input: { title: "Matrix", speakerPolicy: EVERYONE }) { id } }`, {}, { token: owner.token });
  spaceId = created.data!.createSpace.id;
});
afterAll(() => t?.close());

// The scope check runs before any resolver: any id will do.
const callOf = (root: (typeof ROOTS)[number], fieldName: string) => rootFieldCall(root.keyword, root.object, fieldName, spaceId);

/** The scope the refusal named, or null when the call got past the scope check. */
const refusedFor = (r: GqlResult) => {
  const refusal = r.errors?.find((e) => e.extensions?.code === 'FORBIDDEN' && e.extensions.requiredScope);
  return refusal ? (refusal.extensions!.requiredScope as string) : null;
};

describe('every root field has a scope decision', () => {
  it('each Query, Mutation and Subscription field is in the rules table, and the table names only real fields', () => {
    for (const root of ROOTS) {
      const served = Object.keys(root.object.getFields()).sort();
      const decided = Object.keys(ROOT_FIELD_RULES[root.type]).sort();
      expect(served.filter((f) => !decided.includes(f)), `${root.type} fields without a scope decision`).toEqual([]);
      expect(decided.filter((f) => !served.includes(f)), `${root.type} rules for fields that do not exist`).toEqual([]);
    }
  });

  it('every rule is a known scope, SESSION_ONLY or OPEN; and the token-management fields are SESSION_ONLY', () => {
    for (const root of ROOTS)
      for (const [field, rule] of Object.entries(ROOT_FIELD_RULES[root.type]))
        expect([...API_SCOPES, 'SESSION_ONLY', 'OPEN'], `${root.type}.${field}`).toContain(rule);
    for (const field of ['personalAccessTokens', 'apps', 'appAuthorizations', 'authorizationRequest'])
      expect(ROOT_FIELD_RULES.Query[field]).toBe('SESSION_ONLY');
    for (const field of ['createPersonalAccessToken', 'revokePersonalAccessToken', 'registerApp', 'deleteApp', 'approveAuthorization', 'denyAuthorization', 'revokeAppAuthorization'])
      expect(ROOT_FIELD_RULES.Mutation[field]).toBe('SESSION_ONLY');
  });
});

describe('the scope matrix (HTTP)', () => {
  for (const scope of API_SCOPES) {
    it(`a token with only "${scope}"`, async () => {
      const token = tokens.get(scope)!;
      const allowed: string[] = [];
      const refused: string[] = [];
      for (const root of ROOTS.slice(0, 2)) {
        for (const [field, rule] of Object.entries(ROOT_FIELD_RULES[root.type])) {
          if (NOT_IN_MATRIX.has(field)) continue;
          const { query, variables } = callOf(root, field);
          const r = await t.gql(query, variables, { token });
          const named = refusedFor(r);
          const label = `${root.type}.${field} (${rule})`;
          if (rule === scope || rule === 'OPEN') {
            expect(named, `${label} must be allowed for "${scope}": ${JSON.stringify(r.errors)}`).toBeNull();
            allowed.push(field);
          } else {
            expect(named, `${label} must be refused for "${scope}": ${JSON.stringify(r.errors)}`).toBe(rule === 'SESSION_ONLY' ? 'session' : rule);
            expect(codes(r)).toContain('FORBIDDEN');
            const message = r.errors!.find((e) => e.extensions?.requiredScope)!.message;
            expect(message).toBe(
              rule === 'SESSION_ONLY' ? "Only the Spaces app's own sign-in can manage tokens and apps." : `This token lacks the "${rule}" scope.`,
            );
            refused.push(field);
          }
        }
      }
      // The matrix is not vacuous: every scope allows something and refuses the rest.
      expect(allowed.length).toBeGreaterThan(0);
      expect(refused.length).toBeGreaterThan(0);
    });
  }

  it('a token with every scope still cannot use session-only fields', async () => {
    const { token } = await personalToken(t, owner.token, API_SCOPES.map(enumOf), 'everything');
    for (const root of ROOTS.slice(0, 2))
      for (const [field, rule] of Object.entries(ROOT_FIELD_RULES[root.type])) {
        if (NOT_IN_MATRIX.has(field)) continue;
        const { query, variables } = callOf(root, field);
        const named = refusedFor(await t.gql(query, variables, { token }));
        expect(named, `${root.type}.${field}`).toBe(rule === 'SESSION_ONLY' ? 'session' : null);
      }
  });

  it('the PWA’s own session is allowed every field', async () => {
    const session = await t.signUp(handle('pw'));
    for (const root of ROOTS.slice(0, 2))
      for (const field of Object.keys(ROOT_FIELD_RULES[root.type])) {
        if (NOT_IN_MATRIX.has(field)) continue;
        const { query, variables } = callOf(root, field);
        const r = await t.gql(query, variables, { token: session.token });
        expect(refusedFor(r), `${root.type}.${field}: ${JSON.stringify(r.errors)}`).toBeNull();
      }
  });
});

describe('subscriptions over graphql-ws', () => {
  it('need "read": refused with the scope named otherwise, delivered with it', async () => {
    for (const field of Object.keys(ROOT_FIELD_RULES.Subscription)) {
      const rule = ROOT_FIELD_RULES.Subscription[field]!;
      const { query, variables } = callOf(ROOTS[2]!, field);
      for (const scope of ['follow', rule] as ApiScope[]) {
        const client = wsClient(base, { token: tokens.get(scope)! });
        const sub = subscribe(client, query, variables);
        for (const deadline = Date.now() + 3_000; sub.errors.length === 0 && sub.events.length === 0 && !sub.completed && Date.now() < deadline; )
          await new Promise((r) => setTimeout(r, 25));
        const errors = sub.errors.flat() as { extensions?: { requiredScope?: string } }[];
        const named = errors.find((e) => e?.extensions?.requiredScope)?.extensions?.requiredScope ?? null;
        expect(named, `${field} with "${scope}": ${JSON.stringify(sub.errors)}`).toBe(scope === rule ? null : rule);
        await sub.close();
        await client.dispose();
      }
    }
  });

  it('the authorization connection param works like authToken', async () => {
    const client = wsClient(base);
    // A raw client with `authorization: Bearer …`.
    await client.dispose();
    const { createClient } = await import('graphql-ws');
    const WebSocket = (await import('ws')).default;
    const bearer = createClient({
      url: base.replace(/^http/, 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${tokens.get('read')!}` },
      retryAttempts: 0,
    });
    const viewer = await new Promise<unknown>((resolve, reject) => {
      bearer.subscribe({ query: '{ viewer { handle } }' }, { next: (v) => resolve(v), error: reject, complete: () => {} });
    });
    expect(viewer).toEqual({ data: { viewer: { handle: owner.handle } } });
    await bearer.dispose();
  });
});

describe('HTTP uploads', () => {
  for (const [path, scope] of Object.entries(MEDIA_UPLOAD_SCOPES)) {
    it(`${path} needs "${scope}"`, async () => {
      const post = (token: string) =>
        fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' }, body: new Uint8Array([1, 2, 3]) });
      const other = API_SCOPES.find((s) => s !== scope)!;
      const refused = await post(tokens.get(other)!);
      expect(refused.status).toBe(403);
      const body = (await refused.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(body.errors[0]!.extensions).toMatchObject({ code: 'FORBIDDEN', requiredScope: scope });
      expect(body.errors[0]!.message).toBe(`This token lacks the "${scope}" scope.`);
      // With the scope: past the check (the three bytes are not an image).
      const allowed = await post(tokens.get(scope)!);
      expect(allowed.status).toBe(422);
      expect(((await allowed.json()) as { errors: { extensions: Record<string, unknown> }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    });
  }
});

describe('signOut with a token', () => {
  it('revokes that token only: the person stays signed in, in their spaces', async () => {
    const { token } = await personalToken(t, owner.token, ['READ'], 'short-lived');
    const out = await t.gql(`mutation { signOut }`, {}, { token });
    expect(out.data?.signOut).toBe(true);
    expect(out.headers.get('set-cookie')).toBeNull();
    expect(codes(await t.gql(`{ viewer { id } }`, {}, { token }))).toEqual(['UNAUTHENTICATED']);
    const still = await t.gql(`{ viewer { handle } }`, {}, { token: owner.token });
    expect(still.data?.viewer.handle).toBe(owner.handle);
  });
});
