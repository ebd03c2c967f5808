import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { GraphQLError, parse, print, type DocumentNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { readManifest, trustedDocuments, usePersistedDocuments, type TrustedDocumentManifest } from './usePersistedDocuments.ts';

const body = 'query Viewer {\n  viewer {\n    id\n  }\n}';
const id = createHash('sha256').update(body).digest('hex');
const manifest: TrustedDocumentManifest = {
  format: 'apollo-persisted-query-manifest',
  version: 1,
  operations: [{ id, name: 'Viewer', type: 'query', body }],
};
const upgrade = (headers: Record<string, string> = {}) => ({ headers }) as unknown as IncomingMessage;
const persisted = (sha256Hash: string) => ({ persistedQuery: { version: 1, sha256Hash } });
const codeOf = (value: unknown) => (value instanceof GraphQLError ? value.extensions.code : value);

describe('trusted documents', () => {
  it("reads the PWA's manifest: every id is the sha256 of its body", () => {
    const documents = trustedDocuments(readManifest());
    expect(documents.size).toBeGreaterThan(20);
    for (const [key, doc] of documents) {
      expect(key).toBe(doc.id);
      expect(doc.document.definitions.some((d) => d.kind === 'OperationDefinition')).toBe(true);
    }
  });

  it('refuses a manifest whose id does not match its body', () => {
    const tampered = { ...manifest, operations: [{ ...manifest.operations[0]!, body: `${body} ` }] };
    expect(() => trustedDocuments(tampered)).toThrow(/not the sha256 of its body/);
  });

  it('hands the parser the document parsed at start for a hash, and knows it for trusted', () => {
    const { plugins, socketSource, trusts } = usePersistedDocuments(manifest);
    const source = socketSource({ query: '', extensions: persisted(id) }, undefined, upgrade());
    let document: DocumentNode | null = null;
    const onParse = plugins[1]?.onParse as (payload: unknown) => void;
    onParse({ params: { source }, setParsedDocument: (d: DocumentNode) => (document = d) });
    expect(document).not.toBeNull();
    expect(print(document!)).toBe(print(parse(body)));
    expect(trusts(document!)).toBe(true);
    // The same text parsed elsewhere (a client's full document) is not the trusted object.
    expect(trusts(parse(body))).toBe(false);
  });

  describe('over a socket', () => {
    const { socketSource } = usePersistedDocuments(manifest);
    const pwa = { 'graphql-client-name': 'spaces-web' };

    it('turns a known hash into the placeholder of its parsed document, for any client', () => {
      expect(socketSource({ query: '', extensions: persisted(id) }, pwa, upgrade())).toBe(`__TRUSTED_DOCUMENT_${id}__`);
      expect(socketSource({ query: '', extensions: persisted(id) }, undefined, upgrade())).toBe(`__TRUSTED_DOCUMENT_${id}__`);
    });

    it('answers an unknown hash with PERSISTED_QUERY_NOT_FOUND and nothing at all with BAD_USER_INPUT', () => {
      expect(codeOf(socketSource({ query: '', extensions: persisted('0'.repeat(64)) }, pwa, upgrade()))).toBe('PERSISTED_QUERY_NOT_FOUND');
      expect(codeOf(socketSource({ query: '' }, undefined, upgrade()))).toBe('BAD_USER_INPUT');
    });

    it('refuses a full document from spaces-web (connection params or upgrade header), allows it from others', () => {
      expect(codeOf(socketSource({ query: body }, pwa, upgrade()))).toBe('FORBIDDEN');
      expect(codeOf(socketSource({ query: body }, {}, upgrade(pwa)))).toBe('FORBIDDEN');
      expect(socketSource({ query: body }, { 'graphql-client-name': 'a-bot' }, upgrade())).toBe(body);
      expect(socketSource({ query: body }, undefined, upgrade())).toBe(body);
    });
  });
});
