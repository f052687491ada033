import * as tf from '@tensorflow/tfjs';

/*
 * tfjs-core's FusedBatchNorm gradient materialises 1/sqrt(var+eps) to the full activation shape with
 * Tile before multiplying; on the WASM backend that Tile alone took a third of a training step.
 * This is the same gradient with broadcasting in place of the tile (identical values on every
 * backend), registered over the stock one.
 */

function reductionAxes(meanShape: number[], xShape: number[]): number[] {
  return tf.backend_util.getReductionAxes(meanShape, xShape);
}

const gradFunc: tf.GradConfig['gradFunc'] = (dy, saved, attrs) => {
  const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
  const [x, mean, variance, scale] = saved;
  const g = dy as tf.Tensor;
  const scaleValue = scale == null ? tf.scalar(1) : scale;
  const axes = reductionAxes(mean.shape, x.shape);
  const sumIfVector = (t: tf.Tensor) => (mean.rank === 1 ? tf.sum(t, axes) : t);
  const rstd = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
  return {
    x: () => tf.mul(g, tf.mul(rstd, scaleValue)),
    mean: () => tf.reshape(sumIfVector(tf.mul(g, tf.neg(tf.mul(rstd, scaleValue)))), mean.shape),
    variance: () => {
      const k = tf.mul(tf.mul(tf.pow(rstd, tf.scalar(3)), tf.scalar(-0.5)), scaleValue);
      return tf.reshape(sumIfVector(tf.mul(tf.mul(tf.sub(x, mean), g), k)), mean.shape);
    },
    scale: () => tf.reshape(sumIfVector(tf.mul(tf.mul(tf.sub(x, mean), g), rstd)), mean.shape),
    offset: () => tf.reshape(sumIfVector(g), mean.shape),
  };
};

let registered = false;

export function registerBatchNormGradient(): void {
  if (registered) return;
  tf.registerGradient({ kernelName: 'FusedBatchNorm', inputsToSave: ['x', 'mean', 'variance', 'scale'], gradFunc });
  registered = true;
}
