import sharp from 'sharp';
import { appError } from '../errors.ts';

/**
 * Untrusted image uploads (avatars, fleet photos), decoded and re-encoded with sharp in one place:
 * the accepted formats, the byte and pixel limits (decompression bombs), and the coded refusals.
 */

/** Raster formats taken from uploads (sharp's names; `heif` covers AVIF). SVG, PDF, TIFF and the rest are refused. */
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'heif']);

/** Why an image was refused, in `extensions.reason` of its BAD_USER_INPUT error. */
export type ImageRefusal = 'NOT_AN_IMAGE' | 'TOO_LARGE' | 'TOO_MANY_PIXELS';

/** BAD_USER_INPUT for the upload `field` (`avatar`, `photo`), with the reason. */
export const imageRefused = (field: string, reason: ImageRefusal, message: string) =>
  appError('BAD_USER_INPUT', `${field}: ${message}`, { field, reason });

export interface ImageLimits {
  /** The field named in errors. */
  field: string;
  maxBytes: number;
  /** Decoded size limit: a few KB of PNG can declare 50,000 × 50,000 pixels. */
  maxPixels: number;
}

/** One WebP rendition: resized with `resize` (sharp's options), encoded at `quality`. */
export interface Rendition {
  width: number;
  height: number;
  fit: 'cover' | 'inside';
  quality: number;
}

// Decoded images are not worth caching between uploads; memory is better spent elsewhere.
sharp.cache(false);

export const tooLarge = (limits: Pick<ImageLimits, 'field' | 'maxBytes'>) =>
  imageRefused(limits.field, 'TOO_LARGE', `must be at most ${limits.maxBytes / 1024 / 1024} MB`);

/**
 * Decodes an untrusted upload once and re-encodes it as WebP renditions: auto-rotated by its EXIF
 * orientation, then every piece of metadata (EXIF with GPS, XMP, ICC, comments) is left behind,
 * since sharp writes none unless asked. Only the first frame of an animation is kept. sharp
 * refuses to decode past `maxPixels` (limitInputPixels), checked against the header first.
 */
export async function renderImage<K extends string>(
  input: Uint8Array,
  limits: ImageLimits,
  renditions: Record<K, Rendition>,
): Promise<Record<K, Uint8Array>> {
  const { field, maxBytes, maxPixels } = limits;
  if (input.byteLength > maxBytes) throw tooLarge(limits);
  const options = { limitInputPixels: maxPixels, failOn: 'error', animated: false } as const;
  const tooManyPixels = (detail?: string) =>
    imageRefused(field, 'TOO_MANY_PIXELS', detail ?? `is larger than ${maxPixels.toLocaleString('en')} pixels`);
  let format: string | undefined;
  let pixels = 0;
  try {
    const meta = await sharp(input, options).metadata();
    format = meta.format;
    pixels = (meta.width ?? 0) * (meta.height ?? 0);
  } catch (error) {
    if (/pixel limit/i.test(String((error as Error).message))) throw tooManyPixels();
    throw imageRefused(field, 'NOT_AN_IMAGE', 'is not an image this server reads (JPEG, PNG, WebP, GIF or AVIF)');
  }
  if (!format || !ACCEPTED_FORMATS.has(format))
    throw imageRefused(field, 'NOT_AN_IMAGE', `${format ? `${format.toUpperCase()} is not accepted` : 'is not an image'}: use JPEG, PNG, WebP, GIF or AVIF`);
  if (pixels > maxPixels)
    throw tooManyPixels(`has ${pixels.toLocaleString('en')} pixels; at most ${maxPixels.toLocaleString('en')} are accepted`);
  if (pixels === 0) throw imageRefused(field, 'NOT_AN_IMAGE', 'has no pixels');
  try {
    const entries = await Promise.all(
      (Object.entries(renditions) as [K, Rendition][]).map(async ([name, r]) => {
        const output = await sharp(input, options)
          .timeout({ seconds: 15 })
          .rotate()
          .resize(r.width, r.height, r.fit === 'cover' ? { fit: 'cover', position: 'centre' } : { fit: 'inside', withoutEnlargement: true })
          .webp({ quality: r.quality, effort: 4 })
          .toBuffer();
        return [name, new Uint8Array(output.buffer, output.byteOffset, output.byteLength)] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<K, Uint8Array>;
  } catch (error) {
    if (/pixel limit/i.test(String((error as Error).message))) throw tooManyPixels();
    // A header that parses but pixel data that does not (truncated or corrupt files).
    throw imageRefused(field, 'NOT_AN_IMAGE', 'could not be decoded (the file may be truncated or corrupt)');
  }
}
