import { useGraphQlJit } from '@envelop/graphql-jit';
import { GraphQLError, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * graphql-jit's errors have read-only properties; the rest of the pipeline (maskError in app.ts,
 * useErrorCodes) adds `extensions.code` in place. Each becomes a plain GraphQLError saying the
 * same thing (message, locations, path, extensions, original error).
 */
function plainError(error: GraphQLError): GraphQLError {
  const copy = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
  (copy as { locations?: GraphQLError['locations'] }).locations = error.locations;
  return copy;
}

const plainErrors: Plugin = {
  onExecute: () => ({
    onExecuteDone({ result, setResult }) {
      if (Symbol.asyncIterator in (result as object)) return;
      const single = result as ExecutionResult;
      if (single.errors?.length) setResult({ ...single, errors: single.errors.map(plainError) });
    },
  }),
};

/** Runs of one untrusted document before it is worth compiling. */
export const JIT_AFTER_RUNS = 10;

/** Whether this run of a document should use its compiled form (counting the runs of untrusted ones). */
export function compilePolicy(trusts: (document: DocumentNode) => boolean): (document: DocumentNode) => boolean {
  const runs = new WeakMap<DocumentNode, number>();
  return (document) => {
    if (trusts(document)) return true;
    const seen = (runs.get(document) ?? 0) + 1;
    runs.set(document, seen);
    return seen > JIT_AFTER_RUNS;
  };
}

/**
 * Executes documents with graphql-jit: compiled once (cached by the parsed document, which
 * yoga's parser cache keeps the same for the same text) into plain functions, so a request no
 * longer walks the query's AST and the schema field by field. On the read benchmark
 * (tests/bench/read.ts) graphql-js execution was the largest part of a request's CPU after the
 * SQL. Subscriptions keep graphql-js: their events go through lib/shared-execution.ts.
 *
 * Compiling costs about ten times a graphql-js run (~12 ms for the space room), so only documents
 * that repeat are compiled: the PWA's trusted documents at once, any other after JIT_AFTER_RUNS
 * runs. A client sending a stream of distinct documents never makes the server compile.
 */
export function useJit(options: { trusts: (document: DocumentNode) => boolean }): Plugin[] {
  const worthCompiling = compilePolicy(options.trusts);
  const jit = useGraphQlJit(
    {},
    {
      enableIf: (args) =>
        !args.document.definitions.some((d) => d.kind === 'OperationDefinition' && d.operation === 'subscription') &&
        worthCompiling(args.document),
      // A document graphql-jit cannot compile is answered with its errors; never seen with this schema.
      onError: (result) => console.error('[graphql-jit] could not compile a document', result.errors),
    },
  ) as Plugin;
  return [jit, plainErrors];
}
