import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';

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
}

export function createSpacesClient(options: SpacesClientOptions = {}): SpacesClient {
  const listeners = new Set<() => void>();
  const ws = createWsClient({
    url: options.wsUrl ?? (() => websocketUrl(window.location)),
    webSocketImpl: options.webSocketImpl,
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
    fetchOptions: { credentials: 'same-origin' },
    // No document cache: each screen's state class owns its data and keeps it fresh from events.
    requestPolicy: 'network-only',
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
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
