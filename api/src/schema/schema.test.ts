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

describe('viewer-dependent fields', () => {
  it('are marked, so shared subscription execution never hands one viewer another viewer’s answer', () => {
    // Every field whose resolver reads the viewer. A new one must be marked with VIEWER_DEPENDENT
    // and listed here; an unmarked one would leak between subscribers of the same event.
    const marked: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!('getFields' in type) || type.name.startsWith('__')) continue;
      for (const field of Object.values((type as import('graphql').GraphQLObjectType).getFields()))
        if ((field as { extensions?: { viewerDependent?: boolean } }).extensions?.viewerDependent) marked.push(`${type.name}.${field.name}`);
    }
    expect(marked.sort()).toEqual([
      'Fleet.replies',
      'Fleet.viewCount',
      'Fleet.viewerCanReply',
      'Fleet.viewerHasSeen',
      'Fleet.viewerReplyRefusal',
      'Fleet.viewers',
      'FleetAuthor.hasUnseen',
      'Space.invitedSpeakers',
      'Space.recap',
      'Space.viewerCanSpeak',
      'Space.viewerHasReminder',
      'Space.viewerParticipant',
      'Space.viewerRemoved',
      'User.defaultReplyPolicy',
      'User.followsViewer',
      'User.viewerFollows',
    ]);
    // Every Space/User field starting with "viewer" or reading "Viewer" should be among them.
    const suspicious = ['Space', 'User'].flatMap((t) =>
      Object.keys((schema.getType(t) as import('graphql').GraphQLObjectType).getFields())
        .filter((f) => /viewer/i.test(f))
        .map((f) => `${t}.${f}`),
    );
    expect(suspicious.every((f) => marked.includes(f))).toBe(true);
  });
});
