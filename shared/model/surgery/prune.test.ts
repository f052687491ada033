import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticSet } from '../../data/index.js';
import { selectBackend } from '../backend.js';
import { randomValues, relativeError } from '../test-helpers.js';
import { buildModel } from '../zoo.js';
import { scaledForward, trainScales } from './channel-scale.js';
import { convParameters } from './flops.js';
import { foldScales, pruneChannels, zeroChannels } from './prune.js';
import { pruneByChannelScaling } from './prune-cycle.js';
import { planPruning } from './prune-plan.js';
import { perturb } from './surgery-test-helpers.js';
import { readWeightMap } from './weights.js';

function images(n: number, size = 28): tf.Tensor4D {
  return tf.tensor4d(randomValues(n * size * size, 9).map((v) => (v + 1) / 2), [n, size, size, 1]);
}

/** conv (bias, no batch norm) -> relu -> pool -> conv -> bn -> relu -> flatten -> dense: the other paths of the surgery. */
function flattenNet(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 1], name: 'image' });
  let x = tf.layers.conv2d({ name: 'a', filters: 6, kernelSize: 3, padding: 'same', useBias: true }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'a_relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: 'a_pool', poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ name: 'b', filters: 5, kernelSize: 3, padding: 'valid', useBias: false }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'b_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'b_relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: 'flat' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'flatnet' });
}

function outputs(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array).slice();
}

