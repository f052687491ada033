import * as tf from '@tensorflow/tfjs';
import { weightName } from '../layers-model-io.js';
import { SurgeryError } from './graph.js';

/** One weight's values, by the name its topology gives it (e.g. conv2/kernel). */
export interface WeightValue {
  shape: number[];
  data: Float32Array;
}

export type WeightMap = Map<string, WeightValue>;

/** Every weight of `model` (batch-norm statistics included), by stable name. */
export function readWeightMap(model: tf.LayersModel): WeightMap {
  const map: WeightMap = new Map();
  for (const w of model.weights) map.set(weightName(w), { shape: [...w.shape] as number[], data: Float32Array.from(w.read().dataSync() as Float32Array) });
  return map;
}

/**
 * Sets every weight of `model` whose name `values` holds; weights it lacks keep their initial
 * values (a new head). A value whose shape differs from the model's is refused.
 */
export function writeWeightMap(model: tf.LayersModel, values: WeightMap): void {
  const tensors = model.weights.map((w) => {
    const v = values.get(weightName(w));
    if (!v) return w.read().clone();
    if (v.shape.length !== w.shape.length || v.shape.some((d, i) => d !== w.shape[i])) {
      throw new SurgeryError(`weight ${weightName(w)} has shape [${v.shape.join(',')}] but the rebuilt model expects [${w.shape.join(',')}]`);
    }
    return tf.tensor(v.data, v.shape, 'float32');
  });
  try {
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

/** Keeps, along `axis`, only the positions `indices` (in that order). */
export function takeAlong(value: WeightValue, axis: number, indices: readonly number[]): WeightValue {
  const { shape, data } = value;
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = shape[axis]!;
  const out = new Float32Array(outer * indices.length * inner);
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const i of indices) {
      const start = (a * n + i) * inner;
      out.set(data.subarray(start, start + inner), o);
      o += inner;
    }
  }
  const newShape = [...shape];
  newShape[axis] = indices.length;
  return { shape: newShape, data: out };
}

/** Multiplies, along the last axis, element c by factors[c] (a per-channel scale). */
export function scaleLastAxis(value: WeightValue, factors: Float32Array): WeightValue {
  const c = value.shape[value.shape.length - 1]!;
  if (factors.length !== c) throw new SurgeryError(`cannot scale ${c} channels with ${factors.length} factors`);
  const data = Float32Array.from(value.data, (v, i) => v * factors[i % c]!);
  return { shape: [...value.shape], data };
}
