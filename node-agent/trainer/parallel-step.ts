import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../shared/data/types.js';
import type { CompiledStep } from './compiled-step.js';
import { flattenTensors } from '../../shared/model/flat-weights.js';
import { setFlatWeights } from './flat-weights.js';
import type { GradientPool } from './gradient-pool.js';

/*
 * One data-parallel optimiser step: the batch is split into shards, this thread computes the first
 * while pool workers compute the rest from the same weights, and the shard gradients are averaged
 * (weighted by shard size, so the result is the gradient of the batch-mean loss) before a single
 * optimiser update here. Batch-norm statistics are per shard, as in data-parallel PyTorch without
 * SyncBatchNorm; the moving statistics are averaged the same way.
 */

function shardPayload(data: ImageSet, indices: ArrayLike<number>) {
  const per = data.height * data.width * data.channels;
  const pixels = new Float32Array(indices.length * per);
  const onehot = new Float32Array(indices.length * data.classes);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    pixels.set(data.images.subarray(k * per, (k + 1) * per), i * per);
    onehot[i * data.classes + data.labels[k]] = 1;
  }
  return { pixels, onehot, shape: [indices.length, data.height, data.width, data.channels] as [number, number, number, number], classes: data.classes };
}

/** Splits `idx` into `parts` contiguous shards whose sizes differ by at most one. */
export function splitShards(idx: Int32Array, parts: number): Int32Array[] {
  const out: Int32Array[] = [];
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const len = Math.floor(idx.length / parts) + (p < idx.length % parts ? 1 : 0);
    if (len > 0) out.push(idx.subarray(start, start + len));
    start += len;
  }
  return out;
}

/**
 * Gradient of the batch-mean loss over `idx` (flat, in `compiled.variables` order) and that loss,
 * computed data-parallel; leaves the model's batch-norm moving statistics averaged over shards.
 */
export async function parallelGradients(
  model: tf.LayersModel, compiled: CompiledStep, pool: GradientPool, data: ImageSet, idx: Int32Array,
): Promise<{ loss: number; grads: Float32Array }> {
  const shards = splitShards(idx, pool.size + 1);
  const weights = flattenTensors(model.weights.map((w) => w.read()));
  const pending = pool.step(weights, shards.slice(1).map((s) => shardPayload(data, s)));

  const own = shardPayload(data, shards[0]);
  const x = tf.tensor4d(own.pixels, own.shape);
  const y = tf.tensor2d(own.onehot, [shards[0].length, data.classes]);
  const { loss, grads: named } = compiled.gradients(x, y);
  tf.dispose([x, y]);
  const grads = flattenTensors(compiled.variables.map((v) => named[v.name]));
  let lossSum = loss.dataSync()[0] * shards[0].length;
  tf.dispose([loss, ...Object.values(named)]);
  const stateVars = model.nonTrainableWeights.map((w) => w.read() as tf.Variable);
  const state = flattenTensors(stateVars);

  const replies = await Promise.all(pending);
  const n = idx.length;
  const w0 = shards[0].length / n;
  for (let i = 0; i < grads.length; i++) grads[i] *= w0;
  for (let i = 0; i < state.length; i++) state[i] *= w0;
  replies.forEach((r, k) => {
    const wk = shards[k + 1].length / n;
    for (let i = 0; i < grads.length; i++) grads[i] += wk * r.grads[i];
    for (let i = 0; i < state.length; i++) state[i] += wk * r.state[i];
    lossSum += r.loss * shards[k + 1].length;
  });
  if (stateVars.length) setFlatWeights(stateVars, state);
  return { loss: lossSum / n, grads };
}
