import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { getNamedWeights, loadLayersModelFromDir, modelFromTopology, saveLayersModelToDir, setNamedWeights } from './layers-model-io.js';
import { randomValues } from './test-helpers.js';
import { buildModel } from './zoo.js';

const dir = mkdtempSync(path.join(tmpdir(), 'medley-model-io-'));

function predictions(model: tf.LayersModel): number[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomValues(4 * 16 * 16, 3).map((v) => (v + 1) / 2), [4, 16, 16, 1]);
    return Array.from((model.predict(x) as tf.Tensor).dataSync());
  });
}

/** A model whose batch-norm statistics are not the initial 0/1, so losing them would show. */
function trainedLikeModel(): tf.LayersModel {
  const model = buildModel({ arch: 'resnet-mini', inputShape: [16, 16, 1], classes: 3 }, 5);
  const named = getNamedWeights(model).map((w, i) => ({
    ...w,
    data: w.name.endsWith('moving_variance') ? w.data.map((_, j) => 1 + ((i + j) % 5) / 10) : w.data.map((v, j) => v + ((i * 7 + j) % 11) / 100),
  }));
  setNamedWeights(model, named);
  return model;
}

describe('layers model I/O', () => {
  beforeAll(async () => {
    await selectBackend();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('saves and loads a model from disk with identical predictions', async () => {
    const model = trainedLikeModel();
    const out = path.join(dir, 'saved');
    await saveLayersModelToDir(model, out);
    const loaded = await loadLayersModelFromDir(out);
    expect(predictions(loaded)).toEqual(predictions(model));
    const viaJson = await loadLayersModelFromDir(path.join(out, 'model.json'));
    expect(getNamedWeights(viaJson).map((w) => w.name)).toEqual(getNamedWeights(model).map((w) => w.name));
  });

  it('rebuilds from topology JSON and named weights with identical predictions', async () => {
    const model = trainedLikeModel();
    const rebuilt = await modelFromTopology(JSON.parse(JSON.stringify(model.toJSON(null, false))));
    setNamedWeights(rebuilt, getNamedWeights(model));
    expect(predictions(rebuilt)).toEqual(predictions(model));
  });

  it('refuses weights of another architecture by name or shape', () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 2 });
    const named = getNamedWeights(model);
    expect(() => setNamedWeights(model, named.slice(1))).toThrow(/different architecture/);
    expect(() => setNamedWeights(model, named.map((w, i) => (i === 0 ? { ...w, name: 'other/kernel' } : w)))).toThrow(/named other\/kernel/);
    expect(() => setNamedWeights(model, named.map((w, i) => (i === 0 ? { ...w, shape: [1, 2, 3] } : w)))).toThrow(/shape \[1,2,3\]/);
  });

  it('explains a missing model.json, corrupt JSON and a missing shard', async () => {
    await expect(loadLayersModelFromDir(path.join(dir, 'nowhere'))).rejects.toThrow(/does not exist.*model\.json/);
    const bad = path.join(dir, 'bad');
    await saveLayersModelToDir(buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 2 }), bad);
    writeFileSync(path.join(bad, 'corrupt.json'), '{"modelTopology": ');
    await expect(loadLayersModelFromDir(path.join(bad, 'corrupt.json'))).rejects.toThrow(/not valid JSON/);
    rmSync(path.join(bad, 'group1-shard1of1.bin'));
    await expect(loadLayersModelFromDir(bad)).rejects.toThrow(/group1-shard1of1\.bin.*missing/);
  });
});
