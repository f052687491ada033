import { BlockReader } from './block-reader.js';
import type { UpdateStore } from './update-store.js';

/**
 * Squared L2 distances between every pair of the round's updates, as an n x n float64 matrix
 * (row-major, site order). One pass over the updates in blocks: each block of every update is
 * read once and its contribution to all pairs added, so spilled updates are read from disk once.
 * Differences are squared directly rather than through |a|^2 + |b|^2 - 2ab, which loses the
 * small distances between near-identical updates to cancellation.
 */
export async function pairwiseSquaredDistances(store: UpdateStore, workingBytes: number): Promise<Float64Array> {
  const n = store.updates;
  const distances = new Float64Array(n * n);
  if (n < 2) return distances;
  const reader = new BlockReader(store, Array.from({ length: n }, (_, i) => i), workingBytes);
  for (let start = 0; start < store.elements; start += reader.blockLength) {
    const length = Math.min(reader.blockLength, store.elements - start);
    const rows = await reader.read(start, length);
    for (let i = 0; i < n; i++) {
      const a = rows[i]!;
      for (let j = i + 1; j < n; j++) {
        const b = rows[j]!;
        let sum = 0;
        for (let k = 0; k < length; k++) {
          const d = a[k]! - b[k]!;
          sum += d * d;
        }
        distances[i * n + j] += sum;
      }
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) distances[i * n + j] = distances[j * n + i]!;
  return distances;
}
