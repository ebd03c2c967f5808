// The main entry ('@spaces/janus', what the API imports) must not load the test tooling: rtp.ts and
// goertzel.ts live behind '@spaces/janus/testing', and rtp.ts loads opusscript (WASM) on import.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(PACKAGE_DIR, 'src');
const TEST_TOOLING = ['rtp.ts', 'goertzel.ts', 'testing.ts'].map((name) => join(SRC, name));

/**
 * Every module reached from `entry` at run time, following relative imports and re-exports
 * (static and dynamic) and skipping `import type` / `export type`, which TypeScript erases.
 * An `import { type X }` still counts: with verbatimModuleSyntax the import itself stays.
 */
function runtimeImportGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const specifiers: string[] = [];
    const walk = (node: ts.Node) => {
      if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) {
        specifiers.push((node.moduleSpecifier as ts.StringLiteral).text);
      } else if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier) {
        specifiers.push((node.moduleSpecifier as ts.StringLiteral).text);
      } else if (
        ts.isCallExpression(node) &&
        (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
      ) {
        const [argument] = node.arguments;
        if (argument && ts.isStringLiteralLike(argument)) specifiers.push(argument.text);
        else throw new Error(`${file}: a dynamic import of a computed name cannot be checked`);
      }
      ts.forEachChild(node, walk);
    };
    walk(source);
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else packages.add(specifier);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('the main entry leaves the test tooling out', () => {
  test('statically: src/index.ts never reaches rtp.ts, goertzel.ts or opusscript', () => {
    const main = runtimeImportGraph(join(SRC, 'index.ts'));
    expect(main.files).toContain(join(SRC, 'session.ts')); // the walk does follow the client
    for (const file of TEST_TOOLING) expect(main.files).not.toContain(file);
    expect(main.packages).not.toContain('opusscript');

    // The same walk from the testing entry finds them: it would notice them in the main entry.
    const testing = runtimeImportGraph(join(SRC, 'testing.ts'));
    expect(testing.files).toContain(join(SRC, 'rtp.ts'));
    expect(testing.files).toContain(join(SRC, 'goertzel.ts'));
    expect(testing.packages).toContain('opusscript');
  });

  test('at run time: importing @spaces/janus in a fresh Node loads none of them', () => {
    const loaded = (specifier: string) => modulesLoadedBy(specifier);
    const main = loaded('@spaces/janus');
    expect(main).toContain(pathToFileURL(join(SRC, 'session.ts')).href);
    const tooling = main.filter((url) => TEST_TOOLING.some((file) => url === pathToFileURL(file).href) || /opusscript/.test(url));
    expect(tooling).toEqual([]);

    const testing = loaded('@spaces/janus/testing');
    expect(testing).toContain(pathToFileURL(join(SRC, 'rtp.ts')).href);
    expect(testing.some((url) => /\/opusscript\//.test(url))).toBe(true);
  });
});

/**
 * Imports `specifier` (by package name, through package.json "exports") in a child Node with tsx,
 * and returns the URL of every module resolved meanwhile, recorded by a module resolve hook.
 */
function modulesLoadedBy(specifier: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'spaces-janus-entry-'));
  try {
    const hooks = join(dir, 'record-imports.mjs');
    const log = join(dir, 'imports.log');
    writeFileSync(log, '');
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(log, result.url + '\\n');
  return result;
}
`,
    );
    const script =
      `import { register } from 'node:module';\n` +
      `register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { log: ${JSON.stringify(log)} } });\n` +
      `await import(${JSON.stringify(specifier)});\n`;
    // cwd is the package: its own name resolves there through "exports" (self-reference).
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: PACKAGE_DIR,
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (child.status !== 0) throw new Error(`importing ${specifier} failed (${child.status}): ${child.stderr}`);
    return [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
