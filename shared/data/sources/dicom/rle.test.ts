import { describe, expect, it } from 'vitest';
import { decodeRleFrame, RleError } from './rle.js';

/** An RLE frame: 64-byte header of segment offsets, then the segments as given. */
function frame(segments: number[][]): Uint8Array {
  const header = new DataView(new ArrayBuffer(64));
  header.setUint32(0, segments.length, true);
  let at = 64;
  segments.forEach((s, i) => {
    header.setUint32(4 + 4 * i, at, true);
    at += s.length;
  });
  const out = new Uint8Array(at);
  out.set(new Uint8Array(header.buffer), 0);
  let o = 64;
  for (const s of segments) {
    out.set(s, o);
    o += s.length;
  }
  return out;
}

describe('decodeRleFrame (PackBits per byte plane)', () => {
  it('literal runs, repeats and the -128 no-op', () => {
    // 2 literal bytes (n=1), repeat 7 three times (n=-2), no-op, one literal 9 (n=0).
    const f = frame([[1, 5, 6, 0xfe, 7, 0x80, 0, 9]]);
    expect(Array.from(decodeRleFrame(f, 2, 3, 1, 8))).toEqual([5, 6, 7, 7, 7, 9]);
  });

  it('16-bit samples: the first segment is the high byte', () => {
    const f = frame([[0xfd, 0x01], [2, 0x00, 0x10, 0xff]]);
    // high bytes 1,1,1,1 (repeat of 4); low bytes 0x00, 0x10, 0xff then... only 3 given -> too short
    expect(() => decodeRleFrame(f, 1, 4, 1, 16)).toThrow(RleError);
    const g = frame([[0xfd, 0x01], [3, 0x00, 0x10, 0xff, 0x02]]);
    expect(Array.from(decodeRleFrame(g, 2, 2, 1, 16))).toEqual([0x100, 0x110, 0x1ff, 0x102]);
  });

  it('colour: one set of segments per sample, interleaved on output', () => {
    const f = frame([[0xff, 10], [0xff, 20], [0xff, 30]]);
    expect(Array.from(decodeRleFrame(f, 1, 2, 3, 8))).toEqual([10, 20, 30, 10, 20, 30]);
  });

  it('refuses a header whose segment count does not fit the pixel format', () => {
    expect(() => decodeRleFrame(frame([[0xff, 1]]), 1, 2, 1, 16)).toThrow(/lists 1 segments, but 1 sample\(s\) of 16 bits need 2/);
    expect(() => decodeRleFrame(new Uint8Array(10), 1, 1, 1, 8)).toThrow(/less than its 64-byte header/);
  });
});
