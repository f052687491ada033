import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../data/types.js';
import { batchPixels, yieldToEventLoop } from '../predict.js';
import { SurgeryError } from './graph.js';
import { HEAD_DENSE, HEAD_POOL } from './truncate.js';
import { seededOrder } from './seeded-order.js';

/*
 * Training the new head of a truncated network while the backbone stays frozen. With the backbone
 * frozen (and batch norm in inference mode) its pooled features do not change during training, so
 * they are computed once and the head, a linear softmax layer, is fitted on them: the same
 * optimum as back-propagating through a frozen backbone, at a fraction of the cost.
 */

export interface HeadTraining {
  epochs: number;
  learningRate: number;
  batchSize: number;
  /** Seed of the example order. */
  seed: number;
}

export const DEFAULT_HEAD_TRAINING: HeadTraining = { epochs: 30, learningRate: 0.01, batchSize: 64, seed: 1 };

/** The features layer `layer` outputs for every image in `set` (N x C, row-major); default the truncated model's pooled backbone. */
export async function pooledFeatures(model: tf.LayersModel, set: ImageSet, batchSize = 64, layer = HEAD_POOL): Promise<{ data: Float32Array; width: number }> {
  const pool = model.getLayer(layer).output as tf.SymbolicTensor;
  const width = pool.shape[pool.shape.length - 1]!;
  const sub = tf.model({ inputs: model.inputs, outputs: pool });
  const data = new Float32Array(set.count * width);
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(set.count, start + batchSize);
    const x = batchPixels(set, Int32Array.from({ length: end - start }, (_, i) => start + i));
    const y = tf.tidy(() => sub.predict(x) as tf.Tensor);
    data.set(await y.data(), start * width);
    tf.dispose([x, y]);
    await yieldToEventLoop();
  }
  return { data, width };
}

/**
 * Fits the head (HEAD_DENSE, or the softmax dense layer `headLayer`) of a classifier on `train`,
 * everything before it frozen: softmax cross-entropy, Adam, weights starting at zero (the problem
 * is convex, so the start only fixes which optimum ties resolve to). Returns the last epoch's mean loss.
 */
export async function fitHead(model: tf.LayersModel, train: ImageSet, opts: HeadTraining = DEFAULT_HEAD_TRAINING, headLayer = HEAD_DENSE): Promise<number> {
  const head = model.getLayer(headLayer);
  const config = head.getConfig() as { units: number; activation?: string };
  if (head.getClassName() !== 'Dense' || config.activation !== 'softmax') throw new SurgeryError(`layer ${headLayer} is not a softmax dense layer; a head fitted here is one`);
  const inbound = (head.inboundNodes[0]!.inboundLayers[0] as tf.layers.Layer).name;
  const { data, width } = await pooledFeatures(model, train, 64, inbound);
  const classes = config.units;
  const w = tf.variable(tf.zeros([width, classes]));
  const b = tf.variable(tf.zeros([classes]));
  const optimizer = tf.train.adam(opts.learningRate);
  let epochLoss = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const idx = seededOrder(train.count, opts.seed + epoch);
      let sum = 0;
      for (let start = 0; start < train.count; start += opts.batchSize) {
        const batch = idx.subarray(start, Math.min(train.count, start + opts.batchSize));
        const xs = new Float32Array(batch.length * width);
        batch.forEach((row, r) => xs.set(data.subarray(row * width, (row + 1) * width), r * width));
        const labels = Int32Array.from(batch, (row) => train.labels[row]!);
        const loss = tf.tidy(() => {
          const x = tf.tensor2d(xs, [batch.length, width]);
          const y = tf.oneHot(tf.tensor1d(labels, 'int32'), classes);
          return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(x, w), b)) as tf.Scalar, true, [w, b])!;
        });
        sum += (await loss.data())[0]! * batch.length;
        loss.dispose();
      }
      epochLoss = sum / train.count;
      await yieldToEventLoop();
    }
    head.setWeights([w, b]);
  } finally {
    tf.dispose([w, b]);
    optimizer.dispose();
  }
  return epochLoss;
}
