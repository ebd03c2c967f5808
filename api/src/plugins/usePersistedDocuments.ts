import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { GraphQLError, parse, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';

/** The PWA's client name: its requests may only name trusted documents by hash. */
export const PWA_CLIENT_NAME = 'spaces-web';
/** Where the PWA's manifest is written by `pnpm --filter @spaces/web generate` (web/scripts/trusted-documents.ts). */
export const PWA_MANIFEST_URL = new URL('../../trusted-documents/spaces-web.json', import.meta.url);

export interface TrustedDocumentManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: { id: string; name: string; type: string; body: string }[];
}

export interface TrustedDocument {
  id: string;
  name: string;
  body: string;
  /** Parsed once at start: never parsed per request, and validated once (yoga caches validation by document). */
  document: DocumentNode;
}

export function readManifest(url: URL = PWA_MANIFEST_URL): TrustedDocumentManifest {
  return JSON.parse(readFileSync(url, 'utf8')) as TrustedDocumentManifest;
}

/** The documents of a manifest by id; an id that is not the sha256 of its body is refused at start. */
export function trustedDocuments(manifest: TrustedDocumentManifest): Map<string, TrustedDocument> {
  const byId = new Map<string, TrustedDocument>();
  for (const { id, name, body } of manifest.operations) {
    const hash = createHash('sha256').update(body).digest('hex');
    if (hash !== id) throw new Error(`Trusted document ${name}: its id is not the sha256 of its body (regenerate the manifest).`);
    byId.set(id, { id, name, body, document: parse(body, { noLocation: true }) });
  }
  return byId;
}

// Errors. PersistedQueryNotFound is Apollo's message for it (answered with 200, as Apollo does):
// persisted-query clients of third parties (Apollo, urql) recognise it and retry with the full
// document. The other two are request errors: nothing ran (403 and 400 over HTTP).
const notFound = () =>
  new GraphQLError('PersistedQueryNotFound', { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
const fullDocumentRefused = (overHttp = true) =>
  new GraphQLError(
    `The Spaces app (graphql-client-name: ${PWA_CLIENT_NAME}) sends only the hashes of its trusted documents; other clients may send full documents.`,
    { extensions: { code: 'FORBIDDEN', ...(overHttp ? { http: { status: 403 } } : {}) } },
  );
const noDocument = (overHttp = true) =>
  new GraphQLError('Send a query, or the sha256 of a trusted document in extensions.persistedQuery.', {
    extensions: { code: 'BAD_USER_INPUT', ...(overHttp ? { http: { status: 400 } } : {}) },
  });

/**
 * A persisted operation reaches the parser as this placeholder; onParse below hands over the
 * document parsed at start. The placeholder cannot be confused with a document a client sends:
 * it does not parse as GraphQL, and an id that is not trusted never becomes one.
 */
const PLACEHOLDER = /^__TRUSTED_DOCUMENT_([0-9a-f]{64})__$/;
const placeholderOf = (id: string) => `__TRUSTED_DOCUMENT_${id}__`;

function hashOf(extensions: unknown): string | null {
  const persisted = (extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | null | undefined)
    ?.persistedQuery;
  return persisted?.version === 1 && typeof persisted.sha256Hash === 'string' ? persisted.sha256Hash : null;
}

export interface PersistedDocuments {
  plugins: Plugin[];
  /**
   * Whether a parsed document is one of the trusted ones (the very object a request by hash runs).
   * For work worth doing once per trusted document but not for every document a client makes up,
   * e.g. compiling it (graphql-jit costs ~10 ms per new document).
   */
  trusts(document: DocumentNode): boolean;
  /**
   * The same rules for an operation sent over graphql-ws (whose operations app.ts runs through
   * the envelop without yoga's HTTP params step): the source to parse, or the error to answer.
   * The client name comes from connectionParams (browsers cannot set headers on a WebSocket),
   * else from the upgrade request's header.
   */
  socketSource(
    payload: { query?: unknown; extensions?: unknown },
    connectionParams: Readonly<Record<string, unknown>> | undefined,
    upgrade: IncomingMessage,
  ): string | GraphQLError;
}

/**
 * Trusted documents (issue 13). Requests name a document of the PWA's manifest by its sha256 in
 * `extensions.persistedQuery` (Apollo's automatic persisted queries shape, which urql's
 * persistedExchange sends). A request with `graphql-client-name: spaces-web` may do nothing else:
 * an unknown hash is PERSISTED_QUERY_NOT_FOUND and a full document FORBIDDEN. Every other client
 * may send full documents (the limits of useLimits apply to them) or the known hashes. The
 * manifest's documents are parsed once here, so the PWA's requests skip parsing and hit the
 * validation cache whatever other clients send.
 */
export function usePersistedDocuments(manifest: TrustedDocumentManifest = readManifest()): PersistedDocuments {
  const documents = trustedDocuments(manifest);
  const isPwa = (name: string | null | undefined) => name === PWA_CLIENT_NAME;

  const http = usePersistedOperations({
    allowArbitraryOperations: (request) => !isPwa(request.headers.get('graphql-client-name')),
    getPersistedOperation: (id) => (documents.has(id) ? placeholderOf(id) : null),
    customErrors: { notFound, persistedQueryOnly: () => fullDocumentRefused(), keyNotFound: () => noDocument() },
  }) as Plugin;

  const parsed: Plugin = {
    onParse({ params, setParsedDocument }) {
      const id = typeof params.source === 'string' ? PLACEHOLDER.exec(params.source)?.[1] : undefined;
      const trusted = id ? documents.get(id) : undefined;
      if (trusted) setParsedDocument(trusted.document);
    },
  };

  const trustedAsts = new WeakSet<DocumentNode>([...documents.values()].map((d) => d.document));
  return {
    plugins: [http, parsed],
    trusts: (document) => trustedAsts.has(document),
    socketSource(payload, connectionParams, upgrade) {
      const named = connectionParams?.['graphql-client-name'] ?? upgrade.headers['graphql-client-name'];
      const query = typeof payload.query === 'string' ? payload.query : '';
      if (query) return isPwa(typeof named === 'string' ? named : null) ? fullDocumentRefused(false) : query;
      const id = hashOf(payload.extensions);
      if (!id) return noDocument(false);
      return documents.has(id) ? placeholderOf(id) : notFound();
    },
  };
}
