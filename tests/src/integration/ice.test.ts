import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, handle, startTestApp, type TestApp } from '../support/app.ts';

/**
 * The iceServers query: STUN as configured and TURN with short-lived per-user credentials in
 * coturn's REST-API scheme (use-auth-secret), computed here independently. That coturn accepts
 * them, and that a browser forced to relay through it hears a space, is src/netns/turn.test.ts.
 */
const SECRET = 'turn shared secret';
const QUERY = '{ iceServers { urls username credential } }';

let t: TestApp | undefined;
let bare: TestApp | undefined;
beforeAll(async () => {
  t = await startTestApp({
    ice: { stunUrls: ['stun:turn.example.org:3478'], turnUrls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'], turnSecret: SECRET, turnTtlSeconds: 600 },
  });
  bare = await startTestApp({ ice: { stunUrls: [], turnUrls: [], turnTtlSeconds: 3600 } });
});
afterAll(async () => {
  await t?.close();
  await bare?.close();
});

describe('iceServers', () => {
  it('is for signed-in users only', async () => {
    const r = await t!.gql(QUERY);
    expect(codes(r)).toEqual(['UNAUTHENTICATED']);
    expect(r.data).toBeNull();
  });

  it('gives STUN as configured and TURN with a credential of this user that expires after TURN_TTL_SECONDS', async () => {
    const ada = await t!.signUp(handle('ice'));
    const before = Math.floor(Date.now() / 1000);
    const r = await t!.gql(QUERY, {}, { token: ada.token });
    const after = Math.floor(Date.now() / 1000);
    expect(r.errors).toBeUndefined();
    const [stun, turn, ...rest] = r.data!.iceServers;
    expect(rest).toEqual([]);
    expect(stun).toEqual({ urls: ['stun:turn.example.org:3478'], username: null, credential: null });
    expect(turn.urls).toEqual(['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349']);

    // username = "<unix expiry>:<user id>", credential = base64(HMAC-SHA1(secret, username)).
    const [expiry, userId, extra] = (turn.username as string).split(':');
    expect(extra).toBeUndefined();
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 600);
    expect(Number(expiry)).toBeLessThanOrEqual(after + 600);
    expect(Buffer.from(ada.id, 'base64url').toString()).toBe(`User:${userId}`);
    expect(turn.credential).toBe(createHmac('sha1', SECRET).update(turn.username).digest('base64'));

    // Another user gets credentials of their own.
    const bob = await t!.signUp(handle('ice'));
    const other = (await t!.gql(QUERY, {}, { token: bob.token })).data!.iceServers[1];
    expect(other.username.split(':')[1]).not.toBe(userId);
    expect(other.credential).not.toBe(turn.credential);
  });

  it('is empty when neither STUN nor TURN is configured', async () => {
    const ada = await bare!.signUp(handle('ice'));
    const r = await bare!.gql(QUERY, {}, { token: ada.token });
    expect(r.errors).toBeUndefined();
    expect(r.data!.iceServers).toEqual([]);
  });
});
