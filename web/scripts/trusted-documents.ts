/**
 * Trusted documents: every operation the PWA can send, extracted at build time.
 *
 * The PWA's documents are gql.tada `graphql()` calls in .ts modules under src/ (today
 * src/lib/graphql/*.ts). This imports each such module, takes every exported operation, prints it
 * the way urql sends it (stringifyDocument) and hashes that text with sha256, then writes
 * - ../api/trusted-documents/spaces-web.json: the manifest the API accepts hashes from
 *   (apollo-persisted-query-manifest format: id = sha256 of body). It lives in api/ so the API
 *   reads it without depending on this package (web depends on api, never the reverse);
 * - src/lib/graphql/trusted-hashes.ts: the hash of each document by its urql key, which is all the
 *   client needs to send a hash instead of the document (no document text twice in the bundle).
 *
 * Run by `pnpm --filter @spaces/web generate`; src/lib/graphql/trusted-documents.spec.ts fails
 * when the committed files differ from what this would write. gql.tada's own
 * `gql.tada generate persisted` only extracts `graphql.persisted()` calls, which would mean a
 * second, hand-kept export (and import site) per document; this picks up whatever documents exist.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DocumentNode, OperationDefinitionNode } from '@0no-co/graphql.web';
import { createRequest, stringifyDocument } from '@urql/core';

const webRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const MANIFEST_PATH = path.resolve(webRoot, '../api/trusted-documents/spaces-web.json');
export const HASHES_PATH = path.resolve(webRoot, 'src/lib/graphql/trusted-hashes.ts');

export interface TrustedOperation {
  /** sha256 (hex) of body: what the client sends in extensions.persistedQuery.sha256Hash. */
  id: string;
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  body: string;
  /** urql's key of the document (a 32-bit hash of its text and name): the client's lookup key. */
  key: number;
}

/** A module that calls gql.tada's graphql() (imported from the tada module). */
const definesDocuments = (text: string) => /\bgraphql\s*\(/.test(text) && /from\s*['"][^'"]*\/tada(?:\.ts)?['"]/.test(text);

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(full));
    else if (/\.(ts|svelte)$/.test(entry.name) && !/\.(spec|test)\.ts$|\.d\.ts$/.test(entry.name)) files.push(full);
  }
  return files.sort();
}

/** The .ts modules under src/ that define documents (a .svelte file may not: it cannot be imported here). */
export function documentModules(srcDir = path.join(webRoot, 'src')): string[] {
  const modules: string[] = [];
  for (const file of sourceFiles(srcDir)) {
    if (!definesDocuments(readFileSync(file, 'utf8'))) continue;
    if (file.endsWith('.svelte'))
      throw new Error(`${path.relative(webRoot, file)} defines GraphQL documents: move them to a .ts module so they can be trusted.`);
    modules.push(file);
  }
  return modules;
}

const isDocument = (value: unknown): value is DocumentNode =>
  typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'Document';

/** Every exported operation of the given modules, by name (names must be unique: they name the hashes). */
export async function collectOperations(modules = documentModules()): Promise<TrustedOperation[]> {
  const byName = new Map<string, TrustedOperation>();
  const byKey = new Map<number, string>();
  for (const file of modules) {
    const exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const [exportName, value] of Object.entries(exports)) {
      if (!isDocument(value)) continue;
      const operations = value.definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
      if (operations.length === 0) continue; // a fragment
      const [operation] = operations;
      if (operations.length > 1 || !operation?.name)
        throw new Error(`${exportName} (${path.relative(webRoot, file)}): a trusted document holds exactly one named operation.`);
      // Without variables a request's key is its document's key, what the client looks up by.
      const request = createRequest(value, undefined);
      const body = stringifyDocument(request.query);
      const name = operation.name.value;
      const seen = byName.get(name);
      if (seen && seen.body !== body) throw new Error(`Two different operations are named ${name}: names must be unique.`);
      if (seen) continue;
      const other = byKey.get(request.key);
      if (other) throw new Error(`${name} and ${other} have the same urql key: rename one.`);
      byKey.set(request.key, name);
      const id = createHash('sha256').update(body).digest('hex');
      byName.set(name, { id, name, type: operation.operation, body, key: request.key });
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The manifest the API reads (api/src/plugins/usePersistedDocuments.ts). */
export function renderManifest(operations: TrustedOperation[]): string {
  const manifest = {
    format: 'apollo-persisted-query-manifest',
    version: 1,
    operations: operations.map(({ id, name, type, body }) => ({ id, name, type, body })),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

export function renderHashes(operations: TrustedOperation[]): string {
  const lines = operations.map((o) => `  [${o.key}, '${o.id}'], // ${o.name}`);
  return [
    '// Generated by `pnpm --filter @spaces/web generate` (scripts/trusted-documents.ts): do not edit.',
    '// The sha256 of each of the PWA\'s operations (api/trusted-documents/spaces-web.json) by the',
    '// document\'s urql key: the client sends these hashes instead of the documents.',
    'export const TRUSTED_DOCUMENT_HASHES: ReadonlyMap<number, string> = new Map<number, string>([',
    ...lines,
    ']);',
    '',
  ].join('\n');
}

async function main() {
  const operations = await collectOperations();
  mkdirSync(path.dirname(MANIFEST_PATH), { recursive: true });
  writeFileSync(MANIFEST_PATH, renderManifest(operations));
  writeFileSync(HASHES_PATH, renderHashes(operations));
  console.log(`${operations.length} trusted documents → ${path.relative(process.cwd(), MANIFEST_PATH)}, ${path.relative(process.cwd(), HASHES_PATH)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
