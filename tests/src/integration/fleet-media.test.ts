import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { grayPng, photoWithExif } from '../support/images.ts';
import { codes, handle, startTestApp, type TestApp } from '../support/app.ts';

/**
 * Fleet photo uploads (POST /media/fleet-photo): the image as the body, validated and re-encoded
 * by sharp (fit into 1080×1920, WebP, no metadata), limited in bytes, pixels and rate, answered
 * with a signed upload id that postFleet takes.
 */

let t: TestApp;
let base: string;
let mediaDir: string;
type U = { id: string; token: string; handle: string };

beforeAll(async () => {
  mediaDir = mkdtempSync(path.join(tmpdir(), 'spaces-fleet-media-'));
  t = await startTestApp({ mediaDir, rateLimits: { fleetPhotosPerHourPerUser: 12 } });
  base = await t.app.start();
});
afterAll(async () => {
  await t?.close();
  rmSync(mediaDir, { recursive: true, force: true });
});

interface UploadAnswer {
  status: number;
  data?: { uploadId: string; expiresAt: string };
  errors?: { message: string; extensions: { code: string; reason?: string; field?: string } }[];
}
async function upload(body: Uint8Array | string, options: { token?: string; type?: string; headers?: Record<string, string> } = {}): Promise<UploadAnswer> {
  const headers: Record<string, string> = { 'content-type': options.type ?? 'image/jpeg', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${base}/media/fleet-photo`, { method: 'POST', headers, body: body as BodyInit });
  return { status: response.status, ...((await response.json()) as object) };
}
const refusal = (r: UploadAnswer) => ({ status: r.status, code: r.errors?.[0]?.extensions.code, reason: r.errors?.[0]?.extensions.reason });

/** The colour the fleet photos here are filled with. */
const FLEET_BLUE = { r: 20, g: 120, b: 200 };

const POST = `mutation($input: PostFleetInput!) { postFleet(input: $input) { id photoUrl caption } }`;


describe('POST /media/fleet-photo', () => {
  it('fits the photo into 1080×1920 as WebP with none of its metadata, and postFleet serves it', async () => {
    const me = (await t.signUp(handle('fp'))) as U;
    const photo = await photoWithExif(3000, 4000, FLEET_BLUE);
    expect((await sharp(photo).metadata()).exif).toBeDefined(); // the input really carries EXIF
    const r = await upload(photo, { token: me.token });
    expect(r.status).toBe(200);
    expect(r.data!.uploadId).toMatch(/^[0-9a-f]{32}\.\d+\.[A-Za-z0-9_-]{32}$/);
    expect(Date.parse(r.data!.expiresAt) - Date.now()).toBeGreaterThan(3_500_000);
    const posted = await t.gql(POST, { input: { photoUploadId: r.data!.uploadId, caption: 'view' } }, { token: me.token });
    expect(posted.errors).toBeUndefined();
    const served = await fetch(`${base}${posted.data!.postFleet.photoUrl}`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/webp');
    // Cached until the fleet expires, not forever.
    const maxAge = Number(/max-age=(\d+)/.exec(served.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(86_000);
    expect(maxAge).toBeLessThanOrEqual(86_400);
    const bytes = Buffer.from(await served.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe('webp');
    expect([meta.width, meta.height]).toEqual([1080, 1440]); // 3:4 fitted, never cropped
    expect(meta.exif).toBeUndefined();
    expect(meta.icc).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(bytes.includes(Buffer.from('PhoneCo'))).toBe(false);
    expect(bytes.includes(Buffer.from('Secret Model'))).toBe(false);
  });

  it('keeps a tall photo inside 1920 pixels and never enlarges a small one', async () => {
    const me = (await t.signUp(handle('fp'))) as U;
    const sizes: [number, number, number, number][] = [
      [2000, 5000, 768, 1920],
      [400, 300, 400, 300],
    ];
    for (const [w, h, ew, eh] of sizes) {
      const r = await upload(await photoWithExif(w, h, FLEET_BLUE), { token: me.token });
      const posted = await t.gql(POST, { input: { photoUploadId: r.data!.uploadId } }, { token: me.token });
      const bytes = Buffer.from(await (await fetch(`${base}${posted.data!.postFleet.photoUrl}`)).arrayBuffer());
      const meta = await sharp(bytes).metadata();
      expect([meta.width, meta.height], `${w}×${h}`).toEqual([ew, eh]);
    }
  });

  it('refuses what is not an image, too large, or a decompression bomb, with clear reasons', async () => {
    const me = (await t.signUp(handle('fp'))) as U;
    // A form or text: refused before reading (no CORS-simple content types).
    expect(refusal(await upload('hello', { token: me.token, type: 'text/plain' }))).toEqual({ status: 415, code: 'BAD_USER_INPUT', reason: 'NOT_AN_IMAGE' });
    expect(refusal(await upload('a=b', { token: me.token, type: 'multipart/form-data; boundary=x' }))).toMatchObject({ status: 415, reason: 'NOT_AN_IMAGE' });
    // Bytes that are not an image, and an image format not accepted (SVG).
    expect(refusal(await upload('definitely not a jpeg', { token: me.token }))).toEqual({ status: 422, code: 'BAD_USER_INPUT', reason: 'NOT_AN_IMAGE' });
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>';
    expect(refusal(await upload(svg, { token: me.token, type: 'image/svg+xml' }))).toMatchObject({ status: 422, reason: 'NOT_AN_IMAGE' });
    // A truncated JPEG: the header parses, the pixels do not.
    const photo = await photoWithExif(800, 600, FLEET_BLUE);
    expect(refusal(await upload(photo.subarray(0, photo.length / 2), { token: me.token }))).toMatchObject({ reason: 'NOT_AN_IMAGE' });
    // Over 8 MB: refused by size, from the declared length or while reading.
    const big = Buffer.alloc(8 * 1024 * 1024 + 1, 1);
    expect(refusal(await upload(big, { token: me.token, type: 'image/png' }))).toEqual({ status: 413, code: 'BAD_USER_INPUT', reason: 'TOO_LARGE' });
    // A decompression bomb: a tiny PNG of 12,000 × 12,000 pixels (144 megapixels, ~0.6 GB decoded as RGBA).
    const bomb = grayPng(12_000, 12_000);
    expect(bomb.length).toBeLessThan(200_000);
    const r = await upload(bomb, { token: me.token, type: 'image/png' });
    expect(refusal(r)).toEqual({ status: 413, code: 'BAD_USER_INPUT', reason: 'TOO_MANY_PIXELS' });
    expect(r.errors![0]!.extensions.field).toBe('photo');
    // Just over the 40-megapixel limit, small on the wire too.
    expect(refusal(await upload(grayPng(8000, 5001), { token: me.token, type: 'image/png' }))).toMatchObject({ reason: 'TOO_MANY_PIXELS' });
  });

  it('needs credentials, refuses cross-site cookies and guests, and is rate limited', async () => {
    const photo = await photoWithExif(200, 200, FLEET_BLUE);
    expect(refusal(await upload(photo))).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(refusal(await upload(photo, { token: 'nope' }))).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    const me = (await t.signUp(handle('fp'))) as U;
    const crossSite = await upload(photo, { headers: { cookie: `spaces_session=${me.token}`, origin: 'https://evil.example' } });
    expect(refusal(crossSite)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    const guest = (await t.gql(`mutation { startGuestSession { token } }`)).data!.startGuestSession;
    expect(refusal(await upload(photo, { token: guest.token }))).toMatchObject({ status: 403, code: 'FORBIDDEN', reason: 'GUEST' });
    // 12 an hour in this file: the 13th is refused with Retry-After.
    const limited = (await t.signUp(handle('fp'))) as U;
    for (let i = 0; i < 12; i++) expect((await upload(photo, { token: limited.token })).status).toBe(200);
    const over = await upload(photo, { token: limited.token });
    expect(refusal(over)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
  });

  it('answers the CORS preflight for third-party clients', async () => {
    const response = await fetch(`${base}/media/fleet-photo`, { method: 'OPTIONS', headers: { origin: 'https://client.example' } });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(codes(await t.gql(POST, { input: { photoUploadId: 'x' } }))).toEqual(['UNAUTHENTICATED']);
  });
});
