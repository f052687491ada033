/**
 * DICOM RLE Lossless (PS3.5 annex G). No maintained npm package decodes it on its own (viewers
 * carry it inside large codec bundles), and the scheme is small: a 64-byte header of segment
 * offsets, then one PackBits stream per byte plane (most significant byte first, one set per sample).
 */

export class RleError extends Error {
  override readonly name = 'RleError';
}

/**
 * Decodes one frame into plain integers, samples interleaved (pixel p, sample s at p * samples + s),
 * unsigned: the caller applies bits stored and sign.
 */
export function decodeRleFrame(frame: Uint8Array, rows: number, columns: number, samples: number, bitsAllocated: number): Float64Array {
  const bytesPerSample = bitsAllocated / 8;
  if (!Number.isInteger(bytesPerSample) || bytesPerSample < 1 || bytesPerSample > 4) {
    throw new RleError(`RLE with ${bitsAllocated} bits allocated is not defined (8, 16 or 32 only)`);
  }
  if (frame.length < 64) throw new RleError(`an RLE frame has ${frame.length} bytes, less than its 64-byte header`);
  const header = new DataView(frame.buffer, frame.byteOffset, 64);
  const segments = header.getUint32(0, true);
  const expected = samples * bytesPerSample;
  if (segments !== expected) {
    throw new RleError(`the RLE header lists ${segments} segments, but ${samples} sample(s) of ${bitsAllocated} bits need ${expected}`);
  }
  const offsets: number[] = [];
  for (let i = 0; i < segments; i++) offsets.push(header.getUint32(4 + 4 * i, true));
  const pixels = rows * columns;
  const out = new Float64Array(pixels * samples);
  const plane = new Uint8Array(pixels);
  for (let seg = 0; seg < segments; seg++) {
    const start = offsets[seg]!;
    const end = seg + 1 < segments ? offsets[seg + 1]! : frame.length;
    if (start < 64 || end > frame.length || end < start) throw new RleError(`RLE segment ${seg + 1} lies outside its frame (offset ${start}, frame of ${frame.length} bytes)`);
    unpackBits(frame.subarray(start, end), plane, seg + 1);
    const sample = Math.floor(seg / bytesPerSample);
    // Segment 0 of a sample holds its most significant byte.
    const weight = 2 ** (8 * (bytesPerSample - 1 - (seg % bytesPerSample)));
    for (let p = 0; p < pixels; p++) out[p * samples + sample]! += plane[p]! * weight;
  }
  return out;
}

/** PackBits: n >= 0 copies n+1 bytes, -127..-1 repeats the next byte 1-n times, -128 does nothing. */
function unpackBits(src: Uint8Array, out: Uint8Array, segment: number): void {
  let i = 0;
  let o = 0;
  while (o < out.length && i < src.length) {
    const n = (src[i++]! << 24) >> 24;
    if (n >= 0) {
      const count = n + 1;
      if (i + count > src.length) break;
      out.set(src.subarray(i, i + Math.min(count, out.length - o)), o);
      i += count;
      o += count;
    } else if (n > -128) {
      const count = 1 - n;
      if (i >= src.length) break;
      out.fill(src[i++]!, o, Math.min(out.length, o + count));
      o += count;
    }
  }
  if (o < out.length) throw new RleError(`RLE segment ${segment} ends after ${o} of its ${out.length} bytes: the data is truncated or corrupt`);
}
