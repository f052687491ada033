import * as tf from '@tensorflow/tfjs';

/** Deterministic values in [-1, 1) for test inputs (mulberry32). */
export function randomValues(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** Runs `f` on `backend` and returns its result's values, leaving no tensors behind. */
export async function valuesOn(backend: string, f: () => tf.Tensor): Promise<{ shape: number[]; data: Float32Array }> {
  await tf.setBackend(backend);
  const t = tf.tidy(f);
  const data = (await t.data()) as Float32Array;
  const shape = t.shape;
  t.dispose();
  return { shape, data: Float32Array.from(data) };
}

/** max |a - b| / max(|b|, tiny): one scale for the whole tensor, as gradient checks usually use. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}
