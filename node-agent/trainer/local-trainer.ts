import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../shared/data/types.js';
import { currentBackend } from '../../shared/model/backend.js';
import { batchPixels, checkCompatible, predictProbabilities, yieldToEventLoop } from '../../shared/model/predict.js';
import { compileTrainingStep, type CompiledStep } from './compiled-step.js';
import { FlatOptimizer } from './flat-optimizer.js';
import { flattenTensors } from '../../shared/model/flat-weights.js';
import { setFlatWeights } from './flat-weights.js';
import { getGradientPool, shutdownTrainingWorkers, type GradientPool } from './gradient-pool.js';
import { parallelGradients } from './parallel-step.js';
import { checkProximalMu, FlatProximalTerm, TensorProximalTerm } from './proximal-term.js';
import type { TaskKind } from '../../shared/model/index.js';
import { checkTaskCompatible, targetBatch, taskLoss, type DenoisingLoss } from './task-loss.js';
import { MaskGuard, type TrainableMask } from './trainable-mask.js';

export { checkCompatible, predictProbabilities, yieldToEventLoop };

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
  /**
   * Threads computing each batch's gradients (data parallel, worker threads each with their own
   * WASM instance). Default: MEDLEY_TRAIN_THREADS, else up to 4 cores on the WASM backend and 1
   * elsewhere (native TensorFlow already uses every core).
   */
  threads?: number;
  /**
   * FedProx's mu: adds mu/2 * ||w - w_start||^2 to the loss, w_start being the trainable weights
   * as this call found them (the round's global model). 0 or absent: plain training.
   */
  proximalMu?: number;
  /** What the model learns (default classification); picks the loss and the targets. */
  task?: TaskKind;
  /** Denoising: l1 or l2 (default). */
  denoisingLoss?: DenoisingLoss;
  /**
   * Which flat weights (manifest order) may change; the rest, batch-norm running statistics of
   * frozen channels included, stay bit-identical. Absent: every weight trains.
   */
  trainableMask?: TrainableMask;
  /** L2 weight decay added to every trainable weight's gradient (coupled, as Keras/PyTorch Adam). 0 or absent: none. */
  weightDecay?: number;
}

