import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The templates in janus/config/, rendered into a run folder at each launch. */
export const CONFIG_TEMPLATE_DIR = fileURLToPath(new URL('../config/', import.meta.url));

/** See JanusLaunchOptions.eventLoops. */
export const DEFAULT_EVENT_LOOPS = 2;

const WANTED_PLUGINS = ['libjanus_audiobridge.so', 'libjanus_streaming.so'];
const WANTED_TRANSPORTS = ['libjanus_http.so'];

/** ICE/NAT settings for real deployments; on one machine or in tests none are needed. */
export interface JanusIceOptions {
  /** `host` or `host:port` of a STUN server Janus uses to learn its public address. */
  stunServer?: string;
  /** Public IP(s) of a 1:1 NAT (e.g. a cloud VM), announced instead of the private address. */
  nat11Mapping?: string;
  /** With `nat11Mapping`: announce the private address as well. */
  keepPrivateHost?: boolean;
  turn?: { server: string; port?: number; type?: 'udp' | 'tcp' | 'tls'; user?: string; password?: string };
  /** Comma-separated interfaces/addresses that alone are used for ICE candidates (e.g. a test veth). */
  enforceList?: string;
  /** Comma-separated interfaces/addresses never used for ICE candidates. Default: "vmnet" (Janus's). */
  ignoreList?: string;
  fullTrickle?: boolean;
}

export interface JanusLaunchOptions {
  /** Path of the janus binary. Default: $JANUS_BIN, then `janus` on PATH, then /usr/bin/janus. */
  janusPath?: string;
  /** Install Debian's `janus` with apt-get when it is missing and we are root. Default true. */
  installIfMissing?: boolean;
  /** Address both HTTP APIs bind to and the URL uses. Default 127.0.0.1. */
  httpIp?: string;
  /** Janus API port. Default: a free port on 127.0.0.1. */
  httpPort?: number;
  /** Enables the admin API on this port (same address); off unless given. Needs `adminSecret`. */
  adminPort?: number;
  adminSecret?: string;
  /** AudioBridge/Streaming admin_key (needed to create rooms and forwarders). Default: random. */
  adminKey?: string;
  /**
   * Janus `api_secret`: every Janus API request (except GET /info and ping) must carry it, or Janus
   * refuses it with error 403. Default: random, so that nothing else on the machine can open
   * sessions, join rooms or listen in. Pass RunningJanus.apiSecret to JanusSession.create().
   */
  apiSecret?: string;
  /** UDP range for WebRTC media, "min-max". Default 20000-29999. */
  rtpPortRange?: string;
  /** UDP range for AudioBridge plain-RTP participants. Default 30000-31999. */
  audioBridgeRtpPortRange?: string;
  /** UDP range for Streaming mountpoints. Default 32000-32767. */
  streamingRtpPortRange?: string;
  /** Address AudioBridge announces for plain RTP and forwarders. Default 127.0.0.1. */
  audioBridgeLocalIp?: string;
  /** Load the Streaming plugin too. Default true. */
  streaming?: boolean;
  ice?: JanusIceOptions;
  /** Default 60. */
  sessionTimeoutSeconds?: number;
  /**
   * Janus `event_loops`: how many threads carry every PeerConnection's media, instead of one
   * thread (and GMainLoop) per handle. Default 2 (see docs/scaling.md for the measurements);
   * 0 leaves the line out: Janus's own default, a loop per handle.
   */
  eventLoops?: number;
  /** Janus log level 0-7 (3 = warnings). Default 3. */
  debugLevel?: number;
  /**
   * Command that runs Janus, e.g. ['ip', 'netns', 'exec', 'ns1'] or ['nsenter', '--net=/proc/123/ns/net'].
   * It must exec Janus (not fork), so that the PID we hold is Janus's own.
   */
  spawnPrefix?: string[];
  /** Folder to render the config into. Default: a new temp folder, removed by stop(). */
  runDir?: string;
  /** Default: janus/config/. */
  configTemplateDir?: string;
  /** How long to wait for GET /janus/info. Default 15000 ms. */
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 5000 ms. */
  stopTimeoutMs?: number;
  /** Each line Janus prints (stdout and stderr). */
  onLog?: (line: string) => void;
  /** Lines of Janus's output kept for error messages. Default 200. */
  logTailLines?: number;
}

