/**
 * A throwaway coturn (Debian's `coturn`, /usr/bin/turnserver) for the network-namespace suites:
 * TURN over UDP on one address, TURN REST-API credentials only (`use-auth-secret` with its own
 * `static-auth-secret`, no user database entries), relaying only to the peers it is told to allow.
 *
 * The config is written to a file of mode 0600 in a temp folder (it holds the secret), not passed
 * on the command line. coturn is ready when it answers a STUN Binding request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const TURNSERVER = process.env.TURNSERVER ?? '/usr/bin/turnserver';

export interface TurnOptions {
  /** The one address coturn listens on and relays from (inside the namespace: 10.99.0.2). */
  address: string;
  /** coturn's static-auth-secret. Default: random. */
  secret?: string;
  /** The only peers the relay may reach (every other address is denied, as docs/deploy.md advises). */
  allowedPeers: string[];
  /** UDP port for TURN. Default: a free one on `address`. */
  port?: number;
  /** Relay ports, [min, max]. Default 49152–49251. */
  relayPorts?: [number, number];
  realm?: string;
  readyTimeoutMs?: number;
}

export interface RunningTurn {
  /** For TURN_URLS: `turn:<address>:<port>?transport=udp`. */
  url: string;
  address: string;
  port: number;
  secret: string;
  realm: string;
  /** Everything coturn printed so far. */
  log(): string;
  stop(): Promise<void>;
}

/** A free UDP port on `address` (bound, read, released). */
async function freeUdpPort(address: string): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => resolve());
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Sends one STUN Binding request; resolves true if a response with its transaction id comes back. */
export async function stunBinding(address: string, port: number, timeoutMs = 300): Promise<boolean> {
  const socket = createSocket('udp4');
  const transaction = randomBytes(12);
  const request = Buffer.alloc(20);
  request.writeUInt16BE(0x0001, 0); // Binding request
  request.writeUInt16BE(0, 2); // no attributes
  request.writeUInt32BE(0x2112a442, 4); // magic cookie
  transaction.copy(request, 8);
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      socket.on('message', (message) => {
        if (message.length >= 20 && message.readUInt16BE(0) === 0x0101 && message.subarray(8, 20).equals(transaction)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      socket.on('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
      socket.send(request, port, address);
    });
  } finally {
    socket.close();
  }
}

export function turnConfig(o: { address: string; port: number; secret: string; realm: string; relayPorts: [number, number]; allowedPeers: string[]; dir: string }): string {
  return [
    `listening-ip=${o.address}`,
    `relay-ip=${o.address}`,
    `listening-port=${o.port}`,
    `min-port=${o.relayPorts[0]}`,
    `max-port=${o.relayPorts[1]}`,
    // TURN REST API: credentials are HMACs of "<expiry>:<user>" made by the Spaces API; no other users.
    'use-auth-secret',
    `static-auth-secret=${o.secret}`,
    `realm=${o.realm}`,
    'fingerprint',
    // UDP only: no TCP/TLS/DTLS listeners, no TCP relays, no telnet CLI.
    'no-tcp',
    'no-tls',
    'no-dtls',
    'no-tcp-relay',
    'no-cli',
    'no-multicast-peers',
    'no-software-attribute',
    // The relay reaches the media servers and nothing else: every address is denied as a peer
    // except those allowed (coturn lets an address that is both allowed and denied through).
    'denied-peer-ip=0.0.0.0-255.255.255.255',
    'denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ...o.allowedPeers.map((peer) => `allowed-peer-ip=${peer}`),
    `userdb=${path.join(o.dir, 'turndb')}`,
    `pidfile=${path.join(o.dir, 'turnserver.pid')}`,
    'log-file=stdout',
    'simple-log',
    // One line per session event (allocations, refusals), for the tests to read.
    'verbose',
    '',
  ].join('\n');
}

export async function startTurn(options: TurnOptions): Promise<RunningTurn> {
  if (!existsSync(TURNSERVER)) throw new Error(`${TURNSERVER} not found: apt-get install -y coturn (scripts/bootstrap.sh test does)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'spaces-coturn-'));
  const secret = options.secret ?? randomBytes(24).toString('base64url');
  const realm = options.realm ?? 'spaces.test';
  const port = options.port ?? (await freeUdpPort(options.address));
  const configFile = path.join(dir, 'turnserver.conf');
  writeFileSync(
    configFile,
    turnConfig({ address: options.address, port, secret, realm, relayPorts: options.relayPorts ?? [49152, 49251], allowedPeers: options.allowedPeers, dir }),
    { mode: 0o600 },
  );
  let output = '';
  const child: ChildProcess = spawn(TURNSERVER, ['-c', configFile], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  while (!(await stunBinding(options.address, port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`coturn did not start on ${options.address}:${port}:\n${output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `turn:${options.address}:${port}?transport=udp`, address: options.address, port, secret, realm, log: () => output, stop };
}
