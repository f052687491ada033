import { describe, expect, it } from 'vitest';
import { quantizeSimd } from './quantize-kernel.js';
import { quantizeUpdate } from './quantize.js';
import { seededRandom } from './test-helpers.js';
import { CHUNK_WORDS, foldWords, jsWordLanes, wordLanes } from './word-lanes.js';

/** quantizeUpdate's per-value arithmetic, as it was written before the kernel, stored as int32. */
function reference(x: number, c: number, factor: number, cap: number): number {
  const q = Math.round((x > c ? c : x < -c ? -c : x) * factor);
  return (q > cap ? cap : q < -cap ? -cap : q) | 0;
}

/** Exact ties (k + 1/2 after scaling), their float32 neighbours, clip edges and oddities. */
function hardValues(c: number, factor: number, random: () => number): Float32Array {
  const values: number[] = [0, -0, c, -c, 2 * c, -2 * c, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38];
  const f32 = new Float32Array(1);
  const neighbours = (x: number) => {
    f32[0] = x;
    const bits = new Int32Array(f32.buffer);
    const out = [f32[0]];
    bits[0] += 1;
    out.push(f32[0]);
    bits[0] -= 2;
    out.push(f32[0]);
    return out;
  };
  for (let k = -40; k <= 40; k++) values.push(...neighbours((k + 0.5) / factor));
  values.push(...neighbours(c), ...neighbours(-c));
  for (let i = 0; i < 2000; i++) values.push((random() * 2.4 - 1.2) * c);
  return Float32Array.from(values);
}

describe('secure-aggregation kernels', () => {
  it('quantize exactly as the JS loop: ties, near-ties, clip edges, odd lengths, across chunks', () => {
    const random = seededRandom(11);
    // (c, factor, cap): a power-of-two factor makes exact ties; a non-integer c * factor makes the cap bite.
    const cases = [
      [1, 1024, 1024],
      [0.11, 2147483.58 * 0.11 * 9, Math.floor(0.11 * 2147483.58 * 0.11 * 9)],
      [0.37, 5803, Math.floor(0.37 * 5803)],
      [1, 214748 * 37, 214748 * 37],
      [2.5, 3, 7],
    ];
    for (const [c, factor, cap] of cases) {
      const values = hardValues(c, factor, random);
      const out = new Int32Array(values.length);
      const done = quantizeSimd(values, out, c, factor, cap);
      // Without WebAssembly SIMD the kernel does nothing, and quantizeUpdate's JS loop does it all.
      expect([0, values.length & ~1]).toContain(done);
      for (let i = 0; i < done; i++) expect([i, values[i], out[i]]).toEqual([i, values[i], reference(values[i], c, factor, cap)]);
    }
    // Longer than a chunk, odd length: whatever the kernel leaves, quantizeUpdate finishes the same way.
    const p = { threshold: 1, clipRange: 0.37, weightBound: 977 };
    const long = Float32Array.from({ length: 3 * 65536 + 7 }, () => (random() * 2.4 - 1.2) * 0.37);
    const q = new Int32Array(quantizeUpdate(long, 13, p).buffer);
    const scale = Math.floor((2 ** 31 - 1) / (0.37 * 977));
    for (let i = 0; i < long.length; i++) {
      if (q[i] !== reference(long[i], 0.37, 13 * scale, Math.floor(13 * 0.37 * scale))) throw new Error(`value ${i} differs`);
    }
  });

  it('refuse a NaN anywhere, naming its index', () => {
    const values = new Float32Array(2 * 65536 + 3).fill(0.25);
    for (const at of [0, 1, 70_000, values.length - 1]) {
      const v = values.slice();
      v[at] = NaN;
      expect(() => quantizeUpdate(v, 1, { threshold: 1, clipRange: 1, weightBound: 10 })).toThrow(new RegExp(`index ${at} is NaN`));
    }
  });

  it('add and subtract words mod 2^32 as the JS lanes do, and fold across chunks', () => {
    const random = seededRandom(5);
    const words = (n: number) => Uint32Array.from({ length: n }, () => Math.floor(random() * 2 ** 32));
    for (const lanes of [wordLanes(), jsWordLanes()]) {
      for (const n of [0, 1, 3, 4, 15, 16, 17, 63, 1000, CHUNK_WORDS]) {
        const a = words(n);
        const b = words(n);
        lanes.acc.set(a);
        lanes.src.set(b);
        lanes.add(n);
        expect(Array.from(lanes.acc.subarray(0, n))).toEqual(Array.from(a, (x, i) => (x + b[i]) >>> 0));
        lanes.sub(n);
        expect(Array.from(lanes.acc.subarray(0, n))).toEqual(Array.from(a));
      }
    }
    const target = words(2 * CHUNK_WORDS + 50);
    const values = words(CHUNK_WORDS + 9);
    const expected = Uint32Array.from(target, (x, i) => (i >= 20 && i < 20 + values.length ? (x - values[i - 20]) >>> 0 : x));
    foldWords(target, values, 20, -1);
    expect(Buffer.from(target.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });
});