export interface RunningJanus {
  /** Base URL of the Janus API, e.g. http://127.0.0.1:8088/janus */
  httpUrl: string;
  /** Base URL of the admin API, when enabled. */
  adminUrl: string | undefined;
  adminKey: string;
  /** The Janus API secret: the one given, or the random one generated. */
  apiSecret: string;
  pid: number;
  runDir: string;
  /** Milliseconds from spawn until /janus/info answered. */
  readyAfterMs: number;
  /** The last lines Janus printed. */
  logTail(): string;
  /** Whether the process has exited (stopped, or died). */
  readonly exited: boolean;
  /** SIGTERM, then SIGKILL after stopTimeoutMs; removes the run folder we made. Idempotent. */
  stop(): Promise<void>;
  /** Called once when Janus exits for any reason; returns an unsubscribe function. */
  onExit(callback: (code: number | null, signal: NodeJS.Signals | null) => void): () => void;
}

export class JanusNotInstalledError extends Error {
  override readonly name = 'JanusNotInstalledError';
}

export class JanusStartError extends Error {
  override readonly name = 'JanusStartError';
  constructor(
    /** exited: Janus quit before answering; timeout: it never answered; setup: it answered wrongly. */
    readonly reason: 'exited' | 'timeout' | 'spawn' | 'setup',
    message: string,
  ) {
    super(message);
  }
}

/** Starts a private Janus with the project's config and waits until its HTTP API answers. */
export async function startJanus(options: JanusLaunchOptions = {}): Promise<RunningJanus> {
  const janusPath = await ensureJanusBinary(options);
  const libDir = findJanusLibDir(janusPath);
  // Auto-picked ports can be taken between our probe and Janus's bind: then try fresh ones.
  const attempts = options.httpPort === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await launchOnce(options, janusPath, libDir);
    } catch (error) {
      lastError = error;
      if (!(error instanceof JanusStartError) || error.reason !== 'exited') break;
    }
  }
  throw lastError;
}

