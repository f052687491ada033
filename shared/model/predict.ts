import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../data/types.js';

/** Lets timers and sockets (gRPC heartbeats) run between batches of synchronous WASM work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Throws a readable error unless `model` takes `set`'s images and predicts its number of classes. */
export function checkCompatible(model: tf.LayersModel, set: ImageSet): void {
  const [, h, w, c] = model.inputs[0].shape;
  if (h !== set.height || w !== set.width || c !== set.channels) {
    throw new Error(
      `model expects ${h}x${w}x${c} images but the data set has ${set.height}x${set.width}x${set.channels}; ` +
        `build the model with inputShape [${set.height}, ${set.width}, ${set.channels}] or resize the data`,
    );
  }
  const outShape = model.outputs[0].shape;
  const units = outShape[outShape.length - 1];
  if (units !== set.classes) {
    throw new Error(`model has ${units} output classes but the data set has ${set.classes}`);
  }
  if (set.images.length !== set.count * h! * w! * c! || set.labels.length !== set.count) {
    throw new Error(`image set is inconsistent: ${set.count} examples but ${set.images.length} pixel values and ${set.labels.length} labels`);
  }
}

/** Copies the selected examples into one NHWC batch tensor. */
export function batchPixels(set: ImageSet, indices: ArrayLike<number>): tf.Tensor4D {
  const per = set.height * set.width * set.channels;
  const pixels = new Float32Array(indices.length * per);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    pixels.set(set.images.subarray(k * per, (k + 1) * per), i * per);
  }
  return tf.tensor4d(pixels, [indices.length, set.height, set.width, set.channels]);
}

/**
 * Class probabilities for every example, N x classes row-major, in inference mode (batch-norm
 * moving statistics, no dropout). For a binary task the AUROC score is column 1.
 */
export async function predictProbabilities(model: tf.LayersModel, set: ImageSet, batchSize = 64): Promise<Float32Array> {
  checkCompatible(model, set);
  const out = new Float32Array(set.count * set.classes);
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(set.count, start + batchSize);
    const x = batchPixels(set, Int32Array.from({ length: end - start }, (_, i) => start + i));
    const p = tf.tidy(() => model.predict(x) as tf.Tensor);
    x.dispose();
    out.set(await p.data(), start * set.classes);
    p.dispose();
    await yieldToEventLoop();
  }
  return out;
}
