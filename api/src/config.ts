import { createHash, randomBytes } from 'node:crypto';
import type { IceConfig } from './services/ice.ts';
import { parseTrustProxy, type TrustProxy } from './lib/client-address.ts';

/** What a Janus instance is for: mixing stages, serving audiences (an edge), or both (the default). */
export type JanusRole = 'mix' | 'edge' | 'both';

export interface MixerInstanceConfig {
  name: string;
  /** Janus HTTP API base URL, e.g. http://127.0.0.1:8088/janus */
  url: string;
  /** AudioBridge and Streaming admin_key: needed to create rooms, forwarders and mountpoints. Secrets and pins derive from it. */
  adminKey: string;
  /** Janus api_secret: every request carries it. */
  apiSecret?: string;
  /** Mixing stages, serving audiences, or both (default). */
  role?: JanusRole;
  /** Where mixing instances send a space's mix for this edge's relays (default: the URL's host). */
  rtpHost?: string;
  /** Listeners this edge is meant to carry; placement picks the edge with the most headroom. */
  capacity?: number;
}

/** An S3-compatible bucket for media (MEDIA_S3_*): path-style requests signed with SigV4. */
export interface MediaS3Config {
  /** e.g. https://s3.eu-central-1.amazonaws.com, https://<account>.r2.cloudflarestorage.com, http://minio:9000 */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Optional key prefix inside the bucket (e.g. `spaces/`). */
  prefix: string;
  /**
   * Where clients fetch objects directly (a public bucket or CDN in front of it, e.g.
   * https://media.example.org); unset, the API serves them at /media/… itself from the bucket.
   */
  publicUrl?: string;
}

/** Everything configurable, from the environment (documented in the README; listed in turbo.json). */
export interface Config {
  port: number;
  host: string;
  /** Origins allowed to use the session cookie (besides the request's own Host). */
  publicOrigins: string[];
  databaseUrl?: string;
  dataDir?: string;
  /** `postgres` shares subscription events through LISTEN/NOTIFY; `memory` keeps them in-process. */
  pubsub: 'memory' | 'postgres';
  sessionTtlDays: number;
  /** How long a live space waits for its host to come back before it ends. */
  hostGraceMs: number;
  /**
   * How long a participant may go unseen (no spaceEvents subscription of the space on any
   * instance, no audio) before they leave it; the host is then away (PRESENCE_GRACE_MS).
   */
  presenceGraceMs: number;
  /**
   * Janus instances the API controls (JANUS_URLS="name=http://127.0.0.1:8088/janus,..." with
   * JANUS_ADMIN_KEY). Empty: `main.ts` starts a private Janus; a bare buildApp() has no voice.
   */
  mixers: MixerInstanceConfig[];
  /** Listeners a room seats in the AudioBridge (connectAudio) before they must use the audience tier (AUDIO_LISTENER_SEATS). */
  mixerListenerSeats: number;
  /** AudioBridge prebuffering in 20 ms packets (the mixer's added delay). */
  mixerPrebuffering: number;
  /** How often every live room is compared with the database and repaired (VOICE_SWEEP_MS). */
  mixerSweepMs: number;
  /** Lets plain-RTP participants join rooms (gateways, tests); never from the environment. */
  mixerPlainRtp: boolean;
  /** STUN/TURN handed to clients by the iceServers query (STUN_URLS, TURN_URLS, TURN_SECRET, TURN_TTL_SECONDS). */
  ice: IceConfig;
  /**
   * Which X-Forwarded-For hops to believe (TRUST_PROXY): off, a hop count, or proxy addresses.
   * Off: limits key on the TCP peer address (lib/client-address.ts).
   */
  trustProxy: TrustProxy;
  /** Open WebSockets one client address may hold on one instance (MAX_SOCKETS_PER_CLIENT). */
  maxSocketsPerClient: number;
  /**
   * A bearer token that opens /metrics from anywhere (METRICS_TOKEN); without it, /metrics answers
   * only clients on loopback or private networks (lib/client-address.ts isInternalClient).
   */
  metricsToken?: string;
  /**
   * Where uploaded media (avatars) is kept: a folder (MEDIA_DIR, default `.data/media` at the
   * repository root), or an S3-compatible bucket when MEDIA_S3_BUCKET is set (services/media-storage.ts).
   */
  mediaDir?: string;
  mediaS3?: MediaS3Config;
  /**
   * Abuse limits (services/limits.ts), counted in PostgreSQL across all instances (in memory
   * with PGlite). Clients are keyed by address (IPv6 by /64), users by id.
   */
  rateLimits: {
    /** Sign-in attempts from one client, any handle (clients that know the handle are exempt). */
    signInPerMinutePerClient: number;
    /** Sign-in attempts for one handle from all clients that have not signed in to it recently. */
    signInPerMinutePerHandle: number;
    /** Sign-in attempts for one handle from one client, known or not. */
    signInPerMinutePerHandleAndClient: number;
    /** How long a client that signed in to a handle stays exempt from the two limits above. */
    signInKnownClientDays: number;
    signUpPerHourPerClient: number;
    /** startGuestSession from one client. */
    guestSessionsPerHourPerClient: number;
    connectAudioPerMinutePerUser: number;
    /** Raising or lowering a hand, any space. */
    requestToSpeakPerMinutePerUser: number;
    /** joinSpace and leaveSpace together, any space. */
    joinLeavePerMinutePerUser: number;
    /** follow and unfollow together. */
    followPerMinutePerUser: number;
    /** postFleet. */
    fleetPostsPerHourPerUser: number;
    /** replyToFleet (replies and reactions), any fleet. */
    fleetRepliesPerMinutePerUser: number;
    /** POST /media/fleet-photo. */
    fleetPhotosPerHourPerUser: number;
    /** Requests (GraphQL operations, uploads) per personal access token or OAuth access token (TOKEN_REQUESTS_PER_MINUTE). */
    tokenRequestsPerMinute: number;
    /** Requests per OAuth app, all its users' tokens together (APP_REQUESTS_PER_MINUTE). */
    appRequestsPerMinute: number;
    /** POST /oauth/token and /oauth/revoke from one client: guessing codes, secrets or refresh tokens. */
    oauthEndpointPerMinutePerClient: number;
  };
  /**
   * The key that signs fleet photo upload ids (UPLOAD_SECRET). Every instance must share it: by
   * default it is derived from DATABASE_URL (the same for all instances of a deployment), or
   * random per process with PGlite (one instance).
   */
  uploadSecret: string;
}