async function launchOnce(options: JanusLaunchOptions, janusPath: string, libDir: string): Promise<RunningJanus> {
  const httpIp = options.httpIp ?? '127.0.0.1';
  const httpPort = options.httpPort ?? (await findFreePort());
  const adminPort = options.adminPort;
  if (adminPort !== undefined && !options.adminSecret) {
    throw new Error('startJanus: adminPort needs adminSecret, or anyone local could administer Janus');
  }
  const adminKey = options.adminKey ?? randomBytes(18).toString('base64url');
  // '' too gets a random secret: Janus would require an empty apisecret, which clients never send.
  const apiSecret = options.apiSecret || randomBytes(18).toString('base64url');
  const ownsRunDir = options.runDir === undefined;
  const runDir = options.runDir ?? mkdtempSync(join(tmpdir(), 'spaces-janus-'));
  mkdirSync(runDir, { recursive: true });
  let cleanedUp = false;
  const cleanup = () => {
    if (cleanedUp) return;
    cleanedUp = true;
    if (ownsRunDir) rmSync(runDir, { recursive: true, force: true });
  };

  const ice = options.ice ?? {};
  const [stunHost, stunPort] = splitHostPort(ice.stunServer, 3478);
  const values: ConfigValues = {
    configs_folder: runDir,
    plugins_folder: join(libDir, 'plugins'),
    transports_folder: join(libDir, 'transports'),
    events_folder: join(libDir, 'events'),
    loggers_folder: join(libDir, 'loggers'),
    server_name: 'spaces',
    debug_level: options.debugLevel ?? 3,
    api_secret: apiSecret,
    admin_secret: options.adminSecret,
    session_timeout: options.sessionTimeoutSeconds ?? 60,
    event_loops: options.eventLoops === 0 ? undefined : (options.eventLoops ?? DEFAULT_EVENT_LOOPS),
    rtp_port_range: options.rtpPortRange ?? '20000-29999',
    full_trickle: ice.fullTrickle ?? false,
    stun_server: stunHost,
    stun_port: stunHost === undefined ? undefined : stunPort,
    nat_1_1_mapping: ice.nat11Mapping,
    keep_private_host: ice.nat11Mapping === undefined ? undefined : (ice.keepPrivateHost ?? false),
    turn_server: ice.turn?.server,
    turn_port: ice.turn ? (ice.turn.port ?? 3478) : undefined,
    turn_type: ice.turn ? (ice.turn.type ?? 'udp') : undefined,
    turn_user: ice.turn?.user,
    turn_pwd: ice.turn?.password,
    ice_enforce_list: ice.enforceList,
    // Janus ignores the ignore list when an enforce list is set, and warns about it.
    ice_ignore_list: ice.ignoreList ?? (ice.enforceList ? undefined : 'vmnet'),
    disabled_plugins: listToDisable(
      join(libDir, 'plugins'),
      options.streaming === false ? WANTED_PLUGINS.slice(0, 1) : WANTED_PLUGINS,
    ),
    disabled_transports: listToDisable(join(libDir, 'transports'), WANTED_TRANSPORTS),
    disabled_loggers: listToDisable(join(libDir, 'loggers'), []),
    disabled_event_handlers: listToDisable(join(libDir, 'events'), []),
    http_ip: httpIp,
    http_port: httpPort,
    admin_http: adminPort !== undefined,
    admin_port: adminPort,
    admin_key: adminKey,
    audiobridge_rtp_port_range: options.audioBridgeRtpPortRange ?? '30000-31999',
    audiobridge_local_ip: options.audioBridgeLocalIp ?? '127.0.0.1',
    streaming_rtp_port_range: options.streamingRtpPortRange ?? '32000-32767',
  };
  try {
    renderConfigFolder(options.configTemplateDir ?? CONFIG_TEMPLATE_DIR, runDir, values, options);
  } catch (error) {
    cleanup();
    throw error;
  }

  const janusArgs = [janusPath, '-F', runDir, '-C', join(runDir, 'janus.jcfg')];
  const command = [...killWithParentPrefix(), ...(options.spawnPrefix ?? []), ...janusArgs];
  const startedAt = performance.now();
  // cwd: Janus enables core dumps itself, and a crash must not drop a core file into the repo.
  const child = spawn(command[0]!, command.slice(1), { cwd: runDir, stdio: ['ignore', 'pipe', 'pipe'] });

  const logTail = new LineTail(options.logTailLines ?? 200, options.onLog);
  child.stdout!.on('data', (chunk: Buffer) => logTail.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => logTail.push(chunk));

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitCallbacks = new Set<(code: number | null, signal: NodeJS.Signals | null) => void>();
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      process.off('exit', killOnParentExit);
      // However Janus ended (stop(), crash, a signal to the whole process group), its folder goes.
      cleanup();
      for (const callback of exitCallbacks) callback(code, signal);
      resolve();
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  // A parent that ends without stop() (crash, process.exit) must not leave Janus running.
  const killOnParentExit = () => {
    if (!exitInfo && child.pid !== undefined) signalProcess(child.pid, 'SIGKILL');
    cleanup();
  };
  process.on('exit', killOnParentExit);

  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (!exitInfo && child.pid !== undefined) {
        signalProcess(child.pid, 'SIGTERM');
        const timedOut = await Promise.race([exited.then(() => false), delay(stopTimeoutMs).then(() => true)]);
        if (timedOut && !exitInfo) {
          signalProcess(child.pid, 'SIGKILL');
          await exited;
        }
      }
      cleanup();
    })());

  const httpUrl = `http://${urlHost(httpIp)}:${httpPort}/janus`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  try {
    const outcome = await Promise.race([
      waitForInfo(httpUrl, apiSecret, readyTimeoutMs).then((info) => ({ kind: 'ready' as const, info })),
      exited.then(() => ({ kind: 'exited' as const })),
      spawnError.then((error) => ({ kind: 'spawn-error' as const, error })),
    ]);
    if (outcome.kind === 'exited') {
      await delay(50); // let the last log lines arrive
      throw new JanusStartError(
        'exited',
        `Janus exited (code ${exitInfo?.code}, signal ${exitInfo?.signal}) before its API answered at ${httpUrl}.` +
          `\nCommand: ${command.join(' ')}\nLast log lines:\n${logTail.text()}`,
      );
    }
    if (outcome.kind === 'spawn-error') {
      throw new JanusStartError('spawn', `Could not run ${command.join(' ')}: ${outcome.error.message}`);
    }
    if (outcome.info === undefined) {
      throw new JanusStartError(
        'timeout',
        `Janus did not answer GET ${httpUrl}/info within ${readyTimeoutMs} ms.` +
          `\nCommand: ${command.join(' ')}\nLast log lines:\n${logTail.text()}`,
      );
    }
    const plugins = Object.keys(outcome.info.plugins ?? {});
    if (!plugins.includes('janus.plugin.audiobridge')) {
      throw new JanusStartError('setup', `Janus started without the AudioBridge plugin (plugins: ${plugins.join(', ') || 'none'}).`);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    httpUrl,
    adminUrl: adminPort === undefined ? undefined : `http://${urlHost(httpIp)}:${adminPort}/admin`,
    adminKey,
    apiSecret,
    pid: child.pid!,
    runDir,
    readyAfterMs: Math.round(performance.now() - startedAt),
    logTail: () => logTail.text(),
    get exited() {
      return exitInfo !== undefined;
    },
    stop,
    onExit(callback) {
      if (exitInfo) {
        const { code, signal } = exitInfo;
        queueMicrotask(() => callback(code, signal));
        return () => {};
      }
      exitCallbacks.add(callback);
      return () => exitCallbacks.delete(callback);
    },
  };
}

