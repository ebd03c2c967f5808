import type { TypedDocumentNode } from '@urql/core';
import { toAppError, type AppError } from '$lib/errors';
import type { Api } from '$lib/graphql/api';

type Handler = (variables: Record<string, unknown>) => unknown;
interface SubscriptionHandlers {
  next(data: unknown): void;
  error?(error: AppError): void;
}

export function operationName(document: TypedDocumentNode<unknown, never>): string {
  for (const d of document.definitions) if (d.kind === 'OperationDefinition' && d.name) return d.name.value;
  throw new Error('anonymous operation');
}

/**
 * An Api for specs: answers each operation (by name) from a handler, records every call, and
 * lets a spec push subscription data as the server would.
 */
export class FakeApi implements Api {
  handlers = new Map<string, Handler>();
  calls: { name: string; variables: Record<string, unknown> }[] = [];
  subscriptions = new Map<string, Set<SubscriptionHandlers>>();
  reconnectListeners = new Set<() => void>();
  resets = 0;

  /** Answers `name` with `answer` (a value, a function of the variables, or an error to throw). */
  on(name: string, answer: unknown): this {
    this.handlers.set(name, typeof answer === 'function' ? (answer as Handler) : () => answer);
    return this;
  }

  callsTo(name: string) {
    return this.calls.filter((c) => c.name === name);
  }

  async #run(document: TypedDocumentNode<unknown, never>, variables: object): Promise<never> {
    const name = operationName(document);
    this.calls.push({ name, variables: variables as Record<string, unknown> });
    const handler = this.handlers.get(name);
    if (!handler) throw new Error(`FakeApi: no answer for ${name}`);
    const answer = await handler(variables as Record<string, unknown>);
    // As the real Api does (unwrap): failures reach the state classes as AppErrors.
    if (answer instanceof Error) throw toAppError(answer);
    return answer as never;
  }

  query<Data, Vars extends object>(document: TypedDocumentNode<Data, Vars>, variables: Vars): Promise<Data> {
    return this.#run(document as TypedDocumentNode<unknown, never>, variables);
  }

  mutate<Data, Vars extends object>(document: TypedDocumentNode<Data, Vars>, variables: Vars): Promise<Data> {
    return this.#run(document as TypedDocumentNode<unknown, never>, variables);
  }

  subscribe<Data, Vars extends object>(
    document: TypedDocumentNode<Data, Vars>,
    variables: Vars,
    handlers: { next(data: Data): void; error?(error: AppError): void },
  ): () => void {
    const name = operationName(document as TypedDocumentNode<unknown, never>);
    this.calls.push({ name, variables: variables as Record<string, unknown> });
    const set = this.subscriptions.get(name) ?? new Set();
    const entry = handlers as SubscriptionHandlers;
    set.add(entry);
    this.subscriptions.set(name, set);
    return () => set.delete(entry);
  }

  /** Delivers subscription data to everyone subscribed to `name`. */
  emit(name: string, data: unknown): void {
    for (const h of this.subscriptions.get(name) ?? []) h.next(data);
  }

  subscriberCount(name: string): number {
    return this.subscriptions.get(name)?.size ?? 0;
  }

  onReconnected(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  reconnected(): void {
    for (const l of this.reconnectListeners) l();
  }

  resetConnection(): void {
    this.resets++;
  }
}

/** A GraphQL error as urql reports it (CombinedError-like). */
export function graphQLError(code: string, message: string, extensions: Record<string, unknown> = {}) {
  return Object.assign(new Error(message), {
    graphQLErrors: [{ message, extensions: { code, ...extensions } }],
  });
}
