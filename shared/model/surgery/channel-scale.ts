import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../data/types.js';
import { batchPixels, yieldToEventLoop } from '../predict.js';
import { readGraph, SurgeryError } from './graph.js';
import type { PrunePlan } from './prune-plan.js';
import { seededOrder } from './seeded-order.js';

/*
 * Channel scaling (Wong, Kashyap, Moradi, ISBI 2021): a multiplicative scale per output channel
 * of each prunable conv (after its batch norm when one follows), initialised to 1, trained with an
 * L1 penalty while every weight of the network stays fixed. The network runs in inference mode
 * (batch norm uses its running statistics, dropout is off), so the frozen layers compute exactly
 * what they compute when deployed; only the scale variables are handed to the optimiser, which is
 * what keeps the conv weights frozen.
 *
 * The L1 term is applied as a proximal step (soft-thresholding after each gradient step on the
 * loss): a channel whose loss gradient stays under the penalty lands on exactly 0 instead of
 * hovering around it, so "under the threshold" means what it says.
 */

export interface ScaleTraining {
  /** Weight of the L1 penalty on the scales (sum of |s| over all channels). */
  l1: number;
  epochs: number;
  /** Step size of the (proximal) gradient descent on the scales. */
  learningRate: number;
  batchSize: number;
  seed: number;
  signal?: AbortSignal;
}

/** What pruned cnn-small on PneumoniaMNIST by 92% within 0.01 AUROC (bench prune, with the cycle's backoff 0.7 from 0.01). */
export const DEFAULT_SCALE_TRAINING: Omit<ScaleTraining, 'signal'> = { l1: 0.01, epochs: 3, learningRate: 1, batchSize: 16, seed: 1 };

/** The network's output with scales multiplied in after each unit's `scaleAfter` layer (inference mode). */
export function scaledForward(model: tf.LayersModel, plan: PrunePlan, scales: ReadonlyMap<string, tf.Tensor1D>, x: tf.Tensor): tf.Tensor {
  const graph = readGraph(model);
  const scaleAt = new Map(plan.units.map((u) => [u.scaleAfter, scales.get(u.conv)!]));
  const values = new Map<string, tf.Tensor>();
  for (const node of graph.layers) {
    if (node.className === 'InputLayer') {
      values.set(node.name, x);
      continue;
    }
    const inputs = node.inbound.map((n) => values.get(n)!);
    let out = model.getLayer(node.name).apply(inputs.length === 1 ? inputs[0]! : inputs, { training: false }) as tf.Tensor;
    const s = scaleAt.get(node.name);
    if (s) out = tf.mul(out, s);
    values.set(node.name, out);
  }
  return values.get(graph.outputs[0]!)!;
}

export function checkScaleTraining(opts: ScaleTraining): void {
  if (!(opts.l1 >= 0) || !Number.isFinite(opts.l1)) throw new SurgeryError(`the L1 penalty must be a number >= 0, got ${opts.l1}`);
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new SurgeryError(`scale training epochs must be an integer >= 1, got ${opts.epochs}`);
  if (!(opts.learningRate > 0) || !Number.isFinite(opts.learningRate)) throw new SurgeryError(`scale learning rate must be > 0, got ${opts.learningRate}`);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new SurgeryError(`scale batch size must be an integer >= 1, got ${opts.batchSize}`);
}

/**
 * Trains one scale per output channel of every unit in `plan` on `train` (classification: cross-entropy
 * of the model's class probabilities), everything else frozen. Returns the trained scales by conv name.
 */
export async function trainScales(model: tf.LayersModel, plan: PrunePlan, train: ImageSet, opts: ScaleTraining): Promise<Map<string, Float32Array>> {
  checkScaleTraining(opts);
  if (train.targets) throw new SurgeryError('channel scaling trains on class labels; this data set carries per-example targets (segmentation, denoising or multi-label)');
  if (train.count === 0) throw new SurgeryError('channel scaling needs training images; the set is empty');
  const classes = model.outputs[0]!.shape[model.outputs[0]!.shape.length - 1]!;
  const scales = new Map(plan.units.map((u) => [u.conv, tf.variable(tf.ones([u.channels]), true, `channel_scale_${u.conv}`) as tf.Variable<tf.Rank.R1>]));
  const shrink = opts.learningRate * opts.l1;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = seededOrder(train.count, opts.seed * 7919 + epoch);
      for (let start = 0; start < train.count; start += opts.batchSize) {
        opts.signal?.throwIfAborted();
        const idx = order.subarray(start, Math.min(train.count, start + opts.batchSize));
        const x = batchPixels(train, idx);
        const y = tf.oneHot(tf.tensor1d(Int32Array.from(idx, (i) => train.labels[i]!), 'int32'), classes);
        const { grads } = tf.variableGrads(() => {
          const p = tf.clipByValue(scaledForward(model, plan, scales, x), 1e-7, 1);
          return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(p)), -1))) as tf.Scalar;
        }, [...scales.values()]);
        tf.tidy(() => {
          for (const s of scales.values()) {
            const g = grads[s.name]!;
            // Gradient step on the loss, then the L1 proximal step: sign(v) * max(|v| - lr * l1, 0).
            const v = tf.sub(s, tf.mul(g, opts.learningRate));
            s.assign(tf.mul(tf.sign(v), tf.relu(tf.sub(tf.abs(v), shrink))) as tf.Tensor1D);
          }
        });
        tf.dispose([x, y, ...Object.values(grads)]);
        await yieldToEventLoop();
      }
    }
    return new Map([...scales].map(([conv, s]) => [conv, Float32Array.from(s.dataSync() as Float32Array)]));
  } finally {
    for (const s of scales.values()) s.dispose();
  }
}
