import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';

/**
 * Who the client is, for limits. By default the TCP peer address; behind reverse proxies
 * (TRUST_PROXY) the right-most X-Forwarded-For hop that is not a trusted proxy, as Express
 * does it (`proxy-addr`). A client can write any X-Forwarded-For it likes, so the header is
 * only read when the operator says which hops to believe.
 */

/** TRUST_PROXY parsed: off, how many proxies stand in front, or the proxies' addresses. */
export type TrustProxy = false | { hops: number } | { addresses: string[] };

/** Names proxy-addr understands besides addresses and CIDRs. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * `TRUST_PROXY`: unset, empty, `0` or `false` — off; a whole number — that many proxies in
 * front (each appends the address it saw); otherwise a comma-separated list of proxy
 * addresses, CIDR ranges, or `loopback` / `linklocal` / `uniquelocal`.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = (raw ?? '').trim();
  if (value === '' || value === '0' || value.toLowerCase() === 'false') return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 32) throw new Error(`TRUST_PROXY: ${value} proxy hops is not plausible`);
    return { hops };
  }
  if (value.toLowerCase() === 'true')
    throw new Error('TRUST_PROXY=true would let any client pick its address: give the number of proxies or their addresses');
  const addresses = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of addresses) {
    try {
      if (!NAMED_RANGES.has(a)) proxyaddr.compile(a);
    } catch {
      throw new Error(`TRUST_PROXY: "${a}" is not an IP address, a CIDR range or loopback/linklocal/uniquelocal`);
    }
  }
  return { addresses };
}

export type TrustFn = (address: string, hop: number) => boolean;

export function compileTrust(trust: TrustProxy): TrustFn {
  if (trust === false) return () => false;
  if ('hops' in trust) return (_address, hop) => hop < trust.hops;
  return proxyaddr.compile(trust.addresses);
}

/** The parts of a request this needs (a Node IncomingMessage is one). */
export type PeerRequest = Pick<IncomingMessage, 'headers' | 'socket'>;

/**
 * The client's address: the peer, or with trusted proxies the nearest hop they vouch for.
 * Null when the request has no socket (in-process requests).
 */
export function clientAddressOf(req: PeerRequest, trust: TrustFn): string | null {
  const peer = req.socket?.remoteAddress;
  if (!peer) return null;
  let address = peer;
  if (req.headers['x-forwarded-for'] !== undefined) {
    try {
      address = proxyaddr(req as IncomingMessage, trust);
    } catch {
      address = peer;
    }
  }
  // A hop that is not an address means a proxy was trusted that should not be: use the peer.
  return ipaddr.isValid(address) ? address : peer;
}

/**
 * The key limits count a client under: IPv4 as is, IPv4-mapped IPv6 as its IPv4, other IPv6 by
 * its /64 (one subscriber usually holds a whole /64).
 */
export function clientKeyOfAddress(address: string | null): string {
  if (!address) return 'local';
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.process(address);
  } catch {
    return `other:${address.slice(0, 64)}`;
  }
  if (ip.kind() === 'ipv4') return ip.toString();
  const parts = (ip as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}

/** The limit key of a request: clientKeyOfAddress(clientAddressOf(req, trust)). */
export const clientKeyOf = (req: PeerRequest | undefined, trust: TrustFn): string =>
  clientKeyOfAddress(req ? clientAddressOf(req, trust) : null);

/** Address ranges of the machine itself and of private networks (where a Prometheus server scrapes from). */
const INTERNAL_RANGES = new Set(['loopback', 'private', 'uniqueLocal', 'linkLocal']);

/**
 * Whether the request comes from this machine or a private network. A request that passed a
 * proxy the operator did not declare (X-Forwarded-For without TRUST_PROXY) is not: the proxy's
 * own loopback or private address says nothing of the client behind it.
 */
export function isInternalClient(req: PeerRequest, trust: TrustFn, proxiesDeclared: boolean): boolean {
  if (!proxiesDeclared && (req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined)) return false;
  const address = clientAddressOf(req, trust);
  if (!address) return true; // in-process
  try {
    return INTERNAL_RANGES.has(ipaddr.process(address).range());
  } catch {
    return false;
  }
}
