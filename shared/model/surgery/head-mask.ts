import type * as tf from '@tensorflow/tfjs';
import { TrainableMaskBuilder, type TrainableMask } from '../trainable-mask.js';
import { SurgeryError } from './graph.js';
import { HEAD_POOL } from './truncate.js';

/**
 * The trainable mask of truncated fine-tuning: every weight of the layers from index `trainFrom`
 * (in `model.layers` order) on may change, everything before stays frozen (batch-norm running
 * statistics included). trainFrom -1 means the new head that `medley model truncate` put on (its
 * pooling layer, truncated_pool), or, for a model without one, the last layer with weights.
 */
export function headTrainingMask(model: tf.LayersModel, trainFrom: number): { mask: TrainableMask; from: number } {
  const layers = model.layers;
  let from = trainFrom;
  if (trainFrom === -1) {
    from = layers.findIndex((l) => l.name === HEAD_POOL);
    if (from < 0) from = layers.map((l, i) => (l.weights.length > 0 ? i : -1)).filter((i) => i >= 0).at(-1) ?? -1;
  }
  if (!Number.isInteger(from) || from < 0 || from >= layers.length) {
    throw new SurgeryError(`trainFrom ${trainFrom} is out of range: model ${model.name} has layers 0..${layers.length - 1} (${layers.map((l, i) => `${i}=${l.name}`).join(', ')})`);
  }
  const builder = new TrainableMaskBuilder(model, 0);
  let open = 0;
  for (const layer of layers.slice(from)) {
    if (layer.weights.length === 0) continue;
    builder.setLayer(layer.name, 1);
    open++;
  }
  if (open === 0) throw new SurgeryError(`no layer from index ${from} (${layers[from]!.name}) on has weights, so nothing would train; choose a smaller trainFrom`);
  return { mask: builder.build(), from };
}
