import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** A graphql-ws client on a real socket, collecting what one subscription delivers. */
export interface Subscription<T> {
  events: T[];
  errors: unknown[];
  completed: boolean;
  /** Resolves once `predicate` holds for a delivered event (checks past ones first). */
  waitFor(predicate: (event: T) => boolean, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export function wsClient(baseUrl: string, options: { token?: string; headers?: Record<string, string> } = {}): Client {
  const url = baseUrl.replace(/^http/, 'ws') + '/graphql';
  class HeaderSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: options.headers });
    }
  }
  return createClient({
    url,
    webSocketImpl: HeaderSocket,
    connectionParams: options.token ? { authToken: options.token } : undefined,
    retryAttempts: 0,
    lazy: true,
  });
}

export function subscribe<T = Record<string, any>>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
  pick: (data: any) => T = (d) => d,
): Subscription<T> {
  const sub: Subscription<T> = {
    events: [],
    errors: [],
    completed: false,
    waitFor: () => Promise.reject(new Error('replaced below')),
    close: async () => {},
  };
  const waiters: { predicate: (e: T) => boolean; resolve: (e: T) => void }[] = [];
  const unsubscribe = client.subscribe(
    { query, variables },
    {
      next: (value) => {
        if (value.errors) sub.errors.push(...value.errors);
        if (!value.data) return;
        const event = pick(value.data);
        sub.events.push(event);
        for (const w of [...waiters]) if (w.predicate(event)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(event);
        }
      },
      error: (error) => sub.errors.push(error),
      complete: () => (sub.completed = true),
    },
  );
  sub.waitFor = (predicate, timeoutMs = 5_000) => {
    const past = sub.events.find(predicate);
    if (past) return Promise.resolve(past);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no matching event in ${timeoutMs} ms; got ${JSON.stringify(sub.events)} errors ${JSON.stringify(sub.errors)}`));
      }, timeoutMs);
      waiters.push({ predicate, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  };
  sub.close = async () => {
    unsubscribe();
  };
  return sub;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
