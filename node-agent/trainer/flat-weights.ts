import * as tf from '@tensorflow/tfjs';

/** Overwrites `vars` (in order) from one flat vector; throws if the total size differs. */
export function setFlatWeights(vars: tf.Variable[], flat: Float32Array): void {
  const total = vars.reduce((s, v) => s + v.size, 0);
  if (total !== flat.length) throw new Error(`weight vector has ${flat.length} values, model needs ${total}`);
  let off = 0;
  for (const v of vars) {
    const n = v.size;
    tf.tidy(() => v.assign(tf.tensor(flat.subarray(off, off + n), v.shape)));
    off += n;
  }
}