/**
 * Reads launch options from environment variables, so `pnpm start` and deployments configure Janus
 * the same way: JANUS_HTTP_PORT, JANUS_ADMIN_KEY, JANUS_API_SECRET, JANUS_RTP_PORT_RANGE,
 * JANUS_AUDIOBRIDGE_RTP_PORT_RANGE, JANUS_STREAMING_RTP_PORT_RANGE, JANUS_LOCAL_IP,
 * JANUS_STUN_SERVER, JANUS_NAT_1_1_MAPPING, JANUS_KEEP_PRIVATE_HOST, JANUS_TURN_SERVER (host:port),
 * JANUS_TURN_TYPE, JANUS_TURN_USER, JANUS_TURN_PASSWORD, JANUS_ICE_ENFORCE_LIST,
 * JANUS_ICE_IGNORE_LIST, JANUS_DEBUG_LEVEL, JANUS_BIN.
 */
export function janusOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): JanusLaunchOptions {
  const number = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got "${raw}"`);
    return value;
  };
  const text = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const [turnHost, turnPort] = splitHostPort(text('JANUS_TURN_SERVER'), 3478);
  const turnType = text('JANUS_TURN_TYPE');
  if (turnType !== undefined && turnType !== 'udp' && turnType !== 'tcp' && turnType !== 'tls') {
    throw new Error(`JANUS_TURN_TYPE must be udp, tcp or tls, got "${turnType}"`);
  }
  const options: JanusLaunchOptions = {
    janusPath: text('JANUS_BIN'),
    httpPort: number('JANUS_HTTP_PORT'),
    adminKey: text('JANUS_ADMIN_KEY'),
    apiSecret: text('JANUS_API_SECRET'),
    rtpPortRange: text('JANUS_RTP_PORT_RANGE'),
    audioBridgeRtpPortRange: text('JANUS_AUDIOBRIDGE_RTP_PORT_RANGE'),
    streamingRtpPortRange: text('JANUS_STREAMING_RTP_PORT_RANGE'),
    audioBridgeLocalIp: text('JANUS_LOCAL_IP'),
    debugLevel: number('JANUS_DEBUG_LEVEL'),
    ice: {
      stunServer: text('JANUS_STUN_SERVER'),
      nat11Mapping: text('JANUS_NAT_1_1_MAPPING'),
      keepPrivateHost: env.JANUS_KEEP_PRIVATE_HOST === 'true' || env.JANUS_KEEP_PRIVATE_HOST === '1',
      turn:
        turnHost === undefined
          ? undefined
          : {
              server: turnHost,
              port: turnPort,
              type: turnType,
              user: text('JANUS_TURN_USER'),
              password: text('JANUS_TURN_PASSWORD'),
            },
      enforceList: text('JANUS_ICE_ENFORCE_LIST'),
      ignoreList: text('JANUS_ICE_IGNORE_LIST'),
    },
  };
  return options;
}

// ---------------------------------------------------------------------------------------------
// Binary and library discovery

/** Finds the janus binary; installs Debian's package when missing and we are root. */
export async function ensureJanusBinary(options: Pick<JanusLaunchOptions, 'janusPath' | 'installIfMissing'> = {}) {
  if (options.janusPath) {
    if (!existsSync(options.janusPath)) throw new JanusNotInstalledError(`Janus binary not found at ${options.janusPath}`);
    return options.janusPath;
  }
  const found = findJanusBinary();
  if (found) return found;
  const isRoot = process.getuid?.() === 0;
  if (options.installIfMissing === false || !isRoot || !existsSync('/usr/bin/apt-get')) {
    throw new JanusNotInstalledError(
      'Janus is not installed (no $JANUS_BIN, no `janus` on PATH, no /usr/bin/janus). ' +
        'Install it with: sudo apt-get install -y janus',
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', 'janus']]) {
    const result = spawnSync('apt-get', args, { env, encoding: 'utf8' });
    if (result.status !== 0) {
      throw new JanusNotInstalledError(
        `apt-get ${args.join(' ')} failed (${result.status}): ${result.stderr.trim().slice(-2000)}`,
      );
    }
  }
  // Debian starts a system-wide Janus on install (public ports, demo config); Spaces runs its own.
  spawnSync('systemctl', ['disable', '--now', 'janus'], { stdio: 'ignore' });
  const installed = findJanusBinary();
  if (!installed) throw new JanusNotInstalledError('apt-get installed janus, but no janus binary was found');
  return installed;
}

function findJanusBinary(): string | undefined {
  const candidates = [process.env.JANUS_BIN, ...(process.env.PATH ?? '').split(':').map((dir) => join(dir, 'janus')), '/usr/bin/janus'];
  return candidates.find((path): path is string => !!path && existsSync(path));
}

/** The folder with plugins/, transports/, ... for this binary (Debian uses a multiarch folder). */
function findJanusLibDir(janusPath: string): string {
  const prefix = dirname(dirname(realpathSync(janusPath)));
  const libRoot = join(prefix, 'lib');
  const candidates = [join(libRoot, 'janus')];
  if (existsSync(libRoot)) {
    for (const entry of readdirSync(libRoot)) candidates.push(join(libRoot, entry, 'janus'));
  }
  const found = candidates.find((dir) => existsSync(join(dir, 'plugins', 'libjanus_audiobridge.so')));
  if (!found) {
    throw new JanusNotInstalledError(
      `Janus's AudioBridge plugin (libjanus_audiobridge.so) was not found under ${libRoot}; ` +
        'reinstall with: sudo apt-get install -y --reinstall janus',
    );
  }
  return found;
}

