import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientAddressOf, clientKeyOf, clientKeyOfAddress, compileTrust, parseTrustProxy, type PeerRequest } from './client-address.ts';

const request = (peer: string | undefined, xff?: string): PeerRequest => ({
  headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  socket: { remoteAddress: peer } as Socket,
});
const off = compileTrust(false);

describe('parseTrustProxy', () => {
  it('is off unless set', () => {
    for (const raw of [undefined, '', ' ', '0', 'false', 'FALSE']) expect(parseTrustProxy(raw)).toBe(false);
  });
  it('takes a hop count', () => {
    expect(parseTrustProxy('1')).toEqual({ hops: 1 });
    expect(parseTrustProxy(' 2 ')).toEqual({ hops: 2 });
  });
  it('takes addresses, CIDR ranges and the named ranges', () => {
    expect(parseTrustProxy('10.0.0.0/8, 192.168.1.7,::1, fd00::/8,loopback')).toEqual({
      addresses: ['10.0.0.0/8', '192.168.1.7', '::1', 'fd00::/8', 'loopback'],
    });
  });
  it('refuses what it cannot honour', () => {
    expect(() => parseTrustProxy('true')).toThrow(/TRUST_PROXY/);
    expect(() => parseTrustProxy('10.0.0.0/8,proxy.example.org')).toThrow(/proxy\.example\.org/);
    expect(() => parseTrustProxy('10.0.0.0/99')).toThrow(/TRUST_PROXY/);
    expect(() => parseTrustProxy('1000')).toThrow(/TRUST_PROXY/);
  });
});

describe('clientAddressOf', () => {
  it('is the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddressOf(request('203.0.113.9', '198.51.100.1'), off)).toBe('203.0.113.9');
    expect(clientAddressOf(request('203.0.113.9'), off)).toBe('203.0.113.9');
  });

  it('with a hop count, is the hop that many proxies back (the right-most one the client did not write)', () => {
    const one = compileTrust(parseTrustProxy('1'));
    // The client wrote "6.6.6.6"; the one proxy appended the address it saw.
    expect(clientAddressOf(request('10.0.0.2', '6.6.6.6, 198.51.100.1'), one)).toBe('198.51.100.1');
    const two = compileTrust(parseTrustProxy('2'));
    expect(clientAddressOf(request('10.0.0.2', '6.6.6.6, 198.51.100.1, 10.0.0.3'), two)).toBe('198.51.100.1');
    // Fewer hops than proxies configured: the left-most there is.
    expect(clientAddressOf(request('10.0.0.2', '198.51.100.1'), two)).toBe('198.51.100.1');
    // Direct to the server (no header): the peer.
    expect(clientAddressOf(request('198.51.100.1'), one)).toBe('198.51.100.1');
  });

  it('with addresses, walks back over trusted proxies only', () => {
    const trust = compileTrust(parseTrustProxy('10.0.0.0/8'));
    expect(clientAddressOf(request('10.0.0.2', '6.6.6.6, 198.51.100.1, 10.0.0.3'), trust)).toBe('198.51.100.1');
    // Not from a trusted proxy: the header is the client's own writing and is ignored.
    expect(clientAddressOf(request('203.0.113.9', '198.51.100.1'), trust)).toBe('203.0.113.9');
    // Every hop trusted: the left-most.
    expect(clientAddressOf(request('10.0.0.2', '10.0.0.5'), trust)).toBe('10.0.0.5');
  });

  it('trusts IPv4 proxies seen as IPv4-mapped IPv6 peers', () => {
    const trust = compileTrust(parseTrustProxy('127.0.0.1'));
    expect(clientAddressOf(request('::ffff:127.0.0.1', '198.51.100.1'), trust)).toBe('198.51.100.1');
  });

  it('falls back to the peer when a trusted hop is not an address', () => {
    const one = compileTrust(parseTrustProxy('1'));
    expect(clientAddressOf(request('10.0.0.2', 'unknown'), one)).toBe('10.0.0.2');
    expect(clientAddressOf(request('10.0.0.2', '<script>'), one)).toBe('10.0.0.2');
  });

  it('is null without a socket address (in-process requests)', () => {
    expect(clientAddressOf(request(undefined, '198.51.100.1'), off)).toBeNull();
  });
});

describe('clientKeyOfAddress', () => {
  it('keeps IPv4 as is and unwraps IPv4-mapped IPv6', () => {
    expect(clientKeyOfAddress('198.51.100.1')).toBe('198.51.100.1');
    expect(clientKeyOfAddress('::ffff:198.51.100.1')).toBe('198.51.100.1');
    expect(clientKeyOfAddress('::ffff:c633:6401')).toBe('198.51.100.1');
  });

  it('keys IPv6 by its /64, however it is written', () => {
    const key = clientKeyOfAddress('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    expect(key).toBe('2001:db8:1:2::/64');
    expect(clientKeyOfAddress('2001:0DB8:0001:0002:0:0:0:1')).toBe(key);
    expect(clientKeyOfAddress('2001:db8:1:2::ffff')).toBe(key);
    expect(clientKeyOfAddress('2001:db8:1:3::1')).not.toBe(key);
    expect(clientKeyOfAddress('fe80::1%eth0')).toBe('fe80::/64');
    expect(clientKeyOfAddress('::1')).toBe('::/64');
  });

  it('has one key for requests without an address', () => {
    expect(clientKeyOfAddress(null)).toBe('local');
    expect(clientKeyOf(undefined, off)).toBe('local');
  });

  it('end to end: header ignored by default, believed from a trusted proxy', () => {
    const req = request('::ffff:10.0.0.2', '2001:db8:9:9::42');
    expect(clientKeyOf(req, off)).toBe('10.0.0.2');
    expect(clientKeyOf(req, compileTrust(parseTrustProxy('10.0.0.0/8')))).toBe('2001:db8:9:9::/64');
  });
});