describe('channel pruning surgery', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('plans cnn-small: each conv feeds the next, the last feeds the classifier through global pooling', () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 });
    const plan = planPruning(model);
    expect(plan.units.map((u) => [u.conv, u.channels, u.scaleAfter, u.foldInto])).toEqual([
      ['conv1', 16, 'conv1_bn', 'batchnorm'],
      ['conv2', 32, 'conv2_bn', 'batchnorm'],
      ['conv3', 64, 'conv3_bn', 'batchnorm'],
    ]);
    expect(plan.units[2]!.readers).toEqual([{ kind: 'dense', layer: 'classifier', positions: 1 }]);
    expect(plan.units[0]!.readers).toEqual([{ kind: 'conv', layer: 'conv2' }]);
    model.dispose();
  });

  it.each([
    ['cnn-small', () => buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 }, 3), 28, new Map([['conv1', [0, 3, 7, 15]], ['conv2', [1, 2, 30]], ['conv3', [5, 6, 7, 8, 63]]])],
    ['a flatten net with a biased conv', flattenNet, 12, new Map([['a', [0, 2, 5]], ['b', [1, 4]]])],
  ] as const)('%s: the pruned network gives the outputs of the unpruned one with the removed channels zeroed', async (_name, make, size, keep) => {
    const model = make();
    perturb(model);
    const plan = planPruning(model);
    const drop = new Map(plan.units.map((u) => [u.conv, [...Array(u.channels).keys()].filter((c) => !(keep.get(u.conv) ?? [...Array(u.channels).keys()]).includes(c))]));
    const slim = await pruneChannels(model, keep);
    const zeroed = await zeroChannels(model, drop);
    const x = images(5, size);
    const a = outputs(slim, x);
    const b = outputs(zeroed, x);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(relativeError(a, b)).toBeLessThan(1e-5);
    // The zeroing matters: the full network's outputs differ, so the comparison above can fail.
    expect(relativeError(outputs(model, x), b)).toBeGreaterThan(1e-3);
    expect(slim.countParams()).toBeLessThan(model.countParams());
    for (const [conv, kept] of keep) expect(slim.getLayer(conv).getWeights()[0]!.shape[3]).toBe(kept.length);
    tf.dispose(x);
    [model, slim, zeroed].forEach((m) => m.dispose());
  });

  it('folding the scales gives the outputs of the network with scale layers', async () => {
    for (const make of [() => buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 }, 4), flattenNet]) {
      const model = make();
      perturb(model);
      const plan = planPruning(model);
      const values = new Map(plan.units.map((u, i) => [u.conv, randomValues(u.channels, 40 + i).map((v) => v * 1.5)]));
      const size = model.inputs[0]!.shape[1]!;
      const x = images(3, size);
      const scales = new Map([...values].map(([k, v]) => [k, tf.tensor1d(v)]));
      const want = tf.tidy(() => scaledForward(model, plan, scales, x).dataSync() as Float32Array).slice();
      const folded = await foldScales(model, values);
      expect(relativeError(outputs(folded, x), want)).toBeLessThan(1e-5);
      expect(relativeError(outputs(model, x), want)).toBeGreaterThan(1e-3);
      tf.dispose([x, ...scales.values()]);
      model.dispose();
      folded.dispose();
    }
  });

  it('trains the scales with every weight of the network left bit-identical, and a strong L1 penalty zeroes scales', async () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 }, 6);
    const before = readWeightMap(model);
    const train = makeSyntheticSet({ count: 64, seed: 3 });
    const plan = planPruning(model);
    const scales = await trainScales(model, plan, train, { l1: 1, epochs: 2, learningRate: 0.5, batchSize: 32, seed: 1 });
    for (const [name, w] of readWeightMap(model)) expect(Buffer.from(w.data.buffer).equals(Buffer.from(before.get(name)!.data.buffer))).toBe(true);
    const all = [...scales.values()].flatMap((s) => Array.from(s));
    expect(all.length).toBe(16 + 32 + 64);
    expect(all.filter((v) => v === 0).length).toBeGreaterThan(0);
    expect(all.some((v) => v !== 1)).toBe(true);
    model.dispose();
  });

  it('a pruning cycle keeps validation AUROC within the tolerance of the original and removes conv parameters', async () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 }, 8);
    const train = makeSyntheticSet({ count: 96, seed: 4 });
    const val = makeSyntheticSet({ count: 64, seed: 5 });
    const outcome = await pruneByChannelScaling(model, train, val, { tolerance: 0.3, l1: 1, learningRate: 0.5, epochs: 1, maxCycles: 2, retries: 1, batchSize: 32 });
    expect(outcome.cycles.length).toBeGreaterThan(0);
    expect(outcome.final.auroc).toBeGreaterThanOrEqual(outcome.baseline.auroc - 0.3);
    expect(outcome.final.convParameters).toBe(convParameters(outcome.model));
    const kept = outcome.cycles.filter((c) => c.kept);
    expect(kept.length).toBeGreaterThan(0);
    expect(outcome.final.convParameters).toBeLessThan(outcome.baseline.convParameters);
    for (const c of outcome.cycles.filter((r) => !r.kept)) expect(outcome.baseline.auroc - c.auroc).toBeGreaterThan(0.3);
    expect(convParameters(model)).toBe(outcome.baseline.convParameters); // the input model is left as it was
    outcome.model.dispose();
    model.dispose();
  });

  it('refuses what it cannot do, naming the input', async () => {
    const unet = buildModel({ arch: 'unet', inputShape: [16, 16, 1], classes: 1, task: 'segmentation' });
    expect(() => planPruning(unet)).toThrow(/channel pruning cannot follow conv \w+'s channels through layer \w+ \(Concatenate\)/);
    unet.dispose();
    const model = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 });
    const set = makeSyntheticSet({ count: 8, seed: 1 });
    await expect(pruneByChannelScaling(model, set, set, { tolerance: -0.01 })).rejects.toThrow(/tolerance -0.01 is not allowed: give the validation AUROC the pruned model may lose, a number >= 0/);
    await expect(pruneChannels(model, new Map([['conv2', []]]))).rejects.toThrow(/would remove every channel of conv conv2/);
    await expect(pruneChannels(model, new Map([['conv9', [0]]]))).rejects.toThrow(/no prunable conv layer conv9; prunable: conv1, conv2, conv3/);
    await expect(pruneChannels(model, new Map([['conv1', [3, 1]]]))).rejects.toThrow(/ascending integers in 0..15/);
    model.dispose();
  });
});
