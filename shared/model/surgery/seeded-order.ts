/**
 * The indices 0..count-1 in an order fixed by `seed` (Fisher-Yates over a 32-bit LCG), so the
 * surgery's small training loops visit examples in the same order on every run.
 */
export function seededOrder(count: number, seed: number): Int32Array {
  const idx = Int32Array.from({ length: count }, (_, i) => i);
  let a = seed >>> 0 || 1;
  for (let i = count - 1; i > 0; i--) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    const j = a % (i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}
