import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../config.ts';
import { IceServers, turnCredential } from './ice.ts';

describe('TURN credentials (coturn use-auth-secret)', () => {
  it('are "<unix expiry>:<user>" and base64(HMAC-SHA1(secret, username))', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0, 500);
    const { username, credential } = turnCredential('s3cret', 'user-1', 3600, now);
    expect(username).toBe(`${Math.floor(now / 1000) + 3600}:user-1`);
    // Worked out independently, the way coturn checks it.
    expect(credential).toBe(createHmac('sha1', 's3cret').update(username, 'utf8').digest('base64'));
    // A known vector: HMAC-SHA1("secret", "1700000000:alice").
    expect(turnCredential('secret', 'alice', 0, 1_700_000_000_000).credential).toBe(
      createHmac('sha1', Buffer.from('secret')).update(Buffer.from('1700000000:alice')).digest().toString('base64'),
    );
  });

  it('STUN entries as given, then TURN with fresh per-user credentials; none when nothing is configured', () => {
    let now = 1_700_000_000_000;
    const ice = new IceServers({ stunUrls: ['stun:a:3478'], turnUrls: ['turn:a:3478', 'turns:a:5349'], turnSecret: 'k', turnTtlSeconds: 600 }, () => now);
    const [stun, turn] = ice.forUser('u1');
    expect(stun).toEqual({ urls: ['stun:a:3478'], username: null, credential: null });
    expect(turn).toMatchObject({ urls: ['turn:a:3478', 'turns:a:5349'], username: '1700000600:u1' });
    now += 5000;
    expect(ice.forUser('u2')[1]!.username).toBe('1700000605:u2');
    expect(ice.forUser('u2')[1]!.credential).not.toBe(turn!.credential);
    expect(new IceServers({ stunUrls: [], turnUrls: [], turnTtlSeconds: 600 }).forUser('u1')).toEqual([]);
    expect(new IceServers({ stunUrls: [], turnUrls: ['turn:a'], turnTtlSeconds: 600 }).forUser('u1')).toEqual([]);
  });
});

describe('ICE configuration from the environment', () => {
  it('reads STUN_URLS, TURN_URLS, TURN_SECRET and TURN_TTL_SECONDS (default one hour)', () => {
    expect(configFromEnv({}).ice).toEqual({ stunUrls: [], turnUrls: [], turnSecret: undefined, turnTtlSeconds: 3600 });
    const env = {
      STUN_URLS: 'stun:turn.example.org:3478',
      TURN_URLS: ' turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349?transport=tcp ',
      TURN_SECRET: 'k',
      TURN_TTL_SECONDS: '900',
    };
    expect(configFromEnv(env).ice).toEqual({
      stunUrls: ['stun:turn.example.org:3478'],
      turnUrls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349?transport=tcp'],
      turnSecret: 'k',
      turnTtlSeconds: 900,
    });
  });

  it('refuses TURN without a secret, wrong schemes and a bad TTL', () => {
    expect(() => configFromEnv({ TURN_URLS: 'turn:a:3478' })).toThrow(/TURN_SECRET/);
    expect(() => configFromEnv({ TURN_URLS: 'stun:a:3478', TURN_SECRET: 'k' })).toThrow(/TURN_URLS.*turn: or turns:/);
    expect(() => configFromEnv({ STUN_URLS: 'turn:a:3478' })).toThrow(/STUN_URLS/);
    expect(() => configFromEnv({ TURN_TTL_SECONDS: '10' })).toThrow(/TURN_TTL_SECONDS/);
    expect(() => configFromEnv({ TURN_TTL_SECONDS: 'soon' })).toThrow(/TURN_TTL_SECONDS/);
  });
});
