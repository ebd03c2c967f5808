/**
 * A benchmark's helper process: a tsx child with an IPC channel, its fd limit raised as far as
 * allowed first (bench/fanout.ts, bench/bar.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const testsDir = path.dirname(benchDir);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Message = { type: string; [key: string]: any };

/** A tsx child with an IPC channel; its fd limit raised as far as allowed first. */
export class Child {
  readonly proc: ChildProcess;
  private inbox: Message[] = [];
  private waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  exited = false;

  constructor(
    readonly name: string,
    script: string,
    extraEnv: Record<string, string> = {},
    nodeArgs: string[] = [],
  ) {
    this.proc = spawn(
      'bash',
      [
        '-c',
        'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"',
        name,
        process.execPath,
        ...nodeArgs,
        '--import',
        'tsx',
        path.join(benchDir, script),
      ],
      { cwd: testsDir, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    this.proc.on('message', (m: Message) => {
      const i = this.waiters.findIndex((w) => w.match(m));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
      else this.inbox.push(m);
    });
    this.proc.on('exit', () => (this.exited = true));
  }

  send(message: Record<string, unknown>) {
    if (this.proc.connected) this.proc.send(message);
  }

  /** The next message (already received, or to come) that matches. */
  waitFor(match: (m: Message) => boolean, timeoutMs: number, what = 'a message'): Promise<Message> {
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: Message) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.name}: no ${what} in ${timeoutMs} ms${this.exited ? ' (process exited)' : ''}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  request(message: Record<string, unknown>, match: (m: Message) => boolean, timeoutMs: number, what?: string) {
    const reply = this.waitFor(match, timeoutMs, what);
    this.send(message);
    return reply;
  }

  async stop(graceMs = 8_000) {
    if (this.exited || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.send({ cmd: 'stop' });
    this.send({ cmd: 'close' });
    await Promise.race([exited, sleep(graceMs)]);
    if (!this.exited && this.proc.exitCode === null) {
      this.proc.kill('SIGKILL');
      await Promise.race([exited, sleep(2_000)]);
    }
  }
}
