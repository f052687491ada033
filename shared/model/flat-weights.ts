import * as tf from '@tensorflow/tfjs';
import { layoutTensors } from '../wire/tensor-codec.js';
import type { TensorSpec } from '../wire/messages.js';

/**
 * Moves a LayersModel's weights to and from the flat float32 layout of the wire (manifest order
 * = `model.weights` order, trainable and non-trainable alike, so batch-norm statistics travel
 * too). Weights are matched by position and checked by shape: TF.js may rename variables when a
 * process builds the same architecture twice, but the order of a topology never changes.
 */

export function weightLayout(model: tf.LayersModel): { specs: TensorSpec[]; totalBytes: number } {
  return layoutTensors(model.weights.map((w) => ({ name: w.originalName ?? w.name, shape: [...w.shape] as number[], dtype: w.dtype })));
}

export function readFlatWeights(model: tf.LayersModel): Float32Array {
  return flattenTensors(model.getWeights());
}

/** Concatenates the values of `tensors`, in order, into one Float32Array. */
export function flattenTensors(tensors: readonly tf.Tensor[]): Float32Array {
  const out = new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
  let offset = 0;
  for (const t of tensors) {
    out.set(t.dataSync() as Float32Array, offset);
    offset += t.size;
  }
  return out;
}

export function writeFlatWeights(model: tf.LayersModel, specs: readonly TensorSpec[], flat: Float32Array): void {
  const weights = model.weights;
  if (weights.length !== specs.length) {
    throw new Error(`model has ${weights.length} weight tensors, the transferred weights ${specs.length}; the topology and weights do not belong together`);
  }
  const tensors = specs.map((spec, i) => {
    const shape = weights[i]!.shape as number[];
    if (shape.length !== spec.shape.length || shape.some((d, j) => d !== spec.shape[j])) {
      throw new Error(`weight ${i} (${spec.name}) has shape [${spec.shape.join(',')}], the model expects [${shape.join(',')}]`);
    }
    return tf.tensor(flat.subarray(spec.offset / 4, (spec.offset + spec.byteLength) / 4), shape, 'float32');
  });
  try {
    model.setWeights(tensors);
  } finally {
    for (const t of tensors) t.dispose();
  }
}

/** Rebuilds a model from the topology a coordinator hands out (`model.toJSON(null, false)`). */
export async function modelFromTopologyJson(topology: Record<string, unknown>): Promise<tf.LayersModel> {
  return tf.models.modelFromJSON({ modelTopology: topology } as unknown as tf.io.ModelJSON);
}
