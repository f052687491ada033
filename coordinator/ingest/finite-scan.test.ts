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
