import { createHmac } from 'node:crypto';

/** What clients need to reach the mixer from behind NATs (STUN, TURN_URLS etc. in the README). */
export interface IceConfig {
  /** stun:/stuns: URLs, handed out as they are. */
  stunUrls: string[];
  /** turn:/turns: URLs of a coturn (or compatible) server with `use-auth-secret`. */
  turnUrls: string[];
  /** coturn's `static-auth-secret`; required with turnUrls. */
  turnSecret?: string;
  /** How long a TURN credential stays valid. */
  turnTtlSeconds: number;
}

/** One entry of RTCConfiguration.iceServers. */
export interface IceServer {
  urls: string[];
  username: string | null;
  credential: string | null;
}

/**
 * coturn's TURN REST API credential (`use-auth-secret`): username `<unix expiry>:<user id>`,
 * password base64(HMAC-SHA1(secret, username)). coturn recomputes it from the username and
 * refuses it after the expiry; nothing is stored and nothing needs to be told to coturn.
 */
export function turnCredential(secret: string, userId: string, ttlSeconds: number, nowMs = Date.now()): { username: string; credential: string } {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiry}:${userId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

export class IceServers {
  constructor(
    private readonly config: IceConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether TURN is configured (else only STUN entries, maybe none). */
  get turn(): boolean {
    return this.config.turnUrls.length > 0 && !!this.config.turnSecret;
  }

  /** STUN entries as configured, then TURN with fresh credentials for this user. */
  forUser(userId: string): IceServer[] {
    const servers: IceServer[] = [];
    if (this.config.stunUrls.length > 0) servers.push({ urls: [...this.config.stunUrls], username: null, credential: null });
    if (this.turn)
      servers.push({ urls: [...this.config.turnUrls], ...turnCredential(this.config.turnSecret!, userId, this.config.turnTtlSeconds, this.now()) });
    return servers;
  }
}
