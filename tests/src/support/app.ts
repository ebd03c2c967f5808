import { buildApp, type App } from '@spaces/api';
import { createTestDatabase } from './database.ts';

export interface GqlResult<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [k: string]: unknown } }[];
  headers: Headers;
}

export interface TestApp {
  app: App;
  databaseUrl: string;
  /** One GraphQL request through the app's fetch (in-process, no socket). */
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<GqlResult<T>>;
  /** Signs up a user and returns its id and bearer token. */
  signUp(handle: string, displayName?: string): Promise<{ id: string; token: string; handle: string }>;
  close(): Promise<void>;
}

let counter = 0;
/** A unique valid handle for this run: prefix + counter (3–15 chars). */
export const handle = (prefix = 'u') => `${prefix}${(counter++).toString(36)}_${Math.random().toString(36).slice(2, 6)}`.slice(0, 15);

/**
 * startTestApp's rate limits. Every in-process request shares one client key, and suites reuse a
 * few users for hundreds of operations a minute: per-user limits are off here (security/limits.test.ts
 * tests them). A suite passing its own `rateLimits` replaces these: spread them first to keep them.
 */
export const TEST_APP_RATE_LIMITS = {
  signInPerMinutePerClient: 10_000,
  signInPerMinutePerHandle: 10,
  signUpPerHourPerClient: 10_000,
  requestToSpeakPerMinutePerUser: 10_000,
  joinLeavePerMinutePerUser: 10_000,
  followPerMinutePerUser: 10_000,
  oauthEndpointPerMinutePerClient: 10_000,
};

export async function startTestApp(options: Parameters<typeof buildApp>[0] = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const app = await buildApp({
    database: database.handle,
    serveWeb: false,
    port: 0,
    host: '127.0.0.1',
    rateLimits: TEST_APP_RATE_LIMITS,
    // Suites act as HTTP-only clients that hold no subscription for minutes: nobody leaves for
    // going unseen here unless a suite asks (integration/presence.test.ts).
    presenceGraceMs: 600_000,
    ...options,
  });
  const gql: TestApp['gql'] = async (query, variables, opts = {}) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const response = await app.yoga.fetch('http://spaces.test/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`non-JSON response ${response.status}: ${text.slice(0, 200)}`);
    }
    return { status: response.status, headers: response.headers, ...(body as object) } as GqlResult<any>;
  };
  return {
    app,
    databaseUrl: database.url,
    gql,
    async signUp(h: string, displayName = h) {
      const result = await gql(
        `mutation($input: SignUpInput!) { signUp(input: $input) { token user { id handle } } }`,
        { input: { handle: h, displayName, password: 'correct horse battery' } },
      );
      if (!result.data?.signUp) throw new Error(`signUp ${h} failed: ${JSON.stringify(result.errors)}`);
      return { id: result.data.signUp.user.id, token: result.data.signUp.token, handle: h };
    },
    async close() {
      await app.stop();
      await database.drop();
    },
  };
}

/** The codes of a result's errors, for compact assertions. */
export const codes = (result: GqlResult) => (result.errors ?? []).map((e) => e.extensions?.code);
