import { performance } from 'node:perf_hooks';

/**
 * One GraphQL request over HTTP to a running app, as a client would send it; throws on errors
 * (benchmarks arrange scenarios with it). Resolves with the data and the ms from send to reply.
 */
export async function timedGraphQL(baseUrl: string, query: string, variables: Record<string, unknown>, token?: string) {
  const startedAt = performance.now();
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(`${query.slice(0, 50)}…: ${JSON.stringify(body.errors)}`);
  return { data: body.data, ms: performance.now() - startedAt };
}
