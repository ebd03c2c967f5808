import { readFileSync } from 'node:fs';
import { buildSchema, findBreakingChanges } from 'graphql';
import { describe, expect, it } from 'vitest';
import { printedSchema, schema } from './index.ts';

const contractPath = new URL('../../../../shared/contract.graphql', import.meta.url);


describe('served schema', () => {
  it('matches the checked-in api/schema.graphql (run `pnpm generate` after changing the schema)', () => {
    const checkedIn = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(printedSchema()).toBe(checkedIn);
  });

  it('covers the public contract: nothing in ../shared/contract.graphql is missing or different', () => {
    const contract = buildSchema(readFileSync(contractPath, 'utf8'));
    const breaking = findBreakingChanges(contract, schema).map((c) => `${c.type}: ${c.description}`);
    expect(breaking).toEqual([]);
  });

  it('describes every field of the contract for third parties', () => {
    const contract = buildSchema(readFileSync(contractPath, 'utf8'));
    const undocumented: string[] = [];
    for (const typeName of ['Query', 'Mutation', 'Subscription']) {
      const fields = (contract.getType(typeName) as import('graphql').GraphQLObjectType).getFields();
      for (const name of Object.keys(fields)) {
        const served = (schema.getType(typeName) as import('graphql').GraphQLObjectType).getFields()[name];
        if (served && !served.description) undocumented.push(`${typeName}.${name}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});
