import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runNumpy } from '../../test/helpers/numpy.js';
import { selectBackend } from './backend.js';
import { kernelSparsityEntropy } from './kse.js';
import { randomValues } from './test-helpers.js';
import { planTgd } from './tgd-masks.js';
import { decodeMask, encodeMask, weightSlots } from './trainable-mask.js';
import { buildModel } from './zoo.js';

/**
 * A 1x1 kernel [1, 1, 3 inputs, 3 outputs] small enough to score by hand. The 2-D kernels (single
 * numbers) reading each input channel, over the three output filters:
 *   channel 0: 1, 1, 1   L1 = 3; all alike, densities 0      -> entropy 0
 *   channel 1: 0, 1, 3   L1 = 4; distances 1, 3, 2; k = min(5, 3-1) = 2 neighbours each:
 *                        densities 1+3=4, 1+2=3, 3+2=5 -> p = 4/12, 3/12, 5/12 -> entropy 1.55459
 *   channel 2: 0, 0, 2   L1 = 2; distances 0, 2, 2: densities 2, 2, 4 -> p = 1/4, 1/4, 1/2 -> entropy 1.5
 * Min-max: sparsity 3, 4, 2 -> 0.5, 1, 0; entropy 0, 1.55459, 1.5 -> 0, 1, 0.96489.
 * KSE = sqrt(s / (1 + e)): sqrt(0.5) = 0.70711, sqrt(1/2) = 0.70711, 0 -> min-max 1, 1, 0.
 */
const HAND = { shape: [1, 1, 3, 3], byChannel: [[1, 1, 1], [0, 1, 3], [0, 0, 2]] };
function handKernel(): Float32Array {
  const out = new Float32Array(9);
  // index ((p * cin) + c) * cout + n with p = 0
  HAND.byChannel.forEach((values, c) => values.forEach((v, n) => (out[c * 3 + n] = v)));
  return out;
}

const NUMPY_KSE = `
W = IN['kernel']; knn = int(IN['k'][0]); alpha = IN['alpha'][0]
kh, kw, cin, cout = W.shape
kk = min(knn, cout - 1)
def mm(v, const):
    r = v.max() - v.min()
    return (v - v.min()) / r if r > 0 else np.full_like(v, const)
s = np.zeros(cin); e = np.zeros(cin)
for c in range(cin):
    K = W[:, :, c, :].reshape(kh * kw, cout).T          # cout kernels, flattened
    s[c] = np.abs(K).sum()
    dist = np.sqrt(((K[:, None, :] - K[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    dens = np.sort(dist, axis=1)[:, :kk].sum(1)
    if dens.sum() > 0:
        p = dens / dens.sum(); p = p[p > 0]
        e[c] = -(p * np.log2(p)).sum()
sn = mm(s, 0.0); en = mm(e, 0.0)
OUT['sparsity'] = sn; OUT['entropy'] = en; OUT['kse'] = mm(np.sqrt(sn / (1 + alpha * en)), 1.0)
`;

describe('kernel sparsity and entropy', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('matches the hand-computed example', () => {
    const r = kernelSparsityEntropy(handKernel(), HAND.shape);
    expect(Array.from(r.sparsity)).toEqual([0.5, 1, 0]);
    expect(r.entropy[0]).toBe(0);
    expect(r.entropy[1]).toBe(1);
    expect(r.entropy[2]).toBeCloseTo(1.5 / 1.5545851693377997, 12);
    expect(Array.from(r.kse)).toEqual([1, 1, 0]);
  });

  it('matches an independent NumPy implementation on random 3x3 kernels (k = 5 and k capped)', async () => {
    for (const [shape, k, alpha] of [[[3, 3, 8, 12], 5, 1], [[3, 3, 6, 4], 5, 1], [[3, 3, 5, 9], 2, 0.5]] as [number[], number, number][]) {
      const kernel = randomValues(shape.reduce((a, b) => a * b, 1), shape[2]! * 31 + k);
      // Some near-empty input channels so the scores spread out.
      for (let i = 0; i < kernel.length; i++) if (Math.floor(i / shape[3]!) % shape[2]! < 2) kernel[i]! *= 0.05;
      const ours = kernelSparsityEntropy(kernel, shape, { k, alpha });
      const ref = await runNumpy(NUMPY_KSE, { kernel: { shape, data: kernel }, k: { shape: [1], data: [k] }, alpha: { shape: [1], data: [alpha] } });
      for (const key of ['sparsity', 'entropy', 'kse'] as const) {
        expect(ref[key]!.data.length).toBe(shape[2]);
        ref[key]!.data.forEach((v, c) => expect(ours[key][c]).toBeCloseTo(v, 10));
      }
    }
  });

  it('refuses kernels that are not 4-D or do not fit their shape', () => {
    expect(() => kernelSparsityEntropy(new Float32Array(9), [3, 3])).toThrow(/shape \[kh, kw, cin, cout\]/);
    expect(() => kernelSparsityEntropy(new Float32Array(8), [1, 1, 3, 3])).toThrow(/8 values, shape \[1, 1, 3, 3\] needs 9/);
    expect(() => kernelSparsityEntropy(new Float32Array(9), [1, 1, 3, 3], { k: 0 })).toThrow(/k .* integer >= 1/);
  });
});