/** Every module the package ships in `dir` except `wanted`, as Janus's comma list. */
function listToDisable(dir: string, wanted: string[]): string | undefined {
  if (!existsSync(dir)) return undefined;
  const names = readdirSync(dir).filter((name) => name.endsWith('.so') && !wanted.includes(name));
  return names.length === 0 ? undefined : names.sort().join(',');
}

// ---------------------------------------------------------------------------------------------
// Config rendering

type ConfigValue = string | number | boolean | undefined;
type ConfigValues = Record<string, ConfigValue>;

/**
 * Renders each template: `{{name}}` becomes a libconfig value (strings quoted); a line whose value
 * is undefined is left out, so Janus uses its default. Unknown names are errors (typos).
 */
export function renderConfigTemplate(template: string, values: ConfigValues, fileName = 'template'): string {
  const lines: string[] = [];
  for (const line of template.split('\n')) {
    if (line.trimStart().startsWith('#')) {
      lines.push(line); // comments may mention {{name}} themselves
      continue;
    }
    let skip = false;
    const rendered = line.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
      if (!(name in values)) throw new Error(`${fileName}: unknown placeholder {{${name}}}`);
      const value = values[name];
      if (value === undefined) {
        skip = true;
        return '';
      }
      return typeof value === 'string' ? JSON.stringify(value) : String(value);
    });
    if (!skip) lines.push(rendered);
  }
  return lines.join('\n');
}

