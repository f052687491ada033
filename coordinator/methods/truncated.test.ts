import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, decodeMask, readFlatWeights, selectBackend, weightLayout } from '../../shared/model/index.js';
import { truncateModel } from '../../shared/model/surgery/index.js';
import type { ModelManifest } from '../store/index.js';
import { chooseMethod } from './registry.js';
import { truncated } from './truncated.js';
import type * as tf from '@tensorflow/tfjs';

function baseOf(net: tf.LayersModel): { manifest: ModelManifest; weights: () => Promise<Float32Array> } {
  const { specs, totalBytes } = weightLayout(net);
  const manifest = { formatVersion: 1, version: 3, parent: 2, round: 2, createdAt: '', spec: {}, topology: net.toJSON(null, false), tensors: specs, totalBytes, sha256: '0'.repeat(64) } as unknown as ModelManifest;
  const flat = readFlatWeights(net);
  return { manifest, weights: async () => flat };
}

describe('method truncated', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('sends a mask that opens the new head and freezes the whole backbone', async () => {
    const full = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 });
    const { model } = await truncateModel(full, 2, { classes: 2 });
    const params = chooseMethod('truncated').params;
    expect(params).toEqual({ trainFrom: -1 });
    const mask = decodeMask(await truncated.roundPayload!(baseOf(model), params), model);
    let offset = 0;
    for (const w of model.weights) {
      const size = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      const values = new Set(mask.elements.subarray(offset, offset + size));
      const name = w.originalName ?? w.name;
      expect([...values], name).toEqual([name.startsWith('truncated_head/') ? 1 : 0]);
      offset += size;
    }
    full.dispose();
    model.dispose();
  });

  it('trainFrom picks the first trainable layer; out of range is refused with the layer list', async () => {
    const net = buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 });
    const conv3 = net.layers.findIndex((l) => l.name === 'conv3');
    const mask = decodeMask(await truncated.roundPayload!(baseOf(net), { trainFrom: conv3 }), net);
    const open = net.weights.filter((w, i) => {
      const start = net.weights.slice(0, i).reduce((n, v) => n + v.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
      return mask.elements[start] === 1;
    }).map((w) => w.originalName ?? w.name);
    expect(open.sort()).toEqual(['classifier/bias', 'classifier/kernel', 'conv3/kernel', 'conv3_bn/beta', 'conv3_bn/gamma', 'conv3_bn/moving_mean', 'conv3_bn/moving_variance']);
    await expect(truncated.roundPayload!(baseOf(net), { trainFrom: 99 })).rejects.toThrow(/method truncated cannot train model version 3: trainFrom 99 is out of range: model cnn-small has layers 0\.\.13/);
    expect(() => chooseMethod('truncated', { trainFrom: -2 })).toThrow(/trainFrom/);
    net.dispose();
  });
});
