import { describe, expect, it } from 'vitest';
import { parse, type DocumentNode } from '@0no-co/graphql.web';
import * as documents from './documents';
import * as audio from './audio';
import { API_LIMITS, operationCost, operationDepth } from './cost';

const operations = Object.entries({ ...documents, ...audio }).filter(([, value]) =>
  (value as DocumentNode).definitions?.some((d) => d.kind === 'OperationDefinition'),
) as [string, DocumentNode][];

describe('documents stay within the API limits', () => {
  it('finds the operations', () => {
    expect(operations.length).toBeGreaterThan(20);
  });

  it.each(operations)('%s', (_name, document) => {
    const cost = operationCost(document);
    // Half the limit: room for the schema to grow.
    expect(cost).toBeLessThan(API_LIMITS.maxCost / 2);
    expect(operationDepth(document)).toBeLessThanOrEqual(API_LIMITS.maxDepth);
  });

  it('counts like graphql-armor: objects 2, scalars 1, x1.5 per level', () => {
    // viewer = 2 + 1.5 * (1 + 1)
    expect(operationCost(parse('query { viewer { id handle } }'))).toBe(5);
  });

  it('multiplies a list by a literal first: N, not by a variable', () => {
    // node = 2 + 1.5; edges = 2 + 1.5 * 3.5; liveSpaces = (2 + 1.5 * 7.25) * 10
    expect(operationCost(parse('query { liveSpaces(first: 10) { edges { node { id } } } }'))).toBe(128.75);
    expect(operationCost(parse('query ($n: Int) { liveSpaces(first: $n) { edges { node { id } } } }'))).toBe(12.875);
  });

  it('nests a fragment spread one more level (and counts it again when spread again)', () => {
    const doc = parse('query { viewer { ...U } } fragment U on User { id }');
    // spread = 1 + 1.5 * (2 + 1.5 * 1); viewer = 2 + 1.5 * spread
    expect(operationCost(doc)).toBe(2 + 1.5 * (1 + 1.5 * 3.5));
    expect(operationDepth(doc)).toBe(1);
  });
});
