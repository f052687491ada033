/**
 * PNG and JPEG files to decoded images, with pngjs and jpeg-js (both pure JavaScript: nothing
 * native to build or download at install). 16-bit PNGs keep their 16-bit values.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { DecodedImage } from './types.js';

export type RasterResult = { ok: true; image: DecodedImage } | { ok: false; reason: string };

/** The raster formats a `folder:` source reads, by file name. */
export function rasterKind(path: string): 'png' | 'jpeg' | undefined {
  if (/\.png$/i.test(path)) return 'png';
  if (/\.jpe?g$/i.test(path)) return 'jpeg';
  return undefined;
}

export function decodeRaster(bytes: Uint8Array, path: string): RasterResult {
  const kind = rasterKind(path);
  if (kind === undefined) return { ok: false, reason: 'not a .png, .jpg or .jpeg file; a folder: source reads only those' };
  try {
    return { ok: true, image: kind === 'png' ? decodePng(bytes, path) : decodeJpeg(bytes, path) };
  } catch (err) {
    return { ok: false, reason: `not a readable ${kind.toUpperCase()} file (${(err as Error).message}); it is corrupt or truncated` };
  }
}

function decodePng(bytes: Uint8Array, path: string): DecodedImage {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
  // pngjs always hands back RGBA; grey files have R = G = B.
  return fromRgba(png.data as unknown as ArrayLike<number>, png.height, png.width, png.color ? 3 : 1, path);
}

function decodeJpeg(bytes: Uint8Array, path: string): DecodedImage {
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
  // jpeg-js expands grey JPEGs to three equal channels; keep them grey.
  let grey = true;
  for (let i = 0; grey && i < img.data.length; i += 4) grey = img.data[i] === img.data[i + 1] && img.data[i] === img.data[i + 2];
  return fromRgba(img.data, img.height, img.width, grey ? 1 : 3, path);
}

function fromRgba(rgba: ArrayLike<number>, rows: number, columns: number, samples: 1 | 3, path: string): DecodedImage {
  const n = rows * columns;
  const pixels = new Float32Array(n * samples);
  for (let p = 0; p < n; p++) for (let s = 0; s < samples; s++) pixels[p * samples + s] = rgba[p * 4 + s]!;
  return {
    path,
    rows,
    columns,
    frames: 1,
    samples,
    pixels,
    photometric: samples === 1 ? 'MONOCHROME2' : 'RGB',
    ids: { path },
    group: path,
    arrayShape: samples === 1 ? [rows, columns] : [rows, columns, samples],
  };
}
