import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { TRUSTED_DOCUMENT_HASHES } from './trusted-hashes';

/** Who the API sees: as `spaces-web` it accepts only the hashes of the trusted documents. */
export const CLIENT_NAME = 'spaces-web';

/** Sent for a document missing from the manifest: the document itself never leaves the app. */
export const UNTRUSTED_DOCUMENT = 'untrusted-document';

/**
 * The sha256 the API knows a document by (api/trusted-documents/spaces-web.json), looked up by
 * urql's key of the document. A document missing from the manifest (run
 * `pnpm --filter @spaces/web generate`) gets UNTRUSTED_DOCUMENT, which the API answers with
 * PERSISTED_QUERY_NOT_FOUND.
 */
export function trustedHashOf(document: { __key?: number }, hashes: ReadonlyMap<number, string> = TRUSTED_DOCUMENT_HASHES): string {
  const hash = document.__key === undefined ? undefined : hashes.get(document.__key);
  if (hash) return hash;
  console.error('This GraphQL document is not a trusted document: run `pnpm --filter @spaces/web generate`.');
  return UNTRUSTED_DOCUMENT;
}

/** `ws://host/graphql` on http, `wss://host/graphql` on https: the API's own origin. */
export function websocketUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
}

/** Exponential backoff with jitter for the socket: 0.5 s, 1 s, 2 s ... at most 15 s. */
export function retryDelayMs(retries: number, random: () => number = Math.random): number {
  const base = Math.min(15_000, 500 * 2 ** Math.min(retries, 5));
  return Math.round(base / 2 + (random() * base) / 2);
}

export interface SpacesClient {
  /** The one urql client: queries and mutations over HTTP POST, subscriptions over the socket. */
  client: Client;
  ws: WsClient;
  /** Calls `listener` whenever the socket comes back after a drop (events may have been missed). */
  onReconnected(listener: () => void): () => void;
  /**
   * Drops the socket so the next one carries the new session cookie (after sign-in or sign-out);
   * live subscriptions resubscribe on the new socket by themselves.
   */
  resetConnection(): void;
}

export interface SpacesClientOptions {
  url?: string;
  wsUrl?: string;
  webSocketImpl?: unknown;
  /** Sent as graphql-client-version: the build (SvelteKit's version). */
  clientVersion?: string;
}

export function createSpacesClient(options: SpacesClientOptions = {}): SpacesClient {
  const listeners = new Set<() => void>();
  const clientHeaders = { 'graphql-client-name': CLIENT_NAME, 'graphql-client-version': options.clientVersion ?? 'dev' };
  const ws = createWsClient({
    url: options.wsUrl ?? (() => websocketUrl(window.location)),
    webSocketImpl: options.webSocketImpl,
    // A browser cannot set headers on a WebSocket: the client name travels in the connection params.
    connectionParams: clientHeaders,
    // Opens with the first subscription, closes a little after the last one ends.
    lazy: true,
    lazyCloseTimeout: 5_000,
    keepAlive: 25_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    // Retry after any close, not only the "abrupt" ones (a server restart closes cleanly).
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, retryDelayMs(retries))),
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (wasRetry) for (const listener of listeners) listener();
      },
    },
  });

  const client = new Client({
    url: options.url ?? '/graphql',
    // POST always: a same-origin POST carries Origin, which the API checks for cookie sessions.
    preferGetMethod: false,
    fetchOptions: { credentials: 'same-origin', headers: clientHeaders },
    // No document cache: each screen's state class owns its data and keeps it fresh from events.
    requestPolicy: 'network-only',
    exchanges: [
      // Every operation (subscriptions too) goes out as its hash only, never the document: no
      // retry with the full document on PERSISTED_QUERY_NOT_FOUND, and POST (Origin is checked).
      persistedExchange({
        enforcePersistedQueries: true,
        enableForMutation: true,
        enableForSubscriptions: true,
        preferGetForPersistedQueries: false,
        generateHash: async (_query, document) => trustedHashOf(document as { __key?: number }),
      }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          // With a hash the query is left out; graphql-ws requires the field, so it is empty.
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });

  return {
    client,
    ws,
    onReconnected(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    resetConnection() {
      ws.terminate();
    },
  };
}
