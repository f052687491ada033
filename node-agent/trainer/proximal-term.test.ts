import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageSet } from '../../shared/data/types.js';
import { readFlatWeights, selectBackend, weightLayout, type BackendReport } from '../../shared/model/index.js';
import { flattenTensors } from '../../shared/model/flat-weights.js';
import { randomValues } from '../../shared/model/test-helpers.js';
import { buildModel } from '../../shared/model/zoo.js';
import type { ModelHeader, Task } from '../../shared/wire/index.js';
import type { DownloadedModel } from '../connection/coordinator-client.js';
import { compileTrainingStep } from './compiled-step.js';
import { FlatOptimizer } from './flat-optimizer.js';
import { setFlatWeights } from './flat-weights.js';
import { shutdownTrainingWorkers } from './gradient-pool.js';
import { makeBatch, seededRandom, shuffledIndices, trainClassifier, type TrainOptions } from './local-trainer.js';
import { checkProximalMu } from './proximal-term.js';
import { TfjsTrainer } from './tfjs-trainer.js';

const EPS32 = 2 ** -23;

/** Noisy images whose label is whether the left half is brighter than the right. */
function leftVsRight(count: number, size: number, seed: number): ImageSet {
  const images = randomValues(count * size * size, seed).map((v) => 0.5 + 0.4 * v);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    labels[n] = n % 2;
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size / 2; c++) images[n * size * size + r * size + (labels[n] ? c : c + size / 2)] += 0.3;
    }
  }
  return { images, labels, count, height: size, width: size, channels: 1, classes: 2 };
}

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

/**
 * Flatten + softmax: the compiled step handles it, and so do the gradient workers. Fixed names keep
 * the topology identical between builds, so the worker pool (keyed by topology) is started once.
 */
function denseSoftmax(size: number): tf.LayersModel {
  return tf.sequential({
    name: 'proximal_dense',
    layers: [
      tf.layers.flatten({ name: 'proximal_flatten', inputShape: [size, size, 1] }),
      tf.layers.dense({ name: 'proximal_softmax', units: 2, activation: 'softmax', kernelInitializer: init(7), biasInitializer: 'zeros' }),
    ],
  });
}

/** A tanh hidden layer is outside the compiled step, so this one trains through tfjs autodiff. */
function tanhMlp(size: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [size, size, 1] }),
      tf.layers.dense({ units: 3, activation: 'tanh', kernelInitializer: init(8), biasInitializer: 'zeros' }),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: init(9), biasInitializer: 'zeros' }),
    ],
  });
}

function trainable(model: tf.LayersModel): Float32Array {
  return flattenTensors(model.trainableWeights.map((w) => w.read()));
}

/** Gradient of the batch-mean cross-entropy through the layers by tfjs autodiff: independent of both steppers. */
function autodiffGradient(model: tf.LayersModel, data: ImageSet, idx: Int32Array): Float32Array {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { x, y } = makeBatch(data, idx);
  const { value, grads } = tf.variableGrads(
    () => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
    vars,
  );
  const flat = flattenTensors(vars.map((v) => grads[v.name]));
  tf.dispose([x, y, value, ...Object.values(grads)]);
  return flat;
}

