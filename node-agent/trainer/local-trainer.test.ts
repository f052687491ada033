import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageSet } from '../../shared/data/types.js';
import { selectBackend } from '../../shared/model/backend.js';
import { getNamedWeights } from '../../shared/model/layers-model-io.js';
import { randomValues, relativeError } from '../../shared/model/test-helpers.js';
import { buildModel, type Architecture } from '../../shared/model/zoo.js';
import { compileTrainingStep } from './compiled-step.js';
import { shutdownTrainingWorkers } from './gradient-pool.js';
import { predictProbabilities, trainClassifier } from './local-trainer.js';

const SIZE = 16;

/** Bright images with a bright blob are class 1, dim noisy ones class 0. */
function brightVsDark(count: number, seed: number): ImageSet {
  const noise = randomValues(count * SIZE * SIZE, seed);
  const images = new Float32Array(count * SIZE * SIZE);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    labels[n] = n % 2;
    for (let i = 0; i < SIZE * SIZE; i++) {
      const base = labels[n] === 1 ? 0.65 : 0.35;
      images[n * SIZE * SIZE + i] = Math.min(1, Math.max(0, base + 0.25 * noise[n * SIZE * SIZE + i]));
    }
  }
  return { images, labels, count, height: SIZE, width: SIZE, channels: 1, classes: 2 };
}

function accuracy(probs: Float32Array, labels: Int32Array): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if ((probs[2 * i + 1] > probs[2 * i] ? 1 : 0) === labels[i]) ok++;
  return ok / labels.length;
}

const opts = { epochs: 2, batchSize: 16, learningRate: 0.01, seed: 11, threads: 1 };

describe('local trainer', () => {
  beforeAll(async () => {
    await selectBackend();
  });
  afterAll(() => shutdownTrainingWorkers());

  it('drives loss down and accuracy up on a separable set without leaking tensors', async () => {
    const train = brightVsDark(96, 1);
    const val = brightVsDark(40, 2);
    const model = buildModel({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 2 }, 1);
    const baseline = tf.memory().numTensors;
    // WASM kernels that bypass the engine would leak backend buffers without changing numTensors.
    const buffers = tf.backend().numDataIds();
    const losses: number[] = [];
    const result = await trainClassifier(model, train, { ...opts, epochs: 3, onProgress: (p) => losses.push(p.loss) });
    const probs = await predictProbabilities(model, val);
    expect(tf.memory().numTensors).toBe(baseline);
    expect(tf.backend().numDataIds()).toBe(buffers);
    expect(result.examples).toBe(3 * 96);
    expect(losses.length).toBe(3 * 6);
    expect(result.loss).toBeLessThan(losses[0] * 0.7);
    expect(probs.length).toBe(40 * 2);
    expect(accuracy(probs, val.labels)).toBeGreaterThanOrEqual(0.9);
    model.dispose();
  });

  it('is deterministic for a seed', async () => {
    const data = brightVsDark(48, 3);
    const run = async () => {
      const model = buildModel({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 2 }, 2);
      await trainClassifier(model, data, opts);
      const w = getNamedWeights(model);
      model.dispose();
      return w;
    };
    const [a, b] = [await run(), await run()];
    a.forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(b[i].data)));
  });

  it.each<Architecture>(['cnn-small', 'resnet-mini'])('hand-derived %s step matches autodiff through the layers', async (arch) => {
    const model = buildModel({ arch, inputShape: [SIZE, SIZE, 1], classes: 2 }, 3);
    const data = brightVsDark(6, 4);
    const x = tf.tensor4d(data.images, [6, SIZE, SIZE, 1]);
    const y = tf.oneHot(tf.tensor1d(data.labels, 'int32'), 2);
    const step = compileTrainingStep(model)!;
    expect(step).not.toBeNull();
    const statsBefore = model.nonTrainableWeights.map((w) => w.read().clone());

    const { loss, grads } = step.gradients(x, y);
    const statsCompiled = model.nonTrainableWeights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
    model.nonTrainableWeights.forEach((w, i) => (w.read() as tf.Variable).assign(statsBefore[i]));
    const auto = tf.variableGrads(() => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, step.variables);
    const statsAuto = model.nonTrainableWeights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));

    expect(loss.dataSync()[0]).toBeCloseTo(auto.value.dataSync()[0], 5);
    for (const v of step.variables) {
      // Biases feeding batch norm have zero gradient analytically; compare those absolutely.
      const a = grads[v.name].dataSync() as Float32Array;
      const b = auto.grads[v.name].dataSync() as Float32Array;
      if (Math.max(...b.map(Math.abs)) < 1e-6) expect(Math.max(...a.map(Math.abs))).toBeLessThan(1e-5);
      else expect(relativeError(a, b)).toBeLessThan(2e-4);
    }
    statsCompiled.forEach((s, i) => expect(relativeError(s, statsAuto[i])).toBeLessThan(1e-5));
    tf.dispose([x, y, loss, auto.value, ...Object.values(grads), ...Object.values(auto.grads), ...statsBefore]);
    model.dispose();
  });

  it('falls back to autodiff for layers the fast step does not know', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.averagePooling2d({ inputShape: [SIZE, SIZE, 1], poolSize: 2 }),
        tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    expect(compileTrainingStep(model)).toBeNull();
    const data = brightVsDark(32, 5);
    const before = tf.memory().numTensors;
    const r = await trainClassifier(model, data, { ...opts, epochs: 1 });
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('stops when aborted and rejects mismatched data', async () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 2 }, 4);
    const data = brightVsDark(64, 6);
    const controller = new AbortController();
    let batches = 0;
    const run = trainClassifier(model, data, { ...opts, signal: controller.signal, onProgress: () => ++batches === 2 && controller.abort(new Error('stop now')) });
    await expect(run).rejects.toThrow('stop now');
    expect(batches).toBe(2);
    await expect(trainClassifier(model, { ...data, height: 8, width: 32 }, opts)).rejects.toThrow(/expects 16x16x1 images/);
    model.dispose();
  });

  it('trains data-parallel on worker threads', async () => {
    const train = brightVsDark(96, 7);
    const model = buildModel({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 2 }, 5);
    const before = tf.memory().numTensors;
    const result = await trainClassifier(model, train, { ...opts, epochs: 3, threads: 2 });
    expect(result.threads).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    const probs = await predictProbabilities(model, brightVsDark(40, 8));
    expect(result.loss).toBeLessThan(0.5);
    expect(accuracy(probs, brightVsDark(40, 8).labels)).toBeGreaterThanOrEqual(0.9);
    model.dispose();
  });
});
