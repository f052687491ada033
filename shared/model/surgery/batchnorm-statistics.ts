import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../data/types.js';
import { batchPixels, yieldToEventLoop } from '../predict.js';
import { weightName } from '../layers-model-io.js';

/*
 * Re-estimates every batch norm's running mean and variance from `set`, in network order (each
 * layer's statistics are measured with the layers before it already re-estimated). A cut removes
 * channels and the folded scales change the magnitudes the next layers see; their frozen
 * statistics still describe the old network, and normalising with them shifts every later layer.
 * Only statistics change: kernels, gamma and beta stay as they are.
 */
export async function recalibrateBatchNorm(model: tf.LayersModel, set: ImageSet, batchSize = 128): Promise<number> {
  const norms = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  for (const bn of norms) {
    const probe = tf.model({ inputs: model.inputs, outputs: bn.input as tf.SymbolicTensor });
    const channels = (bn.input as tf.SymbolicTensor).shape.at(-1)!;
    const sum = new Float64Array(channels);
    const squares = new Float64Array(channels);
    let n = 0;
    for (let start = 0; start < set.count; start += batchSize) {
      const end = Math.min(set.count, start + batchSize);
      const x = batchPixels(set, Int32Array.from({ length: end - start }, (_, i) => start + i));
      const [m, s, count] = tf.tidy(() => {
        const y = probe.predict(x) as tf.Tensor;
        const flat = y.reshape([-1, channels]);
        return [flat.sum(0), flat.square().sum(0), flat.shape[0]] as const;
      });
      const md = m.dataSync();
      const sd = s.dataSync();
      for (let c = 0; c < channels; c++) {
        sum[c] += md[c]!;
        squares[c] += sd[c]!;
      }
      n += count;
      tf.dispose([x, m, s]);
      await yieldToEventLoop();
    }
    const mean = Float32Array.from(sum, (v) => v / n);
    const variance = Float32Array.from(squares, (v, c) => Math.max(0, v / n - mean[c]! ** 2));
    const weights = bn.weights.map((w) => {
      const name = weightName(w);
      if (name.endsWith('moving_mean')) return tf.tensor1d(mean);
      if (name.endsWith('moving_variance')) return tf.tensor1d(variance);
      return w.read().clone();
    });
    bn.setWeights(weights);
    tf.dispose(weights);
  }
  return norms.length;
}