describe('TGD masks', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  /** conv a (1 -> 3 filters, bias) -> bn -> relu -> conv b (3 -> 3, the hand kernel) -> dense head. */
  function tinyNet(): tf.LayersModel {
    const input = tf.input({ shape: [4, 4, 1] });
    let x = tf.layers.conv2d({ name: 'a', filters: 3, kernelSize: 1, kernelInitializer: 'ones' }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: 'a_bn' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ name: 'a_relu' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ name: 'b', filters: 3, kernelSize: 1, useBias: false }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'head', units: 2, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    model.getLayer('b').setWeights([tf.tensor4d(handKernel(), [1, 1, 3, 3])]);
    return model;
  }

  it('opens exactly the filter that produces a low-KSE channel (kernel slice, bias, BN) and freezes the rest', () => {
    const model = tinyNet();
    const plan = planTgd(model, { phi: 0.3 });
    expect(plan.redundant).toEqual({ a: [2] });
    const b = plan.consumers.find((c) => c.layer === 'b')!;
    expect(b.kse).toEqual([1, 1, 0]);
    expect(b.producers).toEqual([{ layer: 'a', channel: 0 }, { layer: 'a', channel: 1 }, { layer: 'a', channel: 2 }]);
    const open: string[] = [];
    for (const s of weightSlots(model)) {
      for (let i = 0; i < s.size; i++) if (plan.mask.elements[s.offset + i]) open.push(`${s.name}[${i}]`);
    }
    // a's kernel [1,1,1,3]: element 2 is filter 2; its bias, and a_bn's gamma, beta, moving mean/variance channel 2.
    expect(open).toEqual(['a/kernel[2]', 'a/bias[2]', 'a_bn/gamma[2]', 'a_bn/beta[2]', 'a_bn/moving_mean[2]', 'a_bn/moving_variance[2]']);
    // phi 0 marks nothing, phi 1 every channel of b scoring below 1 (only channel 2 here).
    expect(planTgd(model, { phi: 0 }).trainableElements).toBe(0);
    expect(planTgd(model, { phi: 1 }).redundant).toEqual({ a: [2] });
    model.dispose();
  });

  it('maps channels through U-Net concatenations and upsampling', () => {
    const model = buildModel({ arch: 'unet', inputShape: [16, 16, 1], classes: 1, depth: 1, filters: 4 }, 3);
    const plan = planTgd(model);
    const dec = plan.consumers.find((c) => c.layer === 'dec1_a')!;
    // skip1 = concat([enc1_b (4 channels), up1(bottom_b) (8 channels)])
    expect(dec.producers.slice(0, 4)).toEqual([0, 1, 2, 3].map((c) => ({ layer: 'enc1_b', channel: c })));
    expect(dec.producers.slice(4)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((c) => ({ layer: 'bottom_b', channel: c })));
    expect(plan.consumers.find((c) => c.layer === 'enc1_a')!.producers).toEqual([null]);
    // The 1x1 head that makes the mask is read by no conv: always frozen.
    expect(plan.redundant.mask).toBeUndefined();
    model.dispose();
  });

  it('refuses residual and transposed-conv networks, naming the layer', () => {
    const res = buildModel({ arch: 'resnet-mini', inputShape: [16, 16, 1], classes: 2 }, 1);
    expect(() => planTgd(res)).toThrow(/layer "block1_add" \(Add\) is none of these/);
    res.dispose();
    const tr = buildModel({ arch: 'unet', inputShape: [16, 16, 1], classes: 1, depth: 1, filters: 4, up: 'transpose' }, 1);
    expect(() => planTgd(tr)).toThrow(/layer "up1" is a Conv2DTranspose/);
    tr.dispose();
    expect(() => planTgd(tinyNet(), { phi: 1.5 })).toThrow(/phi .* must be in \[0, 1\]/);
  });

  it('cnn-small and dncnn get masks that freeze the last layers and the classifier', () => {
    const cnn = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 2 }, 1);
    const plan = planTgd(cnn);
    expect(Object.keys(plan.redundant).every((l) => l === 'conv1' || l === 'conv2')).toBe(true);
    for (const s of weightSlots(cnn)) {
      if (s.name.startsWith('conv3') || s.name.startsWith('classifier')) expect(plan.mask.elements.subarray(s.offset, s.offset + s.size).every((v) => v === 0)).toBe(true);
    }
    cnn.dispose();
    const dn = buildModel({ arch: 'dncnn', inputShape: [16, 16, 1], classes: 1, depth: 5, filters: 8 }, 1);
    const dplan = planTgd(dn);
    expect(dplan.redundant.noise).toBeUndefined();
    expect(dplan.consumers.map((c) => c.layer)).toEqual(['head', 'body1', 'body2', 'body3', 'noise']);
    dn.dispose();
  });

  it('encodes a mask compactly and refuses one that does not fit the model', () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 2 }, 1);
    const elements = new Uint8Array(weightSlots(model).reduce((n, s) => n + s.size, 0));
    for (let i = 0; i < elements.length; i += 7) elements[i] = 1;
    const bytes = encodeMask({ elements });
    expect(bytes.length).toBe(8 + Math.ceil(elements.length / 8));
    expect(Array.from(decodeMask(bytes, model).elements)).toEqual(Array.from(elements));
    expect(() => decodeMask(bytes.subarray(0, bytes.length - 1), model)).toThrow(/truncated or padded/);
    expect(() => decodeMask(new Uint8Array([1, 2, 3]), model)).toThrow(/is not a mask/);
    const other = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 3 }, 1);
    expect(() => decodeMask(bytes, other)).toThrow(/covers \d+ weights, the model has \d+; it was computed for another architecture/);
    model.dispose();
    other.dispose();
  });
});