function renderConfigFolder(templateDir: string, runDir: string, values: ConfigValues, options: JanusLaunchOptions) {
  const files = readdirSync(templateDir).filter((name) => name.endsWith('.jcfg'));
  if (!files.includes('janus.jcfg')) throw new Error(`No janus.jcfg template in ${templateDir}`);
  for (const file of files) {
    if (file === 'janus.plugin.streaming.jcfg' && options.streaming === false) continue;
    const rendered = renderConfigTemplate(readFileSync(join(templateDir, file), 'utf8'), values, file);
    writeFileSync(join(runDir, file), rendered, { mode: 0o600 }); // holds admin_key, api_secret
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

interface ServerInfo {
  janus: string;
  version_string?: string;
  plugins?: Record<string, unknown>;
}

/** Polls GET <url>/info until it answers; undefined on timeout. */
async function waitForInfo(httpUrl: string, apiSecret: string | undefined, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  const query = apiSecret ? `?apisecret=${encodeURIComponent(apiSecret)}` : '';
  while (performance.now() < deadline) {
    try {
      const response = await fetch(`${httpUrl}/info${query}`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) {
        const info = (await response.json()) as ServerInfo;
        if (info.janus === 'server_info') return info;
      }
    } catch {
      // not listening yet
    }
    await delay(25);
  }
  return undefined;
}

export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

let pdeathsigSupported: boolean | undefined;
/**
 * `setpriv --pdeathsig KILL` makes the kernel kill Janus if our process dies without running exit
 * handlers (SIGKILL, OOM). setpriv execs, so Janus keeps the PID we hold.
 */
function killWithParentPrefix(): string[] {
  pdeathsigSupported ??= spawnSync('setpriv', ['--help'], { encoding: 'utf8' }).stdout?.includes('--pdeathsig') ?? false;
  return pdeathsigSupported ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
}

function signalProcess(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function splitHostPort(value: string | undefined, defaultPort: number): [string | undefined, number] {
  if (!value) return [undefined, defaultPort];
  const match = /^(.*?)(?::(\d+))?$/.exec(value)!;
  return [match[1], match[2] ? Number(match[2]) : defaultPort];
}

function urlHost(ip: string) {
  return ip.includes(':') ? `[${ip}]` : ip;
}

function delay(ms: number) {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}

/** Keeps the last N lines of output and passes each line on. */
class LineTail {
  readonly #lines: string[] = [];
  #partial = '';
  constructor(
    readonly limit: number,
    readonly onLine?: (line: string) => void,
  ) {}

  push(chunk: Buffer) {
    const parts = (this.#partial + chunk.toString('utf8')).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const line of parts) {
      this.#lines.push(line);
      if (this.#lines.length > this.limit) this.#lines.shift();
      this.onLine?.(line);
    }
  }

  text() {
    return [...this.#lines, this.#partial].filter(Boolean).join('\n');
  }
}
