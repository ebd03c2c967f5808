/**
 * The Spaces API's GraphQL endpoint, in process (app.yoga.fetch, no socket), for the voice
 * benchmarks (bench/voice.ts, bench/convergence.ts): users, spaces and their participants.
 */
import { randomBytes } from 'node:crypto';
import type { App } from '@spaces/api';

/** The database id inside a global id ("Type:id", base64). */
export const rawId = (globalId: string) => Buffer.from(globalId, 'base64url').toString().split(':')[1]!;

export interface BenchUser {
  /** Global id (what GraphQL arguments such as muteParticipant's userId take). */
  id: string;
  /** Database id. */
  userId: string;
  token: string;
  handle: string;
  participantId?: string;
}

export interface GraphqlClient {
  /** One request; throws on GraphQL errors. */
  gql(query: string, variables: Record<string, unknown>, token?: string): Promise<any>;
  signUp(prefix: string): Promise<BenchUser>;
  /** The viewer's participant id (database id) in a space (global id). */
  participantIdOf(space: string, user: BenchUser): Promise<string>;
}

export function graphqlClient(app: App): GraphqlClient {
  const gql: GraphqlClient['gql'] = async (query, variables, token) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await app.yoga.fetch('http://spaces.bench/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    if (body.errors?.length || !body.data) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
  return {
    gql,
    async signUp(prefix) {
      const handle = `${prefix}${randomBytes(4).toString('hex')}`.slice(0, 15);
      const data = await gql(`mutation($i: SignUpInput!) { signUp(input: $i) { token user { id } } }`, {
        i: { handle, displayName: handle, password: 'correct horse battery' },
      });
      return { id: data.signUp.user.id, userId: rawId(data.signUp.user.id), token: data.signUp.token, handle };
    },
    async participantIdOf(space, user) {
      const data = await gql(`query($s: ID!) { space(id: $s) { viewerParticipant { id } } }`, { s: space }, user.token);
      return rawId(data.space.viewerParticipant.id);
    },
  };
}