export interface TrainResult {
  /** Mean training loss over the last epoch. */
  loss: number;
  /** Examples processed, over all epochs. */
  examples: number;
  seconds: number;
  /** Threads that computed gradients (1 unless the data-parallel fast path ran). */
  threads?: number;
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

function checkLabels(data: ImageSet): void {
  for (let i = 0; i < data.count; i++) {
    const label = data.labels[i];
    if (!(label >= 0 && label < data.classes)) throw new Error(`label ${label} of example ${i} is outside 0..${data.classes - 1}`);
  }
}

/** Smallest shard worth sending to another thread; below it messaging costs more than it saves. */
const MIN_SHARD = 8;

export function resolveThreads(requested: number | undefined, batchSize: number): number {
  const env = Number(process.env.MEDLEY_TRAIN_THREADS);
  let threads = requested ?? (Number.isInteger(env) && env > 0 ? env : undefined);
  if (threads === undefined) threads = currentBackend()?.name === 'wasm' || tf.getBackend() === 'wasm' ? Math.min(4, availableParallelism()) : 1;
  return Math.max(1, Math.min(Math.floor(threads), Math.floor(batchSize / MIN_SHARD)));
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

/** Runs one optimiser step on the examples `idx` and returns the batch's mean loss. */
interface Stepper {
  run(idx: Int32Array): Promise<number>;
  dispose(): void;
}

/** Generic path: tfjs autodiff through the layers in training mode, tfjs optimiser. */
function autodiffStepper(
  model: tf.LayersModel, data: ImageSet, kind: 'adam' | 'sgd', learningRate: number, mu: number, task: TaskKind, denoisingLoss: DenoisingLoss | undefined,
  guard: MaskGuard | null, weightDecay: number,
): Stepper {
  const optimizer = kind === 'sgd' ? tf.train.sgd(learningRate) : tf.train.adam(learningRate);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const proximal = mu > 0 ? new TensorProximalTerm(mu, vars) : null;
  return {
    async run(idx) {
      const x = batchPixels(data, idx);
      const y = targetBatch(data, idx, task);
      try {
        const loss = tf.tidy(() => {
          const { value, grads } = optimizer.computeGradients(() => {
            const p = model.apply(x, { training: true }) as tf.Tensor;
            return taskLoss(task, y, p, { denoisingLoss });
          }, vars);
          let applied = proximal ? proximal.addTo(grads) : grads;
          if (weightDecay > 0) applied = Object.fromEntries(vars.map((v) => [v.name, tf.add(applied[v.name]!, tf.mul(v, weightDecay))]));
          if (guard) applied = guard.maskNamedGradients(applied);
          optimizer.applyGradients(Object.entries(applied).map(([name, tensor]) => ({ name, tensor })));
          return value;
        });
        // The optimiser cannot move a zero-gradient element under SGD, but Adam's epsilon and any
        // rounding could; the forward pass moved frozen channels' running statistics. Put both back.
        guard?.restoreTrainableVariables();
        guard?.restoreState();
        const value = (await loss.data())[0];
        loss.dispose();
        return value;
      } finally {
        tf.dispose([x, y]);
      }
    },
    dispose: () => {
      optimizer.dispose();
      proximal?.dispose();
    },
  };
}

/**
 * Fast path: the hand-derived step (optionally data-parallel over worker threads) and a flat JS
 * optimiser. Only this function writes the trainable weights while it runs, so it keeps them in
 * one vector and writes them back after each update.
 */
function compiledStepper(
  compiled: CompiledStep, model: tf.LayersModel, data: ImageSet, kind: 'adam' | 'sgd', learningRate: number, pool: GradientPool | null, mu: number,
  guard: MaskGuard | null, weightDecay: number,
): Stepper {
  const weights = flattenTensors(compiled.variables);
  const optimizer = new FlatOptimizer(kind, learningRate, weights.length);
  // Skipped entirely at mu = 0 so plain training stays bit for bit what it was.
  const proximal = mu > 0 ? new FlatProximalTerm(mu, weights) : null;
  return {
    async run(idx) {
      let loss: number;
      let grads: Float32Array;
      if (pool && idx.length >= 2 * MIN_SHARD) {
        try {
          ({ loss, grads } = await parallelGradients(model, compiled, pool, data, idx));
        } catch (err) {
          await shutdownTrainingWorkers();
          throw err;
        }
      } else {
        const { x, y } = makeBatch(data, idx);
        const r = compiled.gradients(x, y);
        tf.dispose([x, y]);
        grads = flattenTensors(compiled.variables.map((v) => r.grads[v.name]));
        loss = r.loss.dataSync()[0];
        tf.dispose([r.loss, ...Object.values(r.grads)]);
      }
      // Both gradient paths meet here, so the data-parallel one gets the term too.
      proximal?.addTo(weights, grads);
      if (weightDecay > 0) for (let i = 0; i < grads.length; i++) grads[i] += weightDecay * weights[i];
      guard?.maskFlatGradients(grads);
      optimizer.step(weights, grads);
      guard?.restoreFlatWeights(weights);
      setFlatWeights(compiled.variables, weights);
      // Both paths updated every channel's batch-norm running statistics (the parallel one averaged them).
      guard?.restoreState();
      return loss;
    },
    dispose: () => {},
  };
}

/** Trains `model` on `data` for its task (classification unless opts.task says otherwise). */
export async function trainModel(model: tf.LayersModel, data: ImageSet, opts: TrainOptions): Promise<TrainResult> {
  const task = opts.task ?? 'classification';
  if (task === 'classification' && data.targets) {
    // A classifier would otherwise train on the summary class (any finding, mask non-empty) and look fine.
    const what = data.targets.shape.length === 1 ? `${data.targets.shape[0]} 0/1 labels per image (multi-label)` : `a ${data.targets.shape.join('x')} target image per example`;
    throw new Error(`this data set carries ${what}, not one class per image; train a model made for it (coordinator init --task multi-label, --model unet or --model dncnn)`);
  }
  if (task === 'classification') checkCompatible(model, data);
  else checkTaskCompatible(model, data, task);
  if (!(opts.epochs >= 1) || !(opts.batchSize >= 1) || !(opts.learningRate > 0)) {
    throw new Error(`invalid training options: epochs ${opts.epochs}, batchSize ${opts.batchSize}, learningRate ${opts.learningRate}`);
  }
  if (data.count === 0) throw new Error('cannot train on an empty image set');
  const mu = checkProximalMu(opts.proximalMu);
  const started = performance.now();
  const random = seededRandom(opts.seed);
  // The hand-derived step knows softmax cross-entropy only; other tasks take tfjs autodiff.
  const compiled = task === 'classification' ? compileTrainingStep(model) : null;
  if (task === 'classification') checkLabels(data);
  const threads = compiled ? resolveThreads(opts.threads, opts.batchSize) : 1;
  let pool: GradientPool | null = null;
  if (threads > 1) {
    try {
      // Topology only: the weights travel with every step.
      pool = await getGradientPool(model.toJSON(null, false) as object, tf.getBackend(), threads - 1);
    } catch {
      // Worker threads are an optimisation: if they cannot start here, train on this thread.
      pool = null;
    }
  }
  const kind = opts.optimizer ?? 'adam';
  const weightDecay = opts.weightDecay ?? 0;
  if (!(weightDecay >= 0 && Number.isFinite(weightDecay))) throw new Error(`weight decay must be a finite number >= 0, got ${weightDecay}`);
  // Snapshot of the frozen elements taken before the first step, so "frozen" means "as this call found them".
  const guard = opts.trainableMask ? new MaskGuard(model, opts.trainableMask) : null;
  const stepper = compiled
    ? compiledStepper(compiled, model, data, kind, opts.learningRate, pool, mu, guard, weightDecay)
    : autodiffStepper(model, data, kind, opts.learningRate, mu, task, opts.denoisingLoss, guard, weightDecay);
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
        const loss = await stepper.run(idx);
        lossSum += loss * idx.length;
        examples += idx.length;
        opts.onProgress?.({ epoch: epoch + 1, epochs: opts.epochs, batch: b + 1, batches, loss });
        await yieldToEventLoop();
      }
      epochLoss = lossSum / data.count;
    }
  } finally {
    stepper.dispose();
  }
  return { loss: epochLoss, examples, seconds: (performance.now() - started) / 1000, threads: pool ? pool.size + 1 : 1 };
}

/** The name callers used before task types existed; classification is still the default task. */
export const trainClassifier = trainModel;

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new Error('training was aborted');
  }
}