/** The defaults of Config.rateLimits. */
export const DEFAULT_RATE_LIMITS: Config['rateLimits'] = {
  signInPerMinutePerClient: 30,
  signInPerMinutePerHandle: 20,
  signInPerMinutePerHandleAndClient: 10,
  signInKnownClientDays: 30,
  signUpPerHourPerClient: 20,
  guestSessionsPerHourPerClient: 10,
  connectAudioPerMinutePerUser: 20,
  requestToSpeakPerMinutePerUser: 30,
  joinLeavePerMinutePerUser: 60,
  followPerMinutePerUser: 60,
  fleetPostsPerHourPerUser: 30,
  fleetRepliesPerMinutePerUser: 30,
  fleetPhotosPerHourPerUser: 30,
  tokenRequestsPerMinute: 600,
  appRequestsPerMinute: 6000,
  oauthEndpointPerMinutePerClient: 60,
};

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be 0–65535, got ${env.PORT}`);
  const pubsub = (env.PUBSUB ?? (env.DATABASE_URL ? 'postgres' : 'memory')) as Config['pubsub'];
  if (pubsub !== 'memory' && pubsub !== 'postgres') throw new Error(`PUBSUB must be memory or postgres, got ${env.PUBSUB}`);
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    publicOrigins: (env.PUBLIC_ORIGIN ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.DATA_DIR || undefined,
    pubsub,
    sessionTtlDays: Number(env.SESSION_TTL_DAYS ?? 30),
    hostGraceMs: Number(env.HOST_GRACE_SECONDS ?? 300) * 1000,
    presenceGraceMs: presenceGraceMs(env.PRESENCE_GRACE_MS),
    mixers: parseJanusUrls(env.JANUS_URLS, env.JANUS_ADMIN_KEY, env.JANUS_API_SECRET, env.JANUS_ROLES, env.JANUS_EDGE_CAPACITY),
    mixerListenerSeats: wholeNumber('AUDIO_LISTENER_SEATS', env.AUDIO_LISTENER_SEATS, 50, 0),
    mixerPrebuffering: prebuffering(env.JANUS_PREBUFFERING),
    mixerSweepMs: sweepMs(env.VOICE_SWEEP_MS),
    mixerPlainRtp: false,
    ice: iceFromEnv(env),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    maxSocketsPerClient: maxSockets(env.MAX_SOCKETS_PER_CLIENT),
    metricsToken: metricsToken(env.METRICS_TOKEN),
    mediaDir: env.MEDIA_DIR || undefined,
    mediaS3: mediaS3FromEnv(env),
    rateLimits: {
      ...DEFAULT_RATE_LIMITS,
      tokenRequestsPerMinute: wholeNumber('TOKEN_REQUESTS_PER_MINUTE', env.TOKEN_REQUESTS_PER_MINUTE, DEFAULT_RATE_LIMITS.tokenRequestsPerMinute, 1),
      appRequestsPerMinute: wholeNumber('APP_REQUESTS_PER_MINUTE', env.APP_REQUESTS_PER_MINUTE, DEFAULT_RATE_LIMITS.appRequestsPerMinute, 1),
    },
    uploadSecret: uploadSecret(env),
  };
}

function metricsToken(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (raw.length < 16) throw new Error('METRICS_TOKEN must be at least 16 characters');
  return raw;
}

function uploadSecret(env: NodeJS.ProcessEnv): string {
  if (env.UPLOAD_SECRET) {
    if (env.UPLOAD_SECRET.length < 16) throw new Error('UPLOAD_SECRET must be at least 16 characters');
    return env.UPLOAD_SECRET;
  }
  if (env.DATABASE_URL) return createHash('sha256').update(`spaces-upload-secret\n${env.DATABASE_URL}`).digest('base64url');
  return randomBytes(32).toString('base64url');
}

function mediaS3FromEnv(env: NodeJS.ProcessEnv): MediaS3Config | undefined {
  const bucket = env.MEDIA_S3_BUCKET?.trim();
  if (!bucket) {
    const stray = ['MEDIA_S3_ENDPOINT', 'MEDIA_S3_ACCESS_KEY_ID', 'MEDIA_S3_SECRET_ACCESS_KEY'].filter((name) => env[name]);
    if (stray.length > 0) throw new Error(`${stray.join(', ')} set without MEDIA_S3_BUCKET`);
    return undefined;
  }
  const endpoint = env.MEDIA_S3_ENDPOINT?.trim().replace(/\/+$/, '');
  if (!endpoint || !/^https?:\/\/[^/]+/.test(endpoint))
    throw new Error(`MEDIA_S3_BUCKET needs MEDIA_S3_ENDPOINT, an http(s) URL (e.g. https://s3.eu-central-1.amazonaws.com), got "${env.MEDIA_S3_ENDPOINT ?? ''}"`);
  const accessKeyId = env.MEDIA_S3_ACCESS_KEY_ID;
  const secretAccessKey = env.MEDIA_S3_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new Error('MEDIA_S3_BUCKET needs MEDIA_S3_ACCESS_KEY_ID and MEDIA_S3_SECRET_ACCESS_KEY');
  const publicUrl = env.MEDIA_S3_PUBLIC_URL?.trim().replace(/\/+$/, '') || undefined;
  if (publicUrl && !/^https?:\/\/[^/]+/.test(publicUrl)) throw new Error(`MEDIA_S3_PUBLIC_URL must be an http(s) URL, got "${publicUrl}"`);
  const prefix = (env.MEDIA_S3_PREFIX ?? '').trim().replace(/^\/+/, '');
  if (prefix && !/^[A-Za-z0-9._\-/]+$/.test(prefix)) throw new Error(`MEDIA_S3_PREFIX may hold letters, digits and . _ - / only, got "${prefix}"`);
  return { endpoint, bucket, region: env.MEDIA_S3_REGION?.trim() || 'us-east-1', accessKeyId, secretAccessKey, prefix, publicUrl };
}

