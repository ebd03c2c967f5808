// @vitest-environment node
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The typed documents are checked against graphql-env.d.ts; this keeps that file in step with
 * the API's printed schema (run `pnpm generate` at the root after changing the API).
 */
describe('gql.tada introspection', () => {
  it('matches ../api/schema.graphql', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tada-'));
    try {
      const fresh = path.join(dir, 'graphql-env.d.ts');
      execFileSync('npx', ['gql.tada', 'generate', 'output', '--output', fresh], { stdio: 'ignore' });
      const checkedIn = readFileSync(path.resolve('src/lib/graphql/graphql-env.d.ts'), 'utf8');
      expect(readFileSync(fresh, 'utf8')).toBe(checkedIn);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
