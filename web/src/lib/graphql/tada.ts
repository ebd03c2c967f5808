import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env';

/**
 * Typed GraphQL documents, checked against ../api/schema.graphql (regenerate the introspection
 * with `pnpm --filter @spaces/web generate` after the schema changes).
 * Fragment masking is off: a query's data type includes the fields of the fragments it spreads.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  disableMasking: true;
  scalars: { DateTime: string; ID: string };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
