import * as tf from '@tensorflow/tfjs';
import type { DistillTask } from './payload.js';

/** The transfer set's images as a model reads them: float32 NHWC in [0, 1]. No labels: it is unlabelled. */
export interface TransferImages {
  images: Float32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

export interface DistillOptions {
  task: DistillTask;
  /** Classification: the distillation temperature T of the KL term (Hinton et al.); the loss is T^2 KL(q_T || p_T). */
  temperature: number;
  /** Segmentation: a pixel is foreground in the target mask when its aggregated probability is at least this. */
  threshold: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  signal?: AbortSignal;
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface DistillResult {
  /** Mean loss over the last epoch. */
  loss: number;
  seconds: number;
}

const EPS = 1e-7;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function batchOf(set: TransferImages, idx: ArrayLike<number>): tf.Tensor4D {
  const per = set.height * set.width * set.channels;
  const out = new Float32Array(idx.length * per);
  for (let i = 0; i < idx.length; i++) out.set(set.images.subarray(idx[i]! * per, (idx[i]! + 1) * per), i * per);
  return tf.tensor4d(out, [idx.length, set.height, set.width, set.channels]);
}

/** Seeded shuffles (mulberry32), so a distillation run is reproducible. */
function shuffled(count: number, seed: number): Int32Array {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const idx = Int32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

/** softmax(log q / T) row by row: the teacher's distribution at temperature T (T = 1 leaves it as is). */
function tempered(q: Float32Array, classes: number, temperature: number): Float32Array {
  const out = new Float32Array(q.length);
  for (let r = 0; r < q.length; r += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, Math.log(Math.max(q[r + c]!, EPS)) / temperature);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += out[r + c] = Math.exp(Math.log(Math.max(q[r + c]!, EPS)) / temperature - max);
    for (let c = 0; c < classes; c++) out[r + c] = out[r + c]! / sum;
  }
  return out;
}

/** T^2 KL(q_T || p_T), p_T = softmax(log p / T), averaged over the batch. The model outputs probabilities, so logits are log p. */
function klLoss(qT: tf.Tensor2D, p: tf.Tensor, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const logpT = tf.logSoftmax(tf.div(tf.log(tf.clipByValue(p, EPS, 1)), temperature));
    const kl = tf.sum(tf.mul(qT, tf.sub(tf.log(tf.clipByValue(qT, EPS, 1)), logpT)), -1);
    return tf.mul(tf.mean(kl), temperature * temperature) as tf.Scalar;
  });
}

/** Binary cross-entropy plus soft Dice against a 0/1 mask, the segmentation loss the sites train with. */
function maskLoss(mask: tf.Tensor, p: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const q = tf.clipByValue(p, EPS, 1 - EPS);
    const bce = tf.neg(tf.mean(tf.add(tf.mul(mask, tf.log(q)), tf.mul(tf.sub(1, mask), tf.log(tf.sub(1, q))))));
    const n = mask.shape[0]!;
    const y = tf.reshape(mask, [n, -1]);
    const s = tf.reshape(p, [n, -1]);
    const dice = tf.div(tf.add(tf.mul(tf.sum(tf.mul(y, s), 1), 2), 1), tf.add(tf.add(tf.sum(y, 1), tf.sum(s, 1)), 1));
    return tf.add(bce, tf.sub(1, tf.mean(dice))) as tf.Scalar;
  });
}

/**
 * Trains `model` on the transfer set's images against soft labels (rows x classes, the layout of
 * softLabelLayout): KL at a temperature for a classifier, the thresholded masks for a segmentation
 * model. Every trainable weight moves (Adam); batch norm trains in training mode.
 */
