/**
 * Turning stored pixel cells into the integers they mean (PS3.5 section 8 and PS3.3 C.7.6.3):
 * byte order, bits allocated vs stored vs high bit, two's-complement sign, colour-plane order and
 * YBR_FULL_422's shared chroma. The result is what pydicom's `pixel_array` holds, as numbers.
 */

export interface PixelLayout {
  readonly rows: number;
  readonly columns: number;
  readonly frames: number;
  readonly samples: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly highBit: number;
  readonly signed: boolean;
  /** Planar Configuration: 0 = R G B R G B ..., 1 = all R, then all G, then all B (per frame). */
  readonly planar: 0 | 1;
  readonly photometric: string;
}

export class PixelDataError extends Error {
  override readonly name = 'PixelDataError';
}

/** Bytes the native (uncompressed) encoding of every frame takes. */
export function nativeByteLength(layout: PixelLayout): number {
  const { rows, columns, frames, samples, bitsAllocated } = layout;
  if (bitsAllocated === 1) return Math.ceil((rows * columns * frames * samples) / 8);
  // YBR_FULL_422 stores two luma values per pair of pixels with one shared Cb and Cr.
  const cells = isYbr422(layout) ? rows * columns * 2 : rows * columns * samples;
  return cells * (bitsAllocated / 8) * frames;
}

/** Every frame's values, samples interleaved; `bytes` may be longer than needed (padding is ignored). */
export function decodeNative(bytes: Uint8Array, layout: PixelLayout, littleEndian: boolean): Float64Array {
  const need = nativeByteLength(layout);
  if (bytes.length < need) {
    throw new PixelDataError(`the pixel data has ${bytes.length} bytes but ${describe(layout)} need ${need}: the file is truncated or its header is wrong`);
  }
  const { rows, columns, frames, samples, bitsAllocated } = layout;
  const perFrame = rows * columns * samples;
  const out = new Float64Array(perFrame * frames);
  if (bitsAllocated === 1) {
    // Bits are packed across pixel (and frame) boundaries, least significant bit first.
    for (let i = 0; i < out.length; i++) out[i] = (bytes[i >> 3]! >> (i & 7)) & 1;
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, need);
  const read = cellReader(view, bitsAllocated, littleEndian);
  if (isYbr422(layout)) {
    for (let f = 0; f < frames; f++) {
      for (let pair = 0; pair < (rows * columns) / 2; pair++) {
        const at = f * rows * columns * 2 + pair * 4;
        const [y1, y2, cb, cr] = [read(at), read(at + 1), read(at + 2), read(at + 3)];
        const o = f * perFrame + pair * 6;
        out.set([y1, cb, cr, y2, cb, cr], o);
      }
    }
  } else if (layout.planar === 1 && samples > 1) {
    const plane = rows * columns;
    for (let f = 0; f < frames; f++) {
      for (let s = 0; s < samples; s++) {
        for (let p = 0; p < plane; p++) out[f * perFrame + p * samples + s] = read(f * perFrame + s * plane + p);
      }
    }
  } else {
    for (let i = 0; i < out.length; i++) out[i] = read(i);
  }
  return applyBitsStored(out, layout);
}

/**
 * Keeps only the stored bits (bits outside them may hold overlays in older data) and applies the
 * sign. Works in floating point so 32-bit cells stay exact.
 */
export function applyBitsStored(values: Float64Array, layout: PixelLayout): Float64Array {
  const { bitsAllocated, bitsStored, highBit, signed } = layout;
  if (bitsAllocated === 1) return values;
  const shift = highBit + 1 - bitsStored;
  const whole = bitsStored === bitsAllocated && shift === 0;
  const range = 2 ** bitsStored;
  const half = range / 2;
  const below = 2 ** shift;
  for (let i = 0; i < values.length; i++) {
    let v = values[i]!;
    if (!whole) v = Math.floor(v / below) % range;
    if (signed && v >= half) v -= range;
    values[i] = v;
  }
  return values;
}

/** Refuses combinations no decoder can make sense of, before any bytes are read. */
export function checkLayout(layout: PixelLayout): void {
  const { rows, columns, frames, samples, bitsAllocated, bitsStored, highBit } = layout;
  const positive = (n: number) => Number.isInteger(n) && n > 0;
  if (!positive(rows) || !positive(columns)) throw new PixelDataError(`the image is ${rows} x ${columns} pixels; Rows and Columns must be positive`);
  if (!positive(frames)) throw new PixelDataError(`Number of Frames is ${frames}`);
  if (samples !== 1 && samples !== 3) throw new PixelDataError(`Samples per Pixel is ${samples}; only 1 (grey) or 3 (colour) are images`);
  if (![1, 8, 16, 32].includes(bitsAllocated)) throw new PixelDataError(`Bits Allocated is ${bitsAllocated}; 1, 8, 16 or 32 are supported`);
  if (!(bitsStored >= 1 && bitsStored <= bitsAllocated)) throw new PixelDataError(`Bits Stored (${bitsStored}) must be between 1 and Bits Allocated (${bitsAllocated})`);
  if (!(highBit >= bitsStored - 1 && highBit < bitsAllocated)) throw new PixelDataError(`High Bit (${highBit}) does not fit Bits Stored ${bitsStored} in Bits Allocated ${bitsAllocated}`);
  if (isYbr422(layout) && (bitsAllocated !== 8 || columns % 2 !== 0)) {
    throw new PixelDataError(`YBR_FULL_422 with ${bitsAllocated} bits and ${columns} columns is not a valid encoding (8 bits, even columns)`);
  }
}

function isYbr422(layout: PixelLayout): boolean {
  return layout.photometric === 'YBR_FULL_422' && layout.samples === 3;
}

function cellReader(view: DataView, bitsAllocated: number, littleEndian: boolean): (i: number) => number {
  if (bitsAllocated === 8) return (i) => view.getUint8(i);
  if (bitsAllocated === 16) return (i) => view.getUint16(2 * i, littleEndian);
  return (i) => view.getUint32(4 * i, littleEndian);
}

function describe(layout: PixelLayout): string {
  const f = layout.frames > 1 ? `${layout.frames} frames of ` : '';
  return `${f}${layout.rows} x ${layout.columns} pixels x ${layout.samples} sample(s) at ${layout.bitsAllocated} bits`;
}
