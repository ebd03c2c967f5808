import type { TypedDocumentNode } from '@urql/core';
import { AppError, toAppError, unwrap } from '$lib/errors';
import type { SpacesClient } from './client';

/**
 * What the state classes need from the network, in promise and callback form. The app uses the
 * urql-backed one below; unit specs pass a fake.
 */
export interface Api {
  query<Data, Vars extends object>(document: TypedDocumentNode<Data, Vars>, variables: Vars): Promise<Data>;
  mutate<Data, Vars extends object>(document: TypedDocumentNode<Data, Vars>, variables: Vars): Promise<Data>;
  /** Starts a subscription; returns the function that ends it. */
  subscribe<Data, Vars extends object>(
    document: TypedDocumentNode<Data, Vars>,
    variables: Vars,
    handlers: { next(data: Data): void; error?(error: AppError): void },
  ): () => void;
  /** Called when the realtime connection came back after a drop: state may be stale. */
  onReconnected(listener: () => void): () => void;
  /** The session changed: reopen the realtime connection with the new cookie. */
  resetConnection(): void;
}

export function createApi({ client, onReconnected, resetConnection }: SpacesClient): Api {
  return {
    async query(document, variables) {
      return unwrap(await client.query(document, variables, { requestPolicy: 'network-only' }).toPromise());
    },
    async mutate(document, variables) {
      return unwrap(await client.mutation(document, variables).toPromise());
    },
    subscribe(document, variables, handlers) {
      const { unsubscribe } = client.subscription(document, variables).subscribe((result) => {
        if (result.error) handlers.error?.(toAppError(result.error));
        else if (result.data) handlers.next(result.data);
      });
      return unsubscribe;
    },
    onReconnected,
    resetConnection,
  };
}
