import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNoiseSet } from '../../shared/data/synthetic-noise.js';
import type { ImageSet } from '../../shared/data/types.js';
import { selectBackend } from '../../shared/model/backend.js';
import { readFlatWeights } from '../../shared/model/flat-weights.js';
import { randomValues } from '../../shared/model/test-helpers.js';
import { buildModel } from '../../shared/model/zoo.js';
import { shutdownTrainingWorkers } from './gradient-pool.js';
import { trainModel, type TrainOptions } from './local-trainer.js';
import { checkMask, countTrainable, TrainableMaskBuilder, weightSlots, type TrainableMask } from './trainable-mask.js';

const SIZE = 16;

function brightVsDark(count: number, seed: number): ImageSet {
  const noise = randomValues(count * SIZE * SIZE, seed);
  const images = new Float32Array(count * SIZE * SIZE);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    labels[n] = n % 2;
    for (let i = 0; i < SIZE * SIZE; i++) images[n * SIZE * SIZE + i] = Math.min(1, Math.max(0, (labels[n] ? 0.65 : 0.35) + 0.25 * noise[n * SIZE * SIZE + i]!));
  }
  return { images, labels, count, height: SIZE, width: SIZE, channels: 1, classes: 2 };
}

/** cnn-small with filters 1 and 5 of conv2 (and their BN channels) open, everything else frozen. */
function cnnMask(model: tf.LayersModel): TrainableMask {
  return new TrainableMaskBuilder(model, 0).setOutputChannels('conv2', [1, 5], 1).setOutputChannels('conv2_bn', [1, 5], 1).build();
}

/** Elements the mask freezes that differ (bitwise) between a and b; and trainable elements that changed. */
function compare(mask: TrainableMask, a: Float32Array, b: Float32Array): { frozenChanged: number; trainableChanged: number } {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let frozenChanged = 0;
  let trainableChanged = 0;
  for (let i = 0; i < a.length; i++) {
    if (ua[i] === ub[i]) continue;
    if (mask.elements[i]) trainableChanged++;
    else frozenChanged++;
  }
  return { frozenChanged, trainableChanged };
}

/** Elements of batch-norm moving statistics among the mask's frozen / open elements that changed. */
function movingStatsChanged(model: tf.LayersModel, mask: TrainableMask, a: Float32Array, b: Float32Array): { frozen: number; open: number } {
  let frozen = 0;
  let open = 0;
  for (const s of weightSlots(model)) {
    if (!/moving_(mean|variance)/.test(s.name)) continue;
    for (let i = s.offset; i < s.offset + s.size; i++) {
      if (Object.is(a[i], b[i])) continue;
      if (mask.elements[i]) open++;
      else frozen++;
    }
  }
  return { frozen, open };
}

const base: TrainOptions = { epochs: 2, batchSize: 16, learningRate: 0.01, seed: 5, threads: 1 };

describe('trainable mask', () => {
  beforeAll(async () => {
    await selectBackend();
  });
  afterAll(() => shutdownTrainingWorkers());

  it.each<[string, Partial<TrainOptions>]>([
    ['Adam with weight decay, one thread (hand-derived step)', { optimizer: 'adam', weightDecay: 0.05 }],
    ['SGD with weight decay, one thread', { optimizer: 'sgd', weightDecay: 0.05, learningRate: 0.1 }],
    ['Adam with weight decay, data-parallel workers', { optimizer: 'adam', weightDecay: 0.05, threads: 2 }],
  ])('%s: frozen weights and frozen channels\' running statistics stay bit-identical', async (_name, extra) => {
    const data = brightVsDark(64, 1);
    const model = buildModel({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 2 }, 7);
    const mask = cnnMask(model);
    const before = readFlatWeights(model);
    const result = await trainModel(model, data, { ...base, ...extra, trainableMask: mask });
    if (extra.threads === 2) expect(result.threads).toBe(2);
    const after = readFlatWeights(model);
    const { frozenChanged, trainableChanged } = compare(mask, before, after);
    expect(frozenChanged).toBe(0);
    // conv2 filters 1 and 5: 3*3*16 kernel values each, plus gamma, beta and the two moving stats.
    expect(countTrainable(mask)).toBe(2 * (3 * 3 * 16 + 4));
    expect(trainableChanged).toBeGreaterThan(0.9 * countTrainable(mask));
    const stats = movingStatsChanged(model, mask, before, after);
    expect(stats.frozen).toBe(0);
    expect(stats.open).toBe(4);

    // The same training without the mask moves those elements, so the check above can fail.
    const control = buildModel({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 2 }, 7);
    await trainModel(control, data, { ...base, ...extra });
    expect(compare(mask, before, readFlatWeights(control)).frozenChanged).toBeGreaterThan(before.length / 2);
    expect(movingStatsChanged(control, mask, before, readFlatWeights(control)).frozen).toBeGreaterThan(100);
    model.dispose();
    control.dispose();
  });

  it('autodiff path (denoising DnCNN, Adam with weight decay): frozen weights and statistics stay bit-identical', async () => {
    const noise = makeNoiseSet({ count: 16, seed: 3, size: 16 });
    const model = buildModel({ arch: 'dncnn', inputShape: [16, 16, 1], classes: 1, depth: 4, filters: 8 }, 2);
    const mask = new TrainableMaskBuilder(model, 0).setOutputChannels('body1', [0, 3], 1).setOutputChannels('body1_bn', [0, 3], 1).setOutputChannels('head', [2], 1).build();
    const before = readFlatWeights(model);
    // Unmasked, the same training moves most elements, so the checks below can fail.
    await trainModel(model, noise.set, { ...base, task: 'denoising', batchSize: 8, weightDecay: 0.05 });
    expect(compare(mask, before, readFlatWeights(model)).frozenChanged).toBeGreaterThan(before.length / 2);
    model.dispose();

    const fresh = buildModel({ arch: 'dncnn', inputShape: [16, 16, 1], classes: 1, depth: 4, filters: 8 }, 2);
    const tensorsBefore = tf.memory().numTensors;
    await trainModel(fresh, noise.set, { ...base, task: 'denoising', batchSize: 8, weightDecay: 0.05, trainableMask: mask });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const after = readFlatWeights(fresh);
    const { frozenChanged, trainableChanged } = compare(mask, before, after);
    expect(frozenChanged).toBe(0);
    expect(trainableChanged).toBeGreaterThan(0.9 * countTrainable(mask));
    expect(movingStatsChanged(fresh, mask, before, after)).toEqual({ frozen: 0, open: 4 });
    fresh.dispose();
  });

  it('refuses a mask of the wrong length or with values other than 0/1, and unknown layers or channels', () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [SIZE, SIZE, 1], classes: 2 }, 1);
    const n = readFlatWeights(model).length;
    expect(() => checkMask(model, { elements: new Uint8Array(n - 1) })).toThrow(/mask has \d+ elements, the model's weights \d+/);
    const bad = new Uint8Array(n);
    bad[3] = 2;
    expect(() => checkMask(model, { elements: bad })).toThrow(/holds 2 at element 3/);
    expect(() => new TrainableMaskBuilder(model).setLayer('conv9', 1)).toThrow(/no layer "conv9".*conv1, conv1_bn/);
    expect(() => new TrainableMaskBuilder(model).setOutputChannels('conv1', [16], 1)).toThrow(/channel 16 is outside 0..15/);
    model.dispose();
  });
});
