import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { schema } from '@spaces/api';
import type { TestApp } from './app.ts';

/** docs/ and its runnable examples (docs/examples/, a workspace package with their dependencies). */
export const DOCS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs');
export const EXAMPLES_DIR = path.join(DOCS_DIR, 'examples');

/** The example files the docs show (every program in docs/examples/: .mjs for Node, .sh for bash). */
export const exampleFiles = () => readdirSync(EXAMPLES_DIR).filter((name) => /\.(mjs|sh)$/.test(name)).sort();

/**
 * The fenced code blocks of a Markdown file that name an example file in their info string
 * (```js file=examples/subscribe.mjs), with their text.
 */
export function exampleBlocks(markdownPath: string): Map<string, string> {
  const markdown = readFileSync(markdownPath, 'utf8');
  const blocks = new Map<string, string>();
  for (const match of markdown.matchAll(/^```\w*[ \t]+file=(\S+)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm)) blocks.set(match[1]!, match[2]!);
  return blocks;
}

/**
 * A bearer token for an example to use: a personal access token with `scopes` when the API has
 * them (createPersonalAccessToken), else the user's session token (also a Bearer token).
 */
export async function exampleToken(t: TestApp, sessionToken: string, scopes: string[]): Promise<{ token: string; kind: 'pat' | 'session' }> {
  if (!schema.getMutationType()?.getFields().createPersonalAccessToken) return { token: sessionToken, kind: 'session' };
  const r = await t.gql(
    'mutation($input: CreatePersonalAccessTokenInput!) { createPersonalAccessToken(input: $input) { token } }',
    { input: { name: 'docs example', scopes, expiresInDays: 1 } },
    { token: sessionToken },
  );
  if (r.errors) throw new Error(`createPersonalAccessToken failed: ${JSON.stringify(r.errors)}`);
  return { token: r.data!.createPersonalAccessToken.token as string, kind: 'pat' };
}

/** A running example: its output lines as they come, and its exit. */
export interface RunningExample {
  process: ChildProcessWithoutNullStreams;
  lines: string[];
  stderr: () => string;
  /** Resolves with the first output line (parsed as JSON) that `test` accepts. */
  waitForLine<T = Record<string, unknown>>(test: (line: T) => boolean, timeoutMs?: number): Promise<T>;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Runs `node docs/examples/<file>` (or `bash` for a .sh) with `env` added to the environment, as a
 * developer would. Its stdin stays open (process.stdin) for what a person would type.
 */
export function runExample(file: string, env: Record<string, string>): RunningExample {
  const interpreter = file.endsWith('.sh') ? 'bash' : process.execPath;
  const child = spawn(interpreter, [path.join(EXAMPLES_DIR, file)], {
    cwd: EXAMPLES_DIR,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const parts = stdout.split('\n');
    stdout = parts.pop()!;
    lines.push(...parts.filter(Boolean));
    for (const wake of waiters) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => {
    for (const wake of waiters) wake();
  });
  return {
    process: child,
    lines,
    stderr: () => stderr,
    exited,
    waitForLine<T>(test: (line: T) => boolean, timeoutMs = 15_000) {
      return new Promise<T>((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < lines.length; seen++) {
            let parsed: T;
            try {
              parsed = JSON.parse(lines[seen]!) as T;
            } catch {
              continue;
            }
            if (test(parsed)) return done(() => resolve(parsed));
          }
          if (child.exitCode !== null)
            done(() => reject(new Error(`${file} exited (${child.exitCode}) first.\nstdout:\n${lines.join('\n')}\nstderr:\n${stderr}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`${file}: no such line in ${timeoutMs} ms.\nstdout:\n${lines.join('\n')}\nstderr:\n${stderr}`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
