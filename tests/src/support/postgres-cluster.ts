import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';

/**
 * A throwaway PostgreSQL cluster for the test run: initdb into a temp folder, a server on a
 * free loopback port, removed on stop. As root it runs as the `postgres` user (Postgres refuses
 * to run as root). Tuned for tests: no fsync, since the data is thrown away.
 */
export interface Cluster {
  url: string;
  /** PID of the running postmaster (null while stopped by stopServer). */
  readonly pid: number | null;
  /**
   * Stops the server but keeps its data, for fault tests: `fast` (SIGINT) rolls back open
   * transactions and disconnects everyone; `immediate` (SIGQUIT) is a crash, recovered at the next
   * start. Resolves once the postmaster has exited.
   */
  stopServer(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts the server again on the same port and data; resolves once it accepts connections. */
  startServer(): Promise<void>;
  /** Stops the server and removes the cluster. */
  stop(): Promise<void>;
}

export function findPostgresBin(): string {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // no pg_config on PATH
  }
  const root = '/usr/lib/postgresql';
  if (existsSync(root))
    for (const version of readdirSync(root).sort((a, b) => Number(b) - Number(a))) candidates.push(path.join(root, version, 'bin'));
  const found = candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'postgres')));
  if (!found)
    throw new Error('PostgreSQL server binaries not found. Install them (apt-get install -y postgresql) or set TEST_DATABASE_URL.');
  return found;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export interface ClusterOptions {
  /**
   * Extra `name=value` settings, after the defaults (so they win): e.g. `synchronous_commit=on`
   * for a test that crashes the server and checks that no acknowledged commit is lost.
   */
  settings?: string[];
  /** Each chunk the server writes to stderr (its log). */
  onLog?: (chunk: string) => void;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const bin = findPostgresBin();
  const dir = mkdtempSync(path.join(tmpdir(), 'spaces-pg-'));
  const dataDir = path.join(dir, 'data');
  const owner = postgresUser();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};
  execFileSync(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'], {
    ...asOwner,
    stdio: 'ignore',
    cwd: dir,
  });
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let server: ChildProcess | null = null;

  const spawnServer = async () => {
    const child: ChildProcess = spawn(
      path.join(bin, 'postgres'),
      [
        '-D', dataDir, '-p', String(port), '-k', dir,
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
        '-c', 'max_connections=400', '-c', 'shared_buffers=128MB',
        ...(options.settings ?? []).flatMap((setting) => ['-c', setting]),
      ],
      { ...asOwner, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    server = child;
    let log = '';
    child.stderr?.on('data', (chunk) => {
      log = (log + chunk).slice(-4000);
      options.onLog?.(String(chunk));
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres exited early:\n${log}`);
      try {
        const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 2 });
        await sql`select 1`;
        await sql.end();
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`postgres did not start in 30 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  const stopServer = async (mode: 'fast' | 'immediate' = 'fast') => {
    const child = server;
    server = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };

  await spawnServer();
  return {
    url,
    get pid() {
      return server?.pid ?? null;
    },
    stopServer,
    startServer: async () => {
      if (server) throw new Error('the server is already running');
      await spawnServer();
    },
    async stop() {
      await stopServer('fast');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
