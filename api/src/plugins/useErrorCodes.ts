import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { CONTRACT_CODES } from '../errors.ts';

/**
 * The codes of the public contract, plus the masked one for our own failures and the unknown
 * hash of a trusted document (usePersistedDocuments.ts; the code persisted-query clients expect).
 */
const KEPT_CODES = new Set<string>([...CONTRACT_CODES, 'INTERNAL_SERVER_ERROR', 'PERSISTED_QUERY_NOT_FOUND']);

/**
 * Every error a client can cause carries a contract code: yoga's and graphql-js's own codes
 * (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_REQUEST for a batch, a GET mutation or a
 * body that is not JSON) become BAD_USER_INPUT. Ours already do; what is left are
 * parse, validation and variable-coercion errors (the query itself is wrong: BAD_USER_INPUT).
 * Masked unexpected errors keep INTERNAL_SERVER_ERROR.
 */
export function useErrorCodes(): Plugin {
  const tag = (errors: readonly GraphQLError[]) => {
    for (const error of errors) {
      const ext = error.extensions as Record<string, unknown>;
      if (typeof ext.code === 'string' && KEPT_CODES.has(ext.code)) continue;
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
