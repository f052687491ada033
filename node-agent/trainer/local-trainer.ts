import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../shared/data/types.js';
import { compileTrainingStep, type CompiledStep } from './compiled-step.js';

export interface TrainProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  optimizer?: 'adam' | 'sgd';
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
}

export interface TrainResult {
  /** Mean training loss over the last epoch. */
  loss: number;
  /** Examples processed, over all epochs. */
  examples: number;
  seconds: number;
}

/** Small, fast, seedable PRNG (mulberry32) so shuffles are reproducible across sites and runs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffledIndices(count: number, random: () => number): Int32Array {
  const idx = new Int32Array(count);
  for (let i = 0; i < count; i++) idx[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx;
}

/** Lets timers and sockets (gRPC heartbeats) run between batches of synchronous WASM work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function checkCompatible(model: tf.LayersModel, data: ImageSet): void {
  const [, h, w, c] = model.inputs[0].shape;
  if (h !== data.height || w !== data.width || c !== data.channels) {
    throw new Error(
      `model expects ${h}x${w}x${c} images but the data set has ${data.height}x${data.width}x${data.channels}; ` +
        `build the model with inputShape [${data.height}, ${data.width}, ${data.channels}] or resize the data`,
    );
  }
  const units = model.outputs[0].shape[model.outputs[0].shape.length - 1];
  if (units !== data.classes) {
    throw new Error(`model has ${units} output classes but the data set has ${data.classes}`);
  }
  if (data.images.length !== data.count * h * w * c || data.labels.length !== data.count) {
    throw new Error(`image set is inconsistent: ${data.count} examples but ${data.images.length} pixels and ${data.labels.length} labels`);
  }
}

function batchPixels(data: ImageSet, indices: ArrayLike<number>): tf.Tensor4D {
  const per = data.height * data.width * data.channels;
  const pixels = new Float32Array(indices.length * per);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    pixels.set(data.images.subarray(k * per, (k + 1) * per), i * per);
  }
  return tf.tensor4d(pixels, [indices.length, data.height, data.width, data.channels]);
}

/** Copies the selected examples into one NHWC batch tensor and a one-hot label tensor. */
export function makeBatch(data: ImageSet, indices: ArrayLike<number>): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const onehot = new Float32Array(indices.length * data.classes);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    const label = data.labels[k];
    if (label < 0 || label >= data.classes) throw new Error(`label ${label} of example ${k} is outside 0..${data.classes - 1}`);
    onehot[i * data.classes + label] = 1;
  }
  return { x: batchPixels(data, indices), y: tf.tensor2d(onehot, [indices.length, data.classes]) };
}

export function makeOptimizer(kind: 'adam' | 'sgd', learningRate: number): tf.Optimizer {
  return kind === 'sgd' ? tf.train.sgd(learningRate) : tf.train.adam(learningRate);
}

/**
 * One optimiser step. Uses the hand-derived step when the model's layers allow it (several times
 * faster on WASM), otherwise tfjs autodiff through the layers in training mode.
 */
export function trainBatch(
  model: tf.LayersModel, optimizer: tf.Optimizer, compiled: CompiledStep | null, x: tf.Tensor, y: tf.Tensor,
): tf.Scalar {
  if (compiled) {
    const { loss, grads } = compiled.gradients(x, y);
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    return loss;
  }
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return tf.tidy(() =>
    optimizer.minimize(() => {
      const p = model.apply(x, { training: true }) as tf.Tensor;
      return tf.mean(tf.metrics.categoricalCrossentropy(y, p)) as tf.Scalar;
    }, true, vars)!,
  );
}

export async function trainClassifier(model: tf.LayersModel, data: ImageSet, opts: TrainOptions): Promise<TrainResult> {
  checkCompatible(model, data);
  if (!(opts.epochs >= 1) || !(opts.batchSize >= 1) || !(opts.learningRate > 0)) {
    throw new Error(`invalid training options: epochs ${opts.epochs}, batchSize ${opts.batchSize}, learningRate ${opts.learningRate}`);
  }
  if (data.count === 0) throw new Error('cannot train on an empty image set');
  const started = performance.now();
  const random = seededRandom(opts.seed);
  const optimizer = makeOptimizer(opts.optimizer ?? 'adam', opts.learningRate);
  const compiled = compileTrainingStep(model);
  const batches = Math.ceil(data.count / opts.batchSize);
  let examples = 0;
  let epochLoss = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = shuffledIndices(data.count, random);
      let lossSum = 0;
      for (let b = 0; b < batches; b++) {
        throwIfAborted(opts.signal);
        const idx = order.subarray(b * opts.batchSize, Math.min(data.count, (b + 1) * opts.batchSize));
        const { x, y } = makeBatch(data, idx);
        let loss: number;
        try {
          const lossT = trainBatch(model, optimizer, compiled, x, y);
          loss = (await lossT.data())[0];
          lossT.dispose();
        } finally {
          x.dispose();
          y.dispose();
        }
        lossSum += loss * idx.length;
        examples += idx.length;
        opts.onProgress?.({ epoch: epoch + 1, epochs: opts.epochs, batch: b + 1, batches, loss });
        await yieldToEventLoop();
      }
      epochLoss = lossSum / data.count;
    }
  } finally {
    optimizer.dispose();
  }
  return { loss: epochLoss, examples, seconds: (performance.now() - started) / 1000 };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new Error('training was aborted');
  }
}

/** Class probabilities for every example, N x classes row-major (inference mode). */
export async function predictProbabilities(model: tf.LayersModel, set: ImageSet, batchSize = 64): Promise<Float32Array> {
  checkCompatible(model, set);
  const out = new Float32Array(set.count * set.classes);
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(set.count, start + batchSize);
    const idx = Int32Array.from({ length: end - start }, (_, i) => start + i);
    const x = batchPixels(set, idx);
    const p = tf.tidy(() => model.predict(x) as tf.Tensor);
    x.dispose();
    out.set(await p.data(), start * set.classes);
    p.dispose();
    await yieldToEventLoop();
  }
  return out;
}