function maxSockets(raw: string | undefined): number {
  const value = Number(raw ?? 20);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`MAX_SOCKETS_PER_CLIENT must be a whole number of at least 1, got "${raw}"`);
  return value;
}

function iceFromEnv(env: NodeJS.ProcessEnv): IceConfig {
  const list = (name: string, scheme: 'stun' | 'turn') =>
    (env[name] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((url) => {
        if (!url.startsWith(`${scheme}:`) && !url.startsWith(`${scheme}s:`))
          throw new Error(`${name}: "${url}" must be a ${scheme}: or ${scheme}s: URL (e.g. ${scheme}:${scheme}.example.org:3478)`);
        return url;
      });
  const turnUrls = list('TURN_URLS', 'turn');
  const turnSecret = env.TURN_SECRET || undefined;
  if (turnUrls.length > 0 && !turnSecret) throw new Error("TURN_URLS needs TURN_SECRET (coturn's static-auth-secret, with use-auth-secret)");
  const turnTtlSeconds = Number(env.TURN_TTL_SECONDS ?? 3600);
  if (!Number.isInteger(turnTtlSeconds) || turnTtlSeconds < 60 || turnTtlSeconds > 86_400)
    throw new Error(`TURN_TTL_SECONDS must be an integer 60–86400, got "${env.TURN_TTL_SECONDS}"`);
  return { stunUrls: list('STUN_URLS', 'stun'), turnUrls, turnSecret, turnTtlSeconds };
}

function wholeNumber(name: string, raw: string | undefined, fallback: number, min: number): number {
  const value = Number(raw ?? fallback);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}, got "${raw}"`);
  return value;
}

/**
 * JANUS_URLS="name=http://host:8088/janus,..." (`;` also separates), JANUS_ROLES="name=mix,other=edge"
 * (unnamed instances do both), JANUS_EDGE_CAPACITY listeners per edge (default 2000).
 */
function parseJanusUrls(
  raw: string | undefined,
  adminKey: string | undefined,
  apiSecret: string | undefined,
  rolesRaw: string | undefined,
  capacityRaw: string | undefined,
): MixerInstanceConfig[] {
  if (!raw) return [];
  if (!adminKey) throw new Error('JANUS_URLS needs JANUS_ADMIN_KEY (the AudioBridge admin_key of those instances)');
  const capacity = wholeNumber('JANUS_EDGE_CAPACITY', capacityRaw, 2000, 1);
  const roles = new Map<string, JanusRole>();
  for (const entry of (rolesRaw ?? '').split(/[,;]/).filter((e) => e.trim())) {
    const [name, role] = entry.split('=').map((s) => s.trim());
    if (!name || (role !== 'mix' && role !== 'edge' && role !== 'both'))
      throw new Error(`JANUS_ROLES: "${entry}" is not name=mix, name=edge or name=both`);
    roles.set(name, role);
  }
  const instances = raw
    .split(/[,;]/)
    .filter((e) => e.trim())
    .map((entry, i) => {
      const eq = entry.indexOf('=');
      const [name, url] = eq > 0 ? [entry.slice(0, eq).trim(), entry.slice(eq + 1).trim()] : [`janus${i + 1}`, entry.trim()];
      if (!/^https?:\/\//.test(url)) throw new Error(`JANUS_URLS: "${entry}" is not name=http(s)://host:port/janus`);
      return { name, url, adminKey, apiSecret: apiSecret || undefined, role: roles.get(name) ?? 'both', capacity };
    });
  for (const name of roles.keys())
    if (!instances.some((i) => i.name === name)) throw new Error(`JANUS_ROLES names "${name}", which JANUS_URLS does not`);
  if (!instances.some((i) => i.role !== 'edge')) throw new Error('JANUS_ROLES: at least one instance must mix (role mix or both)');
  return instances;
}

/** Janus takes 0–50; anything else it would silently replace with its default of 6 (~120 ms). */
function prebuffering(raw: string | undefined): number {
  const value = Number(raw ?? 2);
  if (!Number.isInteger(value) || value < 0 || value > 50)
    throw new Error(`JANUS_PREBUFFERING must be an integer 0–50 (packets of 20 ms), got "${raw}"`);
  return value;
}

function presenceGraceMs(raw: string | undefined): number {
  const value = Number(raw ?? 30_000);
  if (!Number.isInteger(value) || value < 100 || value > 3_600_000)
    throw new Error(`PRESENCE_GRACE_MS must be an integer 100–3600000 (milliseconds), got "${raw}"`);
  return value;
}

function sweepMs(raw: string | undefined): number {
  const value = Number(raw ?? 3000);
  if (!Number.isInteger(value) || value < 100 || value > 600_000)
    throw new Error(`VOICE_SWEEP_MS must be an integer 100–600000 (milliseconds), got "${raw}"`);
  return value;
}
