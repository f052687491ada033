import * as tf from '@tensorflow/tfjs';

/** Non-trivial batch-norm statistics and weights, so a lost or misplaced weight would show. */
export function perturb(model: tf.LayersModel): void {
  const values = model.weights.map((w, i) =>
    tf.tidy(() => {
      const v = w.read();
      return w.name.includes('moving_variance') ? tf.add(tf.abs(tf.randomNormal(v.shape, 0, 0.5, 'float32', i)), 0.5) : tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', i));
    }),
  );
  model.setWeights(values);
  tf.dispose(values);
}
