// Writes the PWA's PNG icons (static/icons) from the same drawing as static/favicon.svg:
// a violet tile with five white sound bars. Plain Node (zlib), no image libraries.
//   node scripts/make-icons.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const BG = [0x5b, 0x21, 0xb6];
const FG = [0xff, 0xff, 0xff];
// Bars in the 64-unit drawing: x, top, bottom (round caps, width 5.5).
const BARS = [
  [14, 28, 36],
  [23, 21, 43],
  [32, 14, 50],
  [41, 21, 43],
  [50, 28, 36],
];
const HALF_WIDTH = 2.75;

function inRoundedRect(x, y, size, radius) {
  const cx = Math.min(Math.max(x, radius), size - radius);
  const cy = Math.min(Math.max(y, radius), size - radius);
  return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
}

function onBar(x, y) {
  for (const [bx, top, bottom] of BARS) {
    const cy = Math.min(Math.max(y, top), bottom);
    if ((x - bx) ** 2 + (y - cy) ** 2 <= HALF_WIDTH ** 2) return true;
  }
  return false;
}

/**
 * RGBA pixels of one icon. `maskable`: the background fills the square and the drawing sits in
 * the middle 60% (inside the 80% safe zone of maskable icons).
 */
function draw(size, { maskable = false, rounded = true } = {}) {
  const samples = 4;
  const pixels = Buffer.alloc(size * size * 4);
  const scale = maskable ? 0.6 : 1;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let bg = 0;
      let fg = 0;
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          // Position in the 64-unit drawing.
          const u = ((px + (sx + 0.5) / samples) / size) * 64;
          const v = ((py + (sy + 0.5) / samples) / size) * 64;
          const inside = maskable || !rounded || inRoundedRect(u, v, 64, 14);
          if (!inside) continue;
          const du = (u - 32) / scale + 32;
          const dv = (v - 32) / scale + 32;
          if (onBar(du, dv)) fg++;
          else bg++;
        }
      }
      const total = samples * samples;
      const alpha = (bg + fg) / total;
      const i = (py * size + px) * 4;
      if (alpha === 0) continue;
      for (let c = 0; c < 3; c++) pixels[i + c] = Math.round((BG[c] * bg + FG[c] * fg) / (bg + fg));
      pixels[i + 3] = Math.round(alpha * 255);
    }
  }
  return pixels;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function png(size, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  const rows = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    rows[y * (size * 4 + 1)] = 0; // no filter
    rgba.copy(rows, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const out = new URL('../static/icons/', import.meta.url);
mkdirSync(out, { recursive: true });
const icons = [
  ['icon-192.png', 192, {}],
  ['icon-512.png', 512, {}],
  ['icon-maskable-512.png', 512, { maskable: true }],
  // iOS rounds the corners itself and shows transparency as black: full bleed.
  ['apple-touch-icon.png', 180, { rounded: false }],
];
for (const [name, size, options] of icons) {
  writeFileSync(new URL(name, out), png(size, draw(size, options)));
  console.log(`static/icons/${name} (${size}x${size})`);
}
