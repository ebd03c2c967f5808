import { getOperationAST, type DocumentNode, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../metrics.ts';

const operationType = (document: DocumentNode, name: string | null | undefined) =>
  getOperationAST(document, name)?.operation ?? 'unknown';

/** Counts operations by type (HTTP and WebSocket) and the errors HTTP responses carry, by code. */
export function useMetrics(metrics: Metrics): Plugin {
  const countErrors = (errors: readonly GraphQLError[] | undefined) => {
    for (const error of errors ?? []) metrics.errors.inc({ code: String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR') });
  };
  return {
    onExecute({ args }) {
      metrics.operations.inc({ type: operationType(args.document as DocumentNode, args.operationName) });
    },
    onSubscribe({ args }) {
      metrics.operations.inc({ type: operationType(args.document as DocumentNode, args.operationName) });
    },
    onResultProcess({ result }) {
      for (const r of Array.isArray(result) ? result : [result])
        if (r && typeof r === 'object' && 'errors' in r) countErrors(r.errors as GraphQLError[]);
    },
  };
}
