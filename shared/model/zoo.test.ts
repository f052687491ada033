import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { getNamedWeights, modelFromTopology } from './layers-model-io.js';
import { randomValues } from './test-helpers.js';
import { ARCHITECTURES, buildModel, describeModel, modelSpecFromString, type ModelSpec } from './zoo.js';

describe('model zoo', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it.each(ARCHITECTURES.filter((a) => a === 'cnn-small' || a === 'resnet-mini'))('%s builds, predicts a softmax and round-trips through toJSON', async (arch) => {
    const spec: ModelSpec = { arch, inputShape: [28, 28, 1], classes: 2 };
    const model = buildModel(spec, 7);
    const x = tf.tensor4d(randomValues(3 * 28 * 28, 1).map((v) => (v + 1) / 2), [3, 28, 28, 1]);
    const p = model.predict(x) as tf.Tensor;
    expect(p.shape).toEqual([3, 2]);
    const rows = tf.sum(p, 1).dataSync();
    rows.forEach((r) => expect(r).toBeCloseTo(1, 5));

    const rebuilt = await modelFromTopology(model.toJSON(null, false) as object);
    expect(describeModel(rebuilt)).toEqual(describeModel(model));
    rebuilt.setWeights(model.getWeights());
    const q = rebuilt.predict(x) as tf.Tensor;
    expect(Array.from(q.dataSync())).toEqual(Array.from(p.dataSync()));
    tf.dispose([x, p, q, rows as unknown as tf.Tensor]);
    model.dispose();
    rebuilt.dispose();
  });

  it('cnn-small is small and resnet-mini has residual adds with a strided projection', () => {
    const cnn = buildModel({ arch: 'cnn-small', inputShape: [64, 64, 1], classes: 2 });
    const info = describeModel(cnn);
    expect(info.parameters).toBeGreaterThan(10_000);
    expect(info.parameters).toBeLessThan(50_000);
    const res = buildModel({ arch: 'resnet-mini', inputShape: [64, 64, 3], classes: 4 });
    const kinds = res.layers.map((l) => l.getClassName());
    expect(kinds.filter((k) => k === 'Add').length).toBe(3);
    const proj = res.layers.find((l) => l.name === 'block2_proj')!;
    expect(proj.getConfig()).toMatchObject({ kernelSize: [1, 1], strides: [2, 2] });
    expect(res.outputs[0].shape).toEqual([null, 4]);
    cnn.dispose();
    res.dispose();
  });

  it('initial weights depend only on the seed and include batch-norm statistics', () => {
    const spec: ModelSpec = { arch: 'cnn-small', inputShape: [32, 32, 1], classes: 2 };
    const a = getNamedWeights(buildModel(spec, 3));
    const b = getNamedWeights(buildModel(spec, 3));
    const c = getNamedWeights(buildModel(spec, 4));
    expect(a.map((w) => w.name)).toEqual(b.map((w) => w.name));
    expect(a.map((w) => w.name)).toContain('conv1_bn/moving_mean');
    a.forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(b[i].data)));
    expect(Array.from(a[0].data)).not.toEqual(Array.from(c[0].data));
  });

  it('parses model names and rejects unknown ones clearly', () => {
    expect(modelSpecFromString('cnn-small')).toEqual({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2, task: 'classification' });
    expect(modelSpecFromString('resnet-mini:64x64x3:5')).toEqual({ arch: 'resnet-mini', inputShape: [64, 64, 3], classes: 5, task: 'classification' });
    expect(() => modelSpecFromString('vgg16')).toThrow(/unknown model architecture 'vgg16'.*cnn-small, resnet-mini/);
    expect(() => modelSpecFromString('cnn-small:64x64')).toThrow(/HxWxC/);
    expect(() => modelSpecFromString('cnn-small:64x64x1:1')).toThrow(/classes must be an integer >= 2/);
  });
});
