// @vitest-environment node
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  collectOperations,
  documentModules,
  HASHES_PATH,
  MANIFEST_PATH,
  renderHashes,
  renderManifest,
} from '../../../scripts/trusted-documents';
import * as documents from './documents';
import * as audio from './audio';

/**
 * The API accepts from the PWA only the documents of api/trusted-documents/spaces-web.json, and
 * the client finds each hash in trusted-hashes.ts: both must be what the documents are now
 * (run `pnpm --filter @spaces/web generate` after changing a document).
 */
describe('trusted documents', () => {
  it('the committed manifest and hashes are generated from the current documents', async () => {
    const operations = await collectOperations();
    expect(readFileSync(MANIFEST_PATH, 'utf8')).toBe(renderManifest(operations));
    expect(readFileSync(HASHES_PATH, 'utf8')).toBe(renderHashes(operations));
  });

  it('holds every operation of the document modules, each under the sha256 of its text', async () => {
    expect(documentModules().map((file) => file.split('/src/')[1])).toEqual(
      expect.arrayContaining(['lib/graphql/documents.ts', 'lib/graphql/audio.ts']),
    );
    const operations = await collectOperations();
    const names = new Set(operations.map((o) => o.name));
    for (const value of Object.values({ ...documents, ...audio })) {
      const operation = (value as unknown as { definitions?: readonly { kind: string; name?: { value: string } }[] }).definitions?.find(
        (d) => d.kind === 'OperationDefinition',
      );
      if (operation?.name) expect(names).toContain(operation.name.value);
    }
    expect(operations.length).toBeGreaterThan(20);
    for (const o of operations) expect(o.id).toBe(createHash('sha256').update(o.body).digest('hex'));
  });
});
