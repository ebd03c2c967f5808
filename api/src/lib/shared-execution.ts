import {
  createSourceEventStream,
  execute,
  GraphQLError,
  type ExecutionResult,
  print,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
} from 'graphql';
import type { Context } from '../context.ts';

/**
 * Fields whose value depends on who asks carry `extensions: { viewerDependent: true }` in the
 * schema (see VIEWER_DEPENDENT). A subscription document that selects none of them gets the same
 * result, for the same event and variables, whatever the viewer.
 */
export const VIEWER_DEPENDENT = { viewerDependent: true } as const;

const documentKeys = new WeakMap<DocumentNode, { text: string; perViewer: boolean }>();

function documentKey(schema: GraphQLSchema, document: DocumentNode) {
  let key = documentKeys.get(document);
  if (!key) {
    const typeInfo = new TypeInfo(schema);
    let perViewer = false;
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Field() {
          if (typeInfo.getFieldDef()?.extensions?.viewerDependent) perViewer = true;
        },
      }),
    );
    key = { text: print(document), perViewer };
    documentKeys.set(document, key);
  }
  return key;
}

/** Results by source event, then by (document, variables, viewer when it matters). */
const results = new WeakMap<object, Map<string, Promise<unknown>>>();

/**
 * A subscription whose events are executed once per (event, document, variables[, viewer])
 * and shared by every subscriber with the same key, instead of once per subscriber.
 * Errors are masked as yoga masks them.
 */
export async function subscribeShared(args: ExecutionArgs, maskError: (error: unknown, message: string) => GraphQLError) {
  const run = async (rootValue: unknown): Promise<ExecutionResult> => {
    const result = await execute({ ...args, rootValue });
    if (!result.errors) return result;
    for (const error of result.errors) if (!error.extensions?.code) console.error('[api] unexpected error', error.originalError ?? error);
    return { ...result, errors: result.errors.map((e) => maskError(e, 'Unexpected error.')) };
  };
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in stream)) return stream; // an ExecutionResult with errors
  const iterator = (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const doc = documentKey(args.schema, args.document);
  const viewer = doc.perViewer ? ((args.contextValue as Context).viewer?.id ?? '-') : '*';
  const key = `${viewer}\n${args.operationName ?? ''}\n${JSON.stringify(args.variableValues ?? {})}\n${doc.text}`;
  const resultFor = (event: unknown) => {
    if (typeof event !== 'object' || event === null) return run(event);
    let byKey = results.get(event);
    if (!byKey) results.set(event, (byKey = new Map()));
    let result = byKey.get(key);
    if (!result) byKey.set(key, (result = run(event)));
    return result;
  };
  const mapped: AsyncIterableIterator<unknown> = {
    [Symbol.asyncIterator]: () => mapped,
    async next() {
      const step = await iterator.next();
      return step.done ? step : { done: false, value: await resultFor(step.value) };
    },
    async return() {
      await iterator.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      await iterator.return?.();
      throw error;
    },
  };
  return mapped;
}
