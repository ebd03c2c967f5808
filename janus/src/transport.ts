/**
 * Transport layer of the Janus client: the wire types and the HTTP API itself. Every request is a
 * JSON POST carrying a transaction ID and the `apisecret` (when one is set); events come from a
 * long-poll GET on the session path. It knows nothing of sessions' state, handles or plugins:
 * `JanusSession` (session.ts) builds on it.
 */
import { randomBytes } from 'node:crypto';

/** An SDP offer or answer, as Janus carries it. */
export interface Jsep {
  type: 'offer' | 'answer';
  sdp: string;
  trickle?: boolean;
}

/** Any message Janus sends: responses, and events from the long poll. */
export interface JanusMessage {
  janus: string;
  transaction?: string;
  session_id?: number;
  sender?: number;
  data?: { id?: number; [key: string]: unknown };
  plugindata?: { plugin: string; data: PluginData };
  jsep?: Jsep;
  error?: { code: number; reason: string };
  [key: string]: unknown;
}

/** A plugin's reply or event payload. */
export type PluginData = Record<string, unknown> & { error_code?: number; error?: string };

export interface HttpTransportOptions {
  /** Janus API base URL, e.g. http://127.0.0.1:8088/janus; trailing slashes are dropped. */
  url: string;
  /** Janus's `api_secret`, sent with every request (POST body and long-poll query). */
  apiSecret?: string;
  /** Default timeout of each POST. */
  requestTimeoutMs: number;
}

/** The Janus HTTP API of one server, with its secret. */
export class HttpTransport {
  readonly url: string;
  readonly apiSecret: string | undefined;
  readonly requestTimeoutMs: number;

  constructor(options: HttpTransportOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.apiSecret = options.apiSecret;
    this.requestTimeoutMs = options.requestTimeoutMs;
  }

  /**
   * POSTs a request to `url + path` (`''`, `/<session>` or `/<session>/<handle>`) with the API
   * secret and a transaction ID (a fresh one unless `body` has its own), and returns Janus's JSON
   * reply. Network failures and timeouts reject as they come from fetch.
   */
  post(path: string, body: Record<string, unknown>, timeoutMs = this.requestTimeoutMs): Promise<JanusMessage> {
    return postJson(this.url + path, body, this.apiSecret, timeoutMs);
  }

  /**
   * One long poll of a session's events: GET `/<session>?maxev=N` (plus the API secret), which
   * Janus answers with an event, an array of events, or a keepalive after 30 s of nothing.
   * Resolves with Janus's JSON as is; rejects when fetch fails, `signal` aborts, or the answer is
   * not JSON (Janus answers a wrong or missing secret with an empty HTTP 403).
   */
  async poll(sessionId: number, maxEvents: number, signal: AbortSignal): Promise<unknown> {
    const secret = this.apiSecret ? `&apisecret=${encodeURIComponent(this.apiSecret)}` : '';
    const response = await fetch(`${this.url}/${sessionId}?maxev=${maxEvents}&rid=${Date.now()}${secret}`, { signal });
    return response.json();
  }

  /** Whether GET /info answers with 2xx within `timeoutMs`. Janus serves /info without the secret. */
  async isAlive(timeoutMs: number): Promise<boolean> {
    try {
      const response = await fetch(`${this.url}/info`, { signal: AbortSignal.timeout(timeoutMs) });
      return response.ok;
    } catch {
      return false;
    }
  }
}

/** A new random transaction ID. */
export function newTransactionId(): string {
  return randomBytes(9).toString('base64url');
}

async function postJson(url: string, body: Record<string, unknown>, apiSecret: string | undefined, timeoutMs: number) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ transaction: newTransactionId(), ...body, ...(apiSecret ? { apisecret: apiSecret } : {}) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return (await response.json()) as JanusMessage;
}