export async function distillModel(model: tf.LayersModel, set: TransferImages, softLabels: Float32Array, opts: DistillOptions): Promise<DistillResult> {
  const started = performance.now();
  const perImage = softLabels.length / set.count;
  if (!Number.isInteger(perImage) || perImage < 1) throw new Error(`${softLabels.length} soft-label values do not divide into the transfer set's ${set.count} images`);
  if (!(opts.epochs >= 1) || !(opts.batchSize >= 1) || !(opts.learningRate > 0) || !(opts.temperature > 0)) {
    throw new Error(`invalid distillation options: epochs ${opts.epochs}, batch size ${opts.batchSize}, learning rate ${opts.learningRate}, temperature ${opts.temperature}`);
  }
  const outShape = model.outputs[0]!.shape.slice(1) as number[];
  let targets: Float32Array;
  let targetShape: number[];
  if (opts.task === 'classification') {
    if (outShape.length !== 1 || outShape[0] !== perImage) throw new Error(`the model outputs ${outShape.join('x')} per image; the soft labels have ${perImage} classes per image`);
    targets = tempered(softLabels, perImage, opts.temperature);
    targetShape = [perImage];
  } else {
    const pixels = outShape.reduce((a, b) => a * b, 1);
    if (outShape[outShape.length - 1] !== 1 || pixels * 2 !== perImage) throw new Error(`the segmentation model outputs ${outShape.join('x')} per image; the soft labels have ${perImage / 2} pixels per image`);
    targets = new Float32Array(set.count * pixels);
    for (let i = 0; i < targets.length; i++) targets[i] = softLabels[2 * i + 1]! >= opts.threshold ? 1 : 0;
    targetShape = outShape;
  }
  const per = targetShape.reduce((a, b) => a * b, 1);
  const optimizer = tf.train.adam(opts.learningRate);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let epochLoss = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = shuffled(set.count, opts.seed + epoch * 7919);
      let sum = 0;
      for (let start = 0; start < set.count; start += opts.batchSize) {
        if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error('distillation was aborted');
        const idx = order.subarray(start, Math.min(set.count, start + opts.batchSize));
        const x = batchOf(set, idx);
        const yData = new Float32Array(idx.length * per);
        for (let i = 0; i < idx.length; i++) yData.set(targets.subarray(idx[i]! * per, (idx[i]! + 1) * per), i * per);
        const y = tf.tensor(yData, [idx.length, ...targetShape]);
        try {
          const loss = optimizer.minimize(() => {
            const p = model.apply(x, { training: true }) as tf.Tensor;
            return opts.task === 'classification' ? klLoss(y as tf.Tensor2D, p, opts.temperature) : maskLoss(y, p);
          }, true, vars)!;
          sum += (await loss.data())[0]! * idx.length;
          loss.dispose();
        } finally {
          tf.dispose([x, y]);
        }
        await yieldToEventLoop();
      }
      epochLoss = sum / set.count;
      opts.onEpoch?.(epoch + 1, epochLoss);
    }
  } finally {
    optimizer.dispose();
  }
  return { loss: epochLoss, seconds: (performance.now() - started) / 1000 };
}

/**
 * The model's soft labels on the transfer set, rows x classes (inference mode): its class
 * probabilities per image, or (1 - p, p) per pixel for a one-channel sigmoid mask.
 */
export async function predictSoftLabels(model: tf.LayersModel, set: TransferImages, task: DistillTask, batchSize = 64): Promise<Float32Array> {
  const [, h, w, c] = model.inputs[0]!.shape;
  if (h !== set.height || w !== set.width || c !== set.channels) {
    throw new Error(`the model takes ${h}x${w}x${c} images; the transfer set's are ${set.height}x${set.width}x${set.channels}`);
  }
  const per = (model.outputs[0]!.shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
  const out = new Float32Array(set.count * per * (task === 'segmentation' ? 2 : 1));
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(set.count, start + batchSize);
    const x = batchOf(set, Int32Array.from({ length: end - start }, (_, i) => start + i));
    const p = tf.tidy(() => model.predict(x) as tf.Tensor);
    const values = await p.data();
    tf.dispose([x, p]);
    if (task === 'classification') {
      out.set(values, start * per);
    } else {
      for (let i = 0; i < values.length; i++) {
        const fg = Math.min(1, Math.max(0, values[i]!));
        out[2 * (start * per + i)] = 1 - fg;
        out[2 * (start * per + i) + 1] = fg;
      }
    }
    await yieldToEventLoop();
  }
  if (task === 'classification') {
    // float32 softmax rows can sum to 1 +- a few ulps; renormalise so the edge's check is about bugs, not rounding.
    for (let r = 0; r < out.length; r += per) {
      let s = 0;
      for (let k = 0; k < per; k++) s += out[r + k]!;
      for (let k = 0; k < per; k++) out[r + k] = out[r + k]! / s;
    }
  }
  return out;
}
