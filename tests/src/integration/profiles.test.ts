import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { grayPng, photoWithExif } from '../support/images.ts';
import { codes, handle, startTestApp, type TestApp } from '../support/app.ts';

/**
 * Profiles: bio and display name (updateProfile), avatar upload over HTTP (POST /media/avatar:
 * resized, re-encoded to WebP and stripped of metadata by sharp), media served at /media/…, on
 * disk by default and in an S3-compatible bucket (s3rver, which checks SigV4 signatures), and
 * the sign-in error for a wrong password.
 */

let t: TestApp;
let base: string;
let mediaDir: string;

beforeAll(async () => {
  mediaDir = mkdtempSync(path.join(tmpdir(), 'spaces-media-'));
  t = await startTestApp({ mediaDir });
  base = await t.app.start();
});
afterAll(async () => {
  await t?.close();
  rmSync(mediaDir, { recursive: true, force: true });
});

const PROFILE = `mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { id handle displayName bio avatarUrl } }`;
const VIEWER = `{ viewer { id bio displayName large: avatarUrl small: avatarUrl(size: SMALL) } }`;


async function upload(body: Uint8Array | string, options: { token?: string; type?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { 'content-type': options.type ?? 'image/jpeg', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${base}/media/avatar`, { method: 'POST', headers, body: body as BodyInit });
  const json = (await response.json()) as {
    data?: { avatarUrl: string; avatarSmallUrl: string };
    errors?: { message: string; extensions: { code: string; reason?: string; field?: string } }[];
  };
  return { status: response.status, ...json };
}

describe('updateProfile', () => {
  it('sets a cleaned bio and display name that everyone sees; leaves out fields unchanged', async () => {
    const me = await t.signUp(handle('prof'));
    const r = await t.gql(PROFILE, { input: { bio: '  Host of   *Morning Jazz*\t🎷  ', displayName: ' Ana  B ' } }, { token: me.token });
    expect(r.errors).toBeUndefined();
    expect(r.data!.updateProfile).toMatchObject({ bio: 'Host of *Morning Jazz* 🎷', displayName: 'Ana B', avatarUrl: null });
    // Only the bio: the display name stays.
    const bioOnly = await t.gql(PROFILE, { input: { bio: 'Jazz' } }, { token: me.token });
    expect(bioOnly.data!.updateProfile).toMatchObject({ bio: 'Jazz', displayName: 'Ana B' });
    const seen = await t.gql(`query($h: String!) { user(handle: $h) { bio displayName } }`, { h: me.handle });
    expect(seen.data!.user).toEqual({ bio: 'Jazz', displayName: 'Ana B' });
    // An empty bio clears it.
    expect((await t.gql(PROFILE, { input: { bio: '   ' } }, { token: me.token })).data!.updateProfile.bio).toBe('');
  });

  it('refuses text the policy refuses, with the field named, and changes nothing', async () => {
    const me = await t.signUp(handle('prof'));
    await t.gql(PROFILE, { input: { bio: 'before' } }, { token: me.token });
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ bio: 'x'.repeat(161) }, 'bio', /at most 160/],
      [{ bio: 'safe\u202Eevil' }, 'bio', /bidirectional/],
      [{ bio: 'in\u200Bvisible' }, 'bio', /invisible/],
      [{ displayName: '' }, 'displayName', /empty/],
      [{ displayName: 'n'.repeat(51) }, 'displayName', /at most 50/],
    ];
    for (const [input, field, message] of cases) {
      const r = await t.gql(PROFILE, { input }, { token: me.token });
      expect(codes(r), JSON.stringify(input)).toEqual(['BAD_USER_INPUT']);
      expect(r.errors![0]!.extensions!.field).toBe(field);
      expect(r.errors![0]!.message).toMatch(message);
    }
    // 160 characters counted as characters (code points), not UTF-16 units.
    const emoji = await t.gql(PROFILE, { input: { bio: '🎷'.repeat(160) } }, { token: me.token });
    expect(emoji.errors).toBeUndefined();
    expect((await t.gql(VIEWER, {}, { token: me.token })).data!.viewer.bio).toBe('🎷'.repeat(160));
  });

  it('needs a signed-in viewer', async () => {
    expect(codes(await t.gql(PROFILE, { input: { bio: 'x' } }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(`mutation { removeAvatar { id } }`))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('avatar upload', () => {
  it('stores a 400×400 and a 96×96 WebP without any of the photo’s metadata, served with long cache headers', async () => {
    const me = await t.signUp(handle('ava'));
    const photo = await photoWithExif(1200, 800);
    expect((await sharp(photo).metadata()).exif).toBeDefined(); // the input really carries EXIF
    const r = await upload(photo, { token: me.token });
    expect(r.errors).toBeUndefined();
    expect(r.status).toBe(200);
    expect(r.data!.avatarUrl).toMatch(/^\/media\/avatars\/[0-9a-f]{32}-400\.webp$/);
    expect(r.data!.avatarSmallUrl).toBe(r.data!.avatarUrl.replace('-400.webp', '-96.webp'));

    const viewer = (await t.gql(VIEWER, {}, { token: me.token })).data!.viewer;
    expect(viewer.large).toBe(r.data!.avatarUrl);
    expect(viewer.small).toBe(r.data!.avatarSmallUrl);

    for (const [url, size] of [[viewer.large, 400], [viewer.small, 96]] as const) {
      const response = await fetch(`${base}${url}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/webp');
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      const bytes = Buffer.from(await response.arrayBuffer());
      const meta = await sharp(bytes).metadata();
      expect(meta).toMatchObject({ format: 'webp', width: size, height: size });
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect(meta.icc).toBeUndefined();
      // Not even the camera's strings survive somewhere in the file.
      expect(bytes.includes('Secret Model 9')).toBe(false);
      expect(bytes.includes('PhoneCo')).toBe(false);
    }
    // On disk under the media folder.
    const file = path.join(mediaDir, ...viewer.large.slice('/media/'.length).split('/'));
    expect(existsSync(file)).toBe(true);
  });

  it('replaces the previous avatar (its files are deleted) and removeAvatar clears it', async () => {
    const me = await t.signUp(handle('ava'));
    const first = await upload(await photoWithExif(640, 480), { token: me.token });
    const second = await upload(grayPng(300, 500), { token: me.token, type: 'image/png' });
    expect(second.status).toBe(200);
    expect(second.data!.avatarUrl).not.toBe(first.data!.avatarUrl);
    expect((await fetch(`${base}${first.data!.avatarUrl}`)).status).toBe(404);
    expect((await fetch(`${base}${first.data!.avatarSmallUrl}`)).status).toBe(404);
    expect((await fetch(`${base}${second.data!.avatarUrl}`)).status).toBe(200);

    const removed = await t.gql(`mutation { removeAvatar { avatarUrl small: avatarUrl(size: SMALL) } }`, {}, { token: me.token });
    expect(removed.data!.removeAvatar).toEqual({ avatarUrl: null, small: null });
    expect((await fetch(`${base}${second.data!.avatarUrl}`)).status).toBe(404);
    // Idempotent.
    expect((await t.gql(`mutation { removeAvatar { avatarUrl } }`, {}, { token: me.token })).errors).toBeUndefined();
  });

  it('refuses non-images, oversize files and decompression bombs with coded errors', async () => {
    const me = await t.signUp(handle('ava'));
    const refused = async (result: Awaited<ReturnType<typeof upload>>, status: number, reason: string) => {
      expect(result.status).toBe(status);
      expect(result.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'avatar', reason });
      expect(result.errors![0]!.message).toMatch(/^avatar: /);
    };
    await refused(await upload('definitely not an image', { token: me.token, type: 'image/png' }), 422, 'NOT_AN_IMAGE');
    // SVG is an image, but not a raster one we take.
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>';
    await refused(await upload(svg, { token: me.token, type: 'image/svg+xml' }), 422, 'NOT_AN_IMAGE');
    // A truncated JPEG: the header parses, the pixels do not.
    const photo = await photoWithExif(1200, 800);
    await refused(await upload(photo.subarray(0, Math.floor(photo.length / 3)), { token: me.token }), 422, 'NOT_AN_IMAGE');
    // More than 5 MB: refused from Content-Length, and from the bytes read when it is absent (chunked).
    const big = Buffer.alloc(5 * 1024 * 1024 + 1, 1);
    await refused(await upload(big, { token: me.token }), 413, 'TOO_LARGE');
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 6; i++) controller.enqueue(new Uint8Array(1024 * 1024));
        controller.close();
      },
    });
    const response = await fetch(`${base}/media/avatar`, {
      method: 'POST',
      headers: { 'content-type': 'image/png', authorization: `Bearer ${me.token}` },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { errors: { extensions: { reason: string } }[] }).errors[0]!.extensions.reason).toBe('TOO_LARGE');
    // A decompression bomb: 36 megapixels in a few kilobytes.
    const bomb = grayPng(6000, 6000);
    expect(bomb.length).toBeLessThan(100_000);
    await refused(await upload(bomb, { token: me.token, type: 'image/png' }), 413, 'TOO_MANY_PIXELS');
    // None of that gave the user an avatar.
    expect((await t.gql(VIEWER, {}, { token: me.token })).data!.viewer.large).toBeNull();
  });

  it('takes only image bodies, from a signed-in viewer, and cookie uploads only from our own origin', async () => {
    const me = await t.signUp(handle('ava'));
    const photo = await photoWithExif(200, 200);
    // Forms (what another site can make a browser send without a preflight) are refused.
    for (const type of ['multipart/form-data; boundary=x', 'text/plain', 'application/x-www-form-urlencoded']) {
      const r = await upload(photo, { token: me.token, type });
      expect(r.status, type).toBe(415);
      expect(r.errors![0]!.extensions.code).toBe('BAD_USER_INPUT');
    }
    const anonymous = await upload(photo);
    expect([anonymous.status, anonymous.errors![0]!.extensions.code]).toEqual([401, 'UNAUTHENTICATED']);
    const badToken = await upload(photo, { token: 'not-a-token' });
    expect([badToken.status, badToken.errors![0]!.extensions.code]).toEqual([401, 'UNAUTHENTICATED']);
    const cookie = `spaces_session=${me.token}`;
    const crossSite = await upload(photo, { headers: { cookie, origin: 'https://evil.example' } });
    expect([crossSite.status, crossSite.errors![0]!.extensions.code]).toEqual([403, 'FORBIDDEN']);
    const sameOrigin = await upload(photo, { headers: { cookie, origin: base } });
    expect(sameOrigin.status).toBe(200);
    // A preflight from a third-party app (bearer tokens) is answered without cookies.
    const preflight = await fetch(`${base}/media/avatar`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('serves only media keys: anything else under /media is a 404', async () => {
    for (const p of ['/media/../package.json', '/media/avatars/..%2F..%2Fpackage.json', '/media/avatars/x.png', '/media/avatars/', '/media/avatars/nope-400.webp']) {
      const response = await fetch(`${base}${p}`);
      expect(response.status, p).toBe(404);
      await response.arrayBuffer();
    }
  });
});

/**
 * AWS Signature Version 4 of a request's headers, computed here independently of the API's
 * client (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html): s3rver
 * implements S3's object API but does not check V4 signatures itself.
 */
function sigV4Valid(req: IncomingMessage, secret: string): boolean {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
    req.headers.authorization ?? '',
  );
  const amzDate = req.headers['x-amz-date'];
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (!auth || typeof amzDate !== 'string' || typeof payloadHash !== 'string') return false;
  const [, , date, region, signedHeaders, signature] = auth as unknown as string[];
  const url = new URL(req.url ?? '/', 'http://x');
  const query = [...url.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const headerLines = signedHeaders!.split(';').map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`);
  const canonical = [req.method, url.pathname, query, headerLines.join(''), signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), 's3'), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex') === signature;
}

describe('avatar storage in an S3-compatible bucket', () => {
  it('stores the renditions in the bucket (SigV4-signed requests) and serves them at /media/…', async () => {
    const require = createRequire(import.meta.url);
    const S3rver = require('s3rver') as new (options: Record<string, unknown>) => {
      run(): Promise<{ port: number }>;
      close(): Promise<void>;
      getMiddleware(): (req: IncomingMessage, res: ServerResponse) => void;
    };
    const directory = mkdtempSync(path.join(tmpdir(), 'spaces-s3-'));
    const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: 'media' }] });
    await s3.run();
    // The bucket as clients reach it: every request's signature is checked against the
    // S3RVER/S3RVER key pair, then s3rver stores or answers.
    const s3Handler = s3.getMiddleware();
    const requests: string[] = [];
    const succeeded = (method: string) => new Set(requests.filter((r) => r.startsWith(`${method} `) && / 20\d$/.test(r)).map((r) => r.split(' ')[1]));
    const gateway = createServer((req, res) => {
      res.on('finish', () => requests.push(`${req.method} ${req.url} ${res.statusCode}`));
      if (!sigV4Valid(req, 'S3RVER')) {
        res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
        return;
      }
      s3Handler(req, res);
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const { port } = gateway.address() as AddressInfo;
    const bucketApp = await startTestApp({
      mediaS3: { endpoint: `http://127.0.0.1:${port}`, bucket: 'media', region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', prefix: 'spaces/' },
    });
    try {
      const url = await bucketApp.app.start();
      const me = await bucketApp.signUp(handle('s3'));
      const response = await fetch(`${url}/media/avatar`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg', authorization: `Bearer ${me.token}` },
        body: (await photoWithExif(800, 600)) as BodyInit,
      });
      const body = (await response.json()) as { data: { avatarUrl: string } };
      expect(response.status).toBe(200);
      const served = await fetch(`${url}${body.data.avatarUrl}`);
      expect(served.status).toBe(200);
      expect((await sharp(Buffer.from(await served.arrayBuffer())).metadata()).width).toBe(400);
      // The objects are in the bucket (s3rver keeps them in its folder), not on any local media disk.
      const stored = readdirSync(path.join(directory, 'media', 'spaces', 'avatars'));
      expect(stored.filter((f) => f.endsWith('-400.webp._S3rver_object') || f.endsWith('-96.webp._S3rver_object'))).toHaveLength(2);
      expect(succeeded('PUT').size).toBe(2);
      // Removing the avatar deletes both objects from the bucket.
      await bucketApp.gql(`mutation { removeAvatar { id } }`, {}, { token: me.token });
      const folder = path.join(directory, 'media', 'spaces', 'avatars');
      expect(existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('_S3rver_object')) : []).toHaveLength(0);
      // Both objects deleted (s3rver sometimes answers 500 to two concurrent deletes in one
      // folder; the client retries those).
      expect(succeeded('DELETE')).toEqual(succeeded('PUT'));
      expect((await fetch(`${url}${body.data.avatarUrl}`)).status).toBe(404);
      // A wrong secret is refused by the bucket: the upload fails as an internal error, and nothing changes.
      const wrongKey = await startTestApp({
        mediaS3: { endpoint: `http://127.0.0.1:${port}`, bucket: 'media', region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'wrong', prefix: '' },
      });
      try {
        const wrongUrl = await wrongKey.app.start();
        const other = await wrongKey.signUp(handle('s3'));
        const failed = await fetch(`${wrongUrl}/media/avatar`, {
          method: 'POST',
          headers: { 'content-type': 'image/jpeg', authorization: `Bearer ${other.token}` },
          body: (await photoWithExif(100, 100)) as BodyInit,
        });
        expect(failed.status).toBe(500);
        expect(((await failed.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('INTERNAL_SERVER_ERROR');
        expect((await wrongKey.gql(VIEWER, {}, { token: other.token })).data!.viewer.large).toBeNull();
      } finally {
        await wrongKey.close();
      }
    } finally {
      await bucketApp.close();
      await new Promise((resolve) => gateway.close(resolve));
      await s3.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('signIn with a wrong password', () => {
  it('says so, with the contract code and a reason to tell it from "sign in first"', async () => {
    const me = await t.signUp(handle('pw'));
    const SIGN_IN = `mutation($i: SignInInput!) { signIn(input: $i) { token } }`;
    for (const input of [
      { handle: me.handle, password: 'wrong password!' },
      { handle: 'nobody_here_x', password: 'correct horse battery' },
    ]) {
      const r = await t.gql(SIGN_IN, { i: input });
      expect(r.errors![0]!.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'WRONG_CREDENTIALS' });
      expect(r.errors![0]!.message).toMatch(/^Wrong handle or password\./);
    }
    expect((await t.gql(SIGN_IN, { i: { handle: me.handle, password: 'correct horse battery' } })).errors).toBeUndefined();
    // Signed out, a mutation that needs a viewer still says "sign in first", without that reason.
    const signedOut = await t.gql(PROFILE, { input: { bio: 'x' } });
    expect(signedOut.errors![0]!.extensions!.reason).toBeUndefined();
  });
});
