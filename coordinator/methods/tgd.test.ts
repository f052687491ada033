import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../shared/model/backend.js';
import { readFlatWeights, weightLayout } from '../../shared/model/flat-weights.js';
import { planTgd } from '../../shared/model/tgd-masks.js';
import { decodeMask } from '../../shared/model/trainable-mask.js';
import { buildModel } from '../../shared/model/zoo.js';
import type { ModelManifest } from '../store/index.js';
import { chooseMethod } from './registry.js';
import { tgd } from './tgd.js';

function baseOf(arch: 'cnn-small' | 'resnet-mini') {
  const model = buildModel({ arch, inputShape: [16, 16, 1], classes: 2 }, 4);
  const { specs, totalBytes } = weightLayout(model);
  const manifest = { formatVersion: 1, version: 3, parent: 2, round: 2, createdAt: '', spec: { arch }, topology: model.toJSON(null, false) as Record<string, unknown>, tensors: specs, totalBytes, sha256: '' } as ModelManifest;
  const weights = readFlatWeights(model);
  return { model, base: { manifest, weights: async () => weights } };
}

describe('method tgd', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('is registered with phi, alpha and k, bounds-checked', () => {
    expect(chooseMethod('tgd').params).toEqual({ phi: 0.3, alpha: 1, k: 5 });
    expect(() => chooseMethod('tgd', { phi: 1.2 })).toThrow(/phi/);
    expect(() => chooseMethod('tgd', { k: 2.5 })).toThrow(/k = 2.5 must be a whole number/);
  });

  it('sends the KSE mask of the base model, which the agent decodes to the same mask', async () => {
    const { model, base } = baseOf('cnn-small');
    const params = { phi: 0.5, alpha: 1, k: 5 };
    const payload = await tgd.roundPayload!(base, params);
    const expected = planTgd(model, params);
    expect(expected.trainableElements).toBeGreaterThan(0);
    expect(Array.from(decodeMask(payload, model).elements)).toEqual(Array.from(expected.mask.elements));
    // One bit per weight plus the header: far smaller than the weights.
    expect(payload.length).toBeLessThan(base.manifest.totalBytes / 30);
    model.dispose();
  });

  it('fails the round with the reason when nothing would train or the model cannot be scored', async () => {
    const { model, base } = baseOf('cnn-small');
    await expect(tgd.roundPayload!(base, { phi: 0, alpha: 1, k: 5 })).rejects.toThrow(/no channel of model version 3 scores below phi = 0.*raise phi/);
    model.dispose();
    const res = baseOf('resnet-mini');
    await expect(tgd.roundPayload!(res.base, { phi: 0.3, alpha: 1, k: 5 })).rejects.toThrow(/method tgd cannot score model version 3: .*"block1_add" \(Add\)/);
    res.model.dispose();
  });
});
