import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AwsClient } from 'aws4fetch';
import type { MediaS3Config } from '../config.ts';

/**
 * Where uploaded media lives. Keys are ours (`avatars/<random>-400.webp`), never a client's
 * string: `isMediaKey` is checked before any key reaches a path or a URL.
 */
export interface MediaStore {
  readonly kind: 'disk' | 's3';
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  /** Idempotent: deleting a missing key is fine. */
  delete(key: string): Promise<void>;
  /**
   * Where clients fetch the object: `/media/<key>` (served by the API, relative to its origin),
   * or the bucket's public URL when one is configured.
   */
  urlOf(key: string): string;
}

/** A media key: lowercase path segments of [a-z0-9_-], a file name with one extension. No `..`, no leading `/`. */
const MEDIA_KEY = /^(?:[a-z0-9_-]+\/){1,3}[A-Za-z0-9_-]+\.(?:webp)$/;
export const isMediaKey = (key: string) => MEDIA_KEY.test(key);

function checkKey(key: string): string {
  if (!isMediaKey(key)) throw new Error(`not a media key: ${JSON.stringify(key)}`);
  return key;
}

/** `.data/media` at the repository root (beside PGlite's `.data/pglite`), wherever the process started. */
export const defaultMediaDir = () => fileURLToPath(new URL('../../../.data/media', import.meta.url));

/** Files under one folder; written to a temporary name first, then renamed, so a reader never sees half a file. */
export class DiskMediaStore implements MediaStore {
  readonly kind = 'disk' as const;
  constructor(readonly root: string) {}

  private pathOf(key: string) {
    return path.join(this.root, ...checkKey(key).split('/'));
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const file = this.pathOf(key);
    await mkdir(path.dirname(file), { recursive: true });
    const partial = `${file}.${randomBytes(6).toString('hex')}.partial`;
    await writeFile(partial, body);
    await rename(partial, file);
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  urlOf(key: string): string {
    return `/media/${checkKey(key)}`;
  }
}

/**
 * An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, R2, …) through plain signed HTTP requests
 * (aws4fetch: SigV4 on fetch, no SDK). Path-style URLs (`<endpoint>/<bucket>/<key>`), which
 * every S3-compatible server accepts.
 */
export class S3MediaStore implements MediaStore {
  readonly kind = 's3' as const;
  private readonly client: AwsClient;

  constructor(private readonly config: MediaS3Config) {
    this.client = new AwsClient({
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      region: config.region,
      service: 's3',
      retries: 2,
    });
  }

  private objectUrl(key: string) {
    const objectKey = `${this.config.prefix}${checkKey(key)}`;
    return `${this.config.endpoint}/${encodeURIComponent(this.config.bucket)}/${objectKey.split('/').map(encodeURIComponent).join('/')}`;
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    const response = await this.client.fetch(this.objectUrl(key), {
      method: 'PUT',
      body: body as Uint8Array<ArrayBuffer>,
      headers: { 'content-type': contentType, 'cache-control': 'public, max-age=31536000, immutable' },
    });
    if (!response.ok) throw new Error(`S3 PUT ${key}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
    await response.body?.cancel();
  }

  async get(key: string): Promise<Uint8Array | null> {
    const response = await this.client.fetch(this.objectUrl(key), { method: 'GET' });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    if (!response.ok) throw new Error(`S3 GET ${key}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async delete(key: string): Promise<void> {
    const response = await this.client.fetch(this.objectUrl(key), { method: 'DELETE' });
    await response.body?.cancel();
    if (!response.ok && response.status !== 404) throw new Error(`S3 DELETE ${key}: HTTP ${response.status}`);
  }

  urlOf(key: string): string {
    return this.config.publicUrl ? `${this.config.publicUrl}/${this.config.prefix}${checkKey(key)}` : `/media/${checkKey(key)}`;
  }
}

export function createMediaStore(options: { mediaDir?: string; mediaS3?: MediaS3Config }): MediaStore {
  if (options.mediaS3) return new S3MediaStore(options.mediaS3);
  return new DiskMediaStore(options.mediaDir ?? defaultMediaDir());
}
