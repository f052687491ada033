/**
 * The hot loop of every weighted average: sum[offset + i] += weight * values[i].
 * Kept in its own file so a faster kernel can replace it without touching the strategies.
 */
export function scaledAddInto(sum: Float32Array, offset: number, values: Float32Array, weight: number): void {
  const n = values.length;
  if (offset < 0 || offset + n > sum.length) {
    throw new RangeError(`segment [${offset}, ${offset + n}) lies outside a model of ${sum.length} elements`);
  }
  const target = sum.subarray(offset, offset + n);
  for (let i = 0; i < n; i++) target[i]! += weight * values[i]!;
}
