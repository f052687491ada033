import { describe, expect, it } from 'vitest';
import { allocateSum, finishInPlace, helperPieces, scaledAddInto, setAggregationThreads } from './scaled-add.js';
import { simdModule } from './simd-kernel.js';

/** Deterministic values with full mantissas, mixed signs and magnitudes (xorshift32). */
function noise(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = ((x / 0x1_0000_0000) * 2 - 1) * scale * (1 + (i % 7) * 1e3 ** ((i % 3) - 1));
  }
  return out;
}

/** The reference: float32 multiply-then-add, one element at a time (what NumPy does for Flower). */
function plainAdd(sum: Float32Array, offset: number, values: Float32Array, weight: number): void {
  const w = Math.fround(weight);
  for (let i = 0; i < values.length; i++) sum[offset + i] = Math.fround(sum[offset + i]! + Math.fround(w * values[i]!));
}

function sameBits(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let first = -1;
  for (let i = 0; i < ua.length && first < 0; i++) if (ua[i] !== ub[i]) first = i;
  expect(first === -1 ? 'identical' : `element ${first}: ${a[first]} vs ${b[first]}`).toBe('identical');
}

describe('scaledAddInto', () => {
  it('has a WebAssembly SIMD kernel on this Node', () => {
    expect(simdModule()).not.toBeNull();
  });

  it('matches the plain loop bit for bit: odd lengths, offsets, negative and fractional weights', () => {
    const elements = 200_003;
    const fast = allocateSum(elements);
    const plain = new Float32Array(elements);
    const cases: [number, number, number][] = [
      // [offset, length, weight]
      [0, elements, 3],
      [1, 64, -2.5],
      [5, 65, 0.1],
      [7, 67, 1e-3],
      [3, 70_001, 17],
      [0, 100_000, -1 / 3],
      [123, 199_877, 12345],
      [elements - 63, 63, 7],
      [elements - 1, 1, -9],
      [11, 0, 5],
      [4, 65_537, 1e7 + 1],
    ];
    let seed = 1;
    for (const [offset, length, weight] of cases) {
      const values = noise(length, seed++, seed % 2 ? 1 : 1e-4);
      scaledAddInto(fast, offset, values, weight);
      plainAdd(plain, offset, values, weight);
      sameBits(fast, plain);
    }
  });

  it('accepts values that are unaligned views and sums that are views', () => {
    const fast = allocateSum(1000);
    const plain = new Float32Array(1000);
    const backing = noise(1001, 42);
    const values = backing.subarray(1, 1000);
    scaledAddInto(fast.subarray(1), 0, values, 2);
    plainAdd(plain, 1, values, 2);
    sameBits(fast, plain);
  });

  it('keeps the plain path for ordinary arrays and refuses segments outside the model', () => {
    const sum = new Float32Array(10);
    scaledAddInto(sum, 2, Float32Array.from([1, 2, 3]), -2);
    expect([...sum]).toEqual([0, 0, -2, -4, -6, 0, 0, 0, 0, 0]);
    for (const target of [new Float32Array(100), allocateSum(100)]) {
      expect(() => scaledAddInto(target, 40, new Float32Array(61), 1)).toThrow(/outside a model of 100/);
      expect(() => scaledAddInto(target, -1, new Float32Array(64), 1)).toThrow(RangeError);
    }
  });

  it('agrees with plain float64 arithmetic on special values', () => {
    const fast = allocateSum(128);
    const plain = new Float32Array(128);
    const values = new Float32Array(128);
    values.set([3.4e38, -3.4e38, 1e-45, -0, Number.POSITIVE_INFINITY, 0.1, 16777217]);
    scaledAddInto(fast, 0, values, 2);
    plainAdd(plain, 0, values, 2);
    sameBits(fast, plain);
  });
});

describe('finishInPlace', () => {
  it('matches base + sum / total bit for bit, in the sum itself', () => {
    for (const elements of [1, 63, 64, 65, 99_999, 150_001]) {
      for (const offset of [0, Math.min(3, elements - 1)]) {
        const fast = allocateSum(elements);
        const values = noise(elements, elements, 3);
        scaledAddInto(fast, 0, values, 7);
        const plainSum = new Float32Array(elements);
        plainAdd(plainSum, 0, values, 7);
        const base = noise(elements, 99).subarray(offset);
        const out = finishInPlace(fast, offset, base, 13);
        const expected = new Float32Array(base.length);
        for (let i = 0; i < base.length; i++) expected[i] = base[i]! + plainSum[offset + i]! / 13;
        sameBits(out, expected);
        sameBits(fast.subarray(offset), expected);
        const plainOut = finishInPlace(plainSum, offset, base, 13);
        sameBits(plainOut, expected);
      }
    }
  });

  it('refuses a base segment outside the model', () => {
    expect(() => finishInPlace(allocateSum(100), 50, new Float32Array(51), 1)).toThrow(/outside a model of 100/);
  });
});

describe('with the helper thread', () => {
  it('folds shared segments on two threads with bit-identical results', async () => {
    setAggregationThreads(2);
    const elements = (1 << 20) + 12_345;
    const fast = allocateSum(elements);
    const plain = new Float32Array(elements);
    const shared = (values: Float32Array) => {
      const copy = new Float32Array(new SharedArrayBuffer(values.byteLength));
      copy.set(values);
      return copy;
    };
    // Let the helper thread start, so that segments are really split between the threads.
    await new Promise((r) => setTimeout(r, 300));
    const segment = 1 << 18;
    for (let u = 0; u < 4; u++) {
      const values = shared(noise(elements, 100 + u, u % 2 ? 1 : 1e-3));
      const weight = [3, 0.7, -12, 1e5][u]!;
      for (let o = 0; o < elements; o += segment) scaledAddInto(fast, o, values.subarray(o, o + segment), weight);
      plainAdd(plain, 0, values, weight);
    }
    sameBits(fast, plain);
    const base = shared(noise(elements, 7));
    const expected = new Float32Array(elements);
    for (let i = 0; i < elements; i++) expected[i] = base[i]! + plain[i]! / 9;
    for (let o = 0; o < elements; o += segment) finishInPlace(fast, o, base.subarray(o, o + segment), 9);
    sameBits(fast, expected);
    expect(helperPieces(fast)).toBeGreaterThan(0);
    // Reused for a next round, the sum is zeroed (by both threads).
    const again = allocateSum(elements, fast);
    expect(again).toBe(fast);
    expect(again.every((v) => v === 0)).toBe(true);
  });

  it('gives the same results with one thread', () => {
    setAggregationThreads(1);
    try {
      const elements = (1 << 20) + 3;
      const fast = allocateSum(elements);
      const plain = new Float32Array(elements);
      const values = noise(elements, 5);
      scaledAddInto(fast, 0, values, 2.5);
      plainAdd(plain, 0, values, 2.5);
      sameBits(fast, plain);
      expect(helperPieces(fast)).toBeNull();
    } finally {
      setAggregationThreads(2);
    }
  });
});
