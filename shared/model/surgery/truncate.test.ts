import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticSet } from '../../data/index.js';
import { selectBackend } from '../backend.js';
import { randomValues } from '../test-helpers.js';
import { buildModel } from '../zoo.js';
import { fitHead } from './head.js';
import { backboneOutput, cutPoints, headStart, HEAD_POOL, truncateModel } from './truncate.js';
import { evaluateCut } from './truncate-search.js';
import { readWeightMap } from './weights.js';
import { perturb } from './surgery-test-helpers.js';

function images(n: number, size = 28): tf.Tensor4D {
  return tf.tensor4d(randomValues(n * size * size, 3).map((v) => (v + 1) / 2), [n, size, size, 1]);
}

describe('truncated transfer', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('finds the block ends of cnn-small and resnet-mini as cut points', () => {
    const small = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 });
    expect(cutPoints(small).map((c) => c.layer)).toEqual(['conv1_relu', 'pool1', 'conv2_relu', 'pool2', 'conv3_relu']);
    expect(cutPoints(small)[1]!.shape).toEqual([14, 14, 16]);
    const resnet = buildModel({ arch: 'resnet-mini', inputShape: [28, 28, 1], classes: 2 });
    // Layers inside a residual block are bypassed by its skip connection: not a cut point.
    expect(cutPoints(resnet).map((c) => c.layer)).toEqual(['stem_relu', 'block1_relu', 'block2_relu', 'block3_relu']);
    small.dispose();
    resnet.dispose();
  });

  it.each(['cnn-small', 'resnet-mini'] as const)('%s cut at k: the backbone outputs equal the original layer-k outputs', async (arch) => {
    const model = buildModel({ arch, inputShape: [28, 28, 1], classes: 2 }, 5);
    perturb(model);
    const x = images(4);
    for (const point of cutPoints(model)) {
      const { model: cut } = await truncateModel(model, point.index, { classes: 3 });
      const want = tf.tidy(() => backboneOutput(model, point.layer).predict(x) as tf.Tensor);
      const got = tf.tidy(() => backboneOutput(cut, point.layer).predict(x) as tf.Tensor);
      expect(got.shape).toEqual([4, ...point.shape]);
      expect(want.dataSync().every(Number.isFinite)).toBe(true);
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
      expect(cut.outputs[0]!.shape).toEqual([null, 3]);
      tf.dispose([want, got]);
      cut.dispose();
    }
    x.dispose();
    model.dispose();
  });

  it('refuses a cut out of range or a layer that is not a cut point', async () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 });
    await expect(truncateModel(model, 0, { classes: 2 })).rejects.toThrow(/cut 0 is out of range: this model has 5 cut points \(1\.\.5: 1=conv1_relu/);
    await expect(truncateModel(model, 6, { classes: 2 })).rejects.toThrow(/cut 6 is out of range/);
    await expect(truncateModel(model, 2.5, { classes: 2 })).rejects.toThrow(/cut 2.5 is out of range/);
    await expect(truncateModel(model, 'conv2', { classes: 2 })).rejects.toThrow(/layer conv2 is not a cut point of this model; the cut points are 1=conv1_relu/);
    await expect(truncateModel(model, 1, { classes: 0 })).rejects.toThrow(/outputs >= 1, got 0/);
    model.dispose();
  });

  it('fits the head with the backbone frozen, and the fitted head beats chance', async () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 }, 2);
    const train = makeSyntheticSet({ count: 160, seed: 1 });
    const val = makeSyntheticSet({ count: 80, seed: 2 });
    const { model: cut } = await truncateModel(model, 4, { classes: 2 });
    const before = readWeightMap(cut);
    const first = await fitHead(cut, train, { epochs: 1, learningRate: 0.01, batchSize: 32, seed: 1 });
    const last = await fitHead(cut, train, { epochs: 20, learningRate: 0.01, batchSize: 32, seed: 1 });
    const after = readWeightMap(cut);
    for (const [name, w] of before) {
      if (name.startsWith('truncated_head/')) expect(Array.from(after.get(name)!.data)).not.toEqual(Array.from(w.data));
      else expect(Array.from(after.get(name)!.data)).toEqual(Array.from(w.data));
    }
    expect(last).toBeLessThan(first);
    expect(cut.layers[headStart(cut)]!.name).toBe(HEAD_POOL);
    const { model: scored, result } = await evaluateCut(model, 4, train, val, { epochs: 20, learningRate: 0.01, batchSize: 32, seed: 1 });
    expect(result.cut.layer).toBe('pool2');
    expect(result.auroc).toBeGreaterThan(0.6);
    expect(result.parameters).toBe(scored.countParams());
    scored.dispose();
    cut.dispose();
    model.dispose();
  });
});