function l2(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

const SIZE = 4;
const COUNT = 16; // one full batch per epoch; 16 is the smallest batch the two-thread path splits

const paths = [
  { name: 'compiled step, one thread', build: denseSoftmax, threads: 1, compiled: true },
  { name: 'compiled step, two threads', build: denseSoftmax, threads: 2, compiled: true },
  { name: 'autodiff fallback', build: tanhMlp, threads: 1, compiled: false },
];

describe('FedProx proximal term', () => {
  beforeAll(async () => {
    await selectBackend();
  });
  afterAll(() => shutdownTrainingWorkers());

  it('accepts 0, absent and positive mu and names a bad one', () => {
    expect(checkProximalMu(undefined)).toBe(0);
    expect(checkProximalMu(0)).toBe(0);
    expect(checkProximalMu(0.25)).toBe(0.25);
    expect(() => checkProximalMu(-0.1)).toThrow(/proximalMu -0\.1 is not a finite number >= 0/);
    expect(() => checkProximalMu(Number.NaN)).toThrow(/proximalMu NaN/);
    expect(() => checkProximalMu(Number.POSITIVE_INFINITY)).toThrow(/proximalMu Infinity/);
    expect(() => checkProximalMu('1' as unknown as number)).toThrow(/proximalMu 1 is not/);
  });

  it('refuses to train with an invalid mu before touching the weights', async () => {
    const model = denseSoftmax(SIZE);
    const before = trainable(model);
    const data = leftVsRight(COUNT, SIZE, 1);
    await expect(trainClassifier(model, data, { epochs: 1, batchSize: COUNT, learningRate: 0.1, seed: 1, proximalMu: -1 })).rejects.toThrow(/proximalMu -1/);
    expect(trainable(model)).toEqual(before);
    model.dispose();
  });

  it.each(paths)('$name: the second SGD step is lr * (g + mu * (w - w_global))', async ({ build, threads, compiled }) => {
    const data = leftVsRight(COUNT, SIZE, 2);
    const lr = 0.5;
    const mu = 2;
    const seed = 5;
    const base: TrainOptions = { epochs: 1, batchSize: COUNT, learningRate: lr, seed, optimizer: 'sgd', threads, proximalMu: mu };

    const start = build(SIZE);
    expect(compileTrainingStep(start) !== null).toBe(compiled);
    const w0 = trainable(start);
    start.dispose();

    const afterOne = build(SIZE);
    const one = await trainClassifier(afterOne, data, base);
    expect(one.threads).toBe(threads);
    const w1 = trainable(afterOne);
    const afterTwo = build(SIZE);
    await trainClassifier(afterTwo, data, { ...base, epochs: 2 });
    const w2 = trainable(afterTwo);
    afterTwo.dispose();

    // The plain gradient at w1 on the examples the second epoch's batch holds, in its order.
    const random = seededRandom(seed);
    shuffledIndices(COUNT, random);
    const g = autodiffGradient(afterOne, data, shuffledIndices(COUNT, random));
    afterOne.dispose();

    let worst = 0;
    let withoutTerm = 0;
    for (let i = 0; i < w0.length; i++) {
      const update = w1[i] - w2[i];
      const pull = mu * (w1[i] - w0[i]);
      // w1 and w2 are float32, and so is each gradient entry: a few ulps of each magnitude.
      const tolerance = 4 * EPS32 * (Math.abs(w1[i]) + Math.abs(w2[i]) + lr * (Math.abs(g[i]) + Math.abs(pull)));
      worst = Math.max(worst, Math.abs(update - lr * (g[i] + pull)) / tolerance);
      withoutTerm = Math.max(withoutTerm, Math.abs(update - lr * g[i]) / tolerance);
    }
    expect(worst).toBeLessThanOrEqual(1);
    // The test could not tell the term apart from rounding if leaving it out were within tolerance.
    expect(withoutTerm).toBeGreaterThan(1000);
  });

  it.each(paths)('$name: mu = 0 trains exactly as with no mu', async ({ build, threads }) => {
    const data = leftVsRight(COUNT * 2, SIZE, 3);
    const opts: TrainOptions = { epochs: 2, batchSize: COUNT, learningRate: 0.05, seed: 9, threads };
    const run = async (extra: Partial<TrainOptions>) => {
      const tensors = tf.memory().numTensors;
      const model = build(SIZE);
      await trainClassifier(model, data, { ...opts, ...extra });
      const w = trainable(model);
      model.dispose();
      // The term's copy of the starting weights must go with the run.
      expect(tf.memory().numTensors).toBe(tensors);
      return w;
    };
    const plain = await run({});
    expect(await run({ proximalMu: 0 })).toEqual(plain);
    expect(await run({ proximalMu: 1 })).not.toEqual(plain);
  });

  it('mu = 0 matches the compiled step and flat Adam run by hand, batch norm included', async () => {
    const data = leftVsRight(48, 16, 4);
    const opts: TrainOptions = { epochs: 2, batchSize: 16, learningRate: 0.01, seed: 3, threads: 1, proximalMu: 0 };
    const trained = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 2 }, 6);
    await trainClassifier(trained, data, opts);

    const byHand = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 2 }, 6);
    const step = compileTrainingStep(byHand)!;
    const weights = flattenTensors(step.variables);
    const optimizer = new FlatOptimizer('adam', opts.learningRate, weights.length);
    const random = seededRandom(opts.seed);
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      const order = shuffledIndices(data.count, random);
      for (let b = 0; b < data.count; b += opts.batchSize) {
        const { x, y } = makeBatch(data, order.subarray(b, b + opts.batchSize));
        const { loss, grads } = step.gradients(x, y);
        const flat = flattenTensors(step.variables.map((v) => grads[v.name]));
        tf.dispose([x, y, loss, ...Object.values(grads)]);
        optimizer.step(weights, flat);
        setFlatWeights(step.variables, weights);
      }
    }
    // All weights, moving statistics too, so the term is seen to leave nothing else changed.
    expect(readFlatWeights(trained)).toEqual(readFlatWeights(byHand));
    trained.dispose();
    byHand.dispose();
  });

  it('a large mu keeps the trained delta much closer to the global model', async () => {
    const size = 16;
    const net = buildModel({ arch: 'cnn-small', inputShape: [size, size, 1], classes: 2 }, 10);
    const layout = weightLayout(net);
    const downloaded: DownloadedModel = {
      version: 1,
      topology: net.toJSON(null, false) as unknown as Record<string, unknown>,
      spec: {},
      header: { tensors: layout.specs, totalBytes: layout.totalBytes } as ModelHeader,
      weights: readFlatWeights(net),
    };
    net.dispose();
    const site = { train: leftVsRight(64, size, 11), val: leftVsRight(16, size, 12), source: 'test' };
    const trainer = new TfjsTrainer(site, { name: tf.getBackend() } as BackendReport);
    const task = (proximalMu: number): Task => ({
      taskId: 't', federation: 'f', round: 1, modelVersion: 1, method: 'train', epochs: 3, batchSize: 16,
      learningRate: 0.01, deadlineUnixMs: 0, seed: 21, sessionId: 's', proximalMu,
    });
    const signal = new AbortController().signal;
    const free = await trainer.train(downloaded, task(0), () => {}, signal);
    const held = await trainer.train(downloaded, task(10), () => {}, signal);
    const [freeNorm, heldNorm] = [l2(free.delta), l2(held.delta)];
    expect(freeNorm).toBeGreaterThan(0);
    expect(heldNorm).toBeLessThan(0.5 * freeNorm);
    await expect(trainer.train(downloaded, task(Number.NaN), () => {}, signal)).rejects.toThrow(/proximalMu NaN/);
  });
});
