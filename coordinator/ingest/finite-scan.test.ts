import { describe, expect, it } from 'vitest';
import { layoutTensors } from '../../shared/wire/index.js';
import { FiniteScan } from './finite-scan.js';

const { specs } = layoutTensors([
  { name: 'a', shape: [3], dtype: 'float32' },
  { name: 'b', shape: [2, 2], dtype: 'float32' },
]);

function feedInPieces(scan: FiniteScan, values: Float32Array, cuts: number[]): void {
  const bytes = Buffer.from(values.buffer);
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    scan.feed(bytes.subarray(start, cut));
    start = cut;
  }
}

describe('FiniteScan', () => {
  it('finds a NaN across odd chunk boundaries and names its tensor', () => {
    const values = Float32Array.from([1, 2, 3, 4, 5, Number.NaN, 7]);
    const scan = new FiniteScan(specs);
    feedInPieces(scan, values, [1, 5, 6, 21, 22]);
    expect(scan.problem()).toBe('tensor b element 2 is NaN');
  });

  it('reports infinity and accepts finite data with its L2 norm', () => {
    const bad = new FiniteScan(specs);
    feedInPieces(bad, Float32Array.from([0, Number.POSITIVE_INFINITY, 0, 0, 0, 0, 0]), [3]);
    expect(bad.problem()).toBe('tensor a element 1 is Infinity');
    const good = new FiniteScan(specs);
    feedInPieces(good, Float32Array.from([3, 4, 0, 0, 0, 0, 0]), [2, 9]);
    expect(good.problem()).toBeNull();
    expect(good.l2Norm).toBe(5);
  });
});

describe('FiniteScan sums of squares', () => {
  /** The plain four-sum loop the scan ran before its SIMD kernel, as the reference. */
  function reference(values: Float32Array): number {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const n4 = values.length - (values.length % 4);
    for (let i = 0; i < n4; i += 4) {
      s0 += values[i]! * values[i]!;
      s1 += values[i + 1]! * values[i + 1]!;
      s2 += values[i + 2]! * values[i + 2]!;
      s3 += values[i + 3]! * values[i + 3]!;
    }
    for (let i = n4; i < values.length; i++) s0 += values[i]! * values[i]!;
    return s0 + s1 + s2 + s3;
  }

  it('gives bit for bit the norm of the plain loop, over many windows and an odd tail', () => {
    const values = new Float32Array(70_003);
    let x = 12345;
    for (let i = 0; i < values.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      values[i] = ((x / 2 ** 32) * 2 - 1) * 10 ** ((i % 7) - 3);
    }
    const scan = new FiniteScan([{ name: 'w', dtype: 'float32', shape: [values.length], offset: 0, byteLength: values.byteLength }]);
    scan.feed(Buffer.from(values.buffer));
    expect(scan.problem()).toBeNull();
    expect(scan.l2Norm).toBe(Math.sqrt(reference(values)));
  });

  it('finds a NaN deep in a long chunk, past the first kernel window', () => {
    const values = new Float32Array(50_000).fill(0.5);
    values[40_001] = Number.NaN;
    const scan = new FiniteScan([{ name: 'w', dtype: 'float32', shape: [values.length], offset: 0, byteLength: values.byteLength }]);
    scan.feed(Buffer.from(values.buffer));
    expect(scan.problem()).toBe('tensor w element 40001 is NaN');
  });
});
