/** Small numeric helpers shared by the benchmarks. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Rounds to `digits` decimals, keeping null as null. */
export function round(value: number | null | undefined, digits = 1): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const MIB = 1024 * 1024;

/** Deterministic float32 noise in [-scale, scale) (xorshift32): fast enough for gigabytes. */
export function fillNoise(out: Float32Array, seed: number, scale = 1): Float32Array {
  let x = seed >>> 0 || 0x9e3779b9;
  const k = (2 * scale) / 0x1_0000_0000;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) * k - scale;
  }
  return out;
}
