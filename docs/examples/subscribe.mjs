// Follows one space live: who joins and leaves, reactions, role changes... until it ends.
//   SPACES_URL=https://spaces.example.org SPACES_TOKEN=spaces_pat_... SPACE_ID=U3BhY2U6... node subscribe.mjs
// Needs the `read` scope. Prints one JSON line per event; exits when the space ends.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const { SPACES_URL, SPACES_TOKEN, SPACE_ID } = process.env;
if (!SPACES_URL || !SPACES_TOKEN || !SPACE_ID) throw new Error('Set SPACES_URL, SPACES_TOKEN and SPACE_ID.');

// Plain HTTP for queries and mutations: POST /graphql, JSON, the token as a Bearer header.
async function graphql(query, variables = {}) {
  const response = await fetch(new URL('/graphql', SPACES_URL), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SPACES_TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  const { data, errors } = await response.json();
  if (errors) throw new Error(errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('\n'));
  return data;
}

const { viewer, space } = await graphql('query ($id: ID!) { viewer { handle } space(id: $id) { title state } }', {
  id: SPACE_ID,
});
console.log(JSON.stringify({ viewer: viewer.handle, space: space?.title, state: space?.state }));

// Subscriptions: graphql-ws on the same path, the token in the connection parameters.
const client = createClient({
  url: new URL('/graphql', SPACES_URL).href.replace(/^http/, 'ws'),
  webSocketImpl: WebSocket,
  connectionParams: { authToken: SPACES_TOKEN },
  // Reconnect after network trouble and server restarts (it closes sockets with 1012/1013 then);
  // a revoked or expired token closes the socket with 4403, which is final.
  retryAttempts: 10,
});

const events = client.iterate({
  query: `subscription ($id: ID!) {
    spaceEvents(spaceId: $id) { kind at emoji user { handle } participant { role muted user { handle } } }
  }`,
  variables: { id: SPACE_ID },
});
try {
  for await (const { data, errors } of events) {
    if (errors) throw new Error(errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('\n'));
    const event = data.spaceEvents;
    console.log(JSON.stringify(event));
    // The subscription completes after SPACE_ENDED; the loop ends with it.
  }
} finally {
  await client.dispose();
}
