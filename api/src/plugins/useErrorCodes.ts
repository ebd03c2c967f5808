import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Every error a client can cause carries a contract code. Ours already do; what is left are
 * parse, validation and variable-coercion errors (the query itself is wrong: BAD_USER_INPUT).
 * Masked unexpected errors keep INTERNAL_SERVER_ERROR.
 */
export function useErrorCodes(): Plugin {
  const tag = (errors: readonly GraphQLError[]) => {
    for (const error of errors) {
      const ext = error.extensions as Record<string, unknown>;
      if (typeof ext.code === 'string' && ext.code !== 'GRAPHQL_VALIDATION_FAILED' && ext.code !== 'GRAPHQL_PARSE_FAILED')
        continue;
      (error as { extensions: Record<string, unknown> }).extensions = { ...ext, code: 'BAD_USER_INPUT' };
    }
  };
  return {
    // Validation runs for HTTP and WebSocket operations alike.
    onValidate: () => ({ result }) => tag(result as readonly GraphQLError[]),
    onResultProcess({ result }) {
      if (!result) return;
      const results = Array.isArray(result) ? result : [result];
      for (const r of results) if (r && typeof r === 'object' && 'errors' in r && r.errors) tag(r.errors as GraphQLError[]);
    },
  };
}
