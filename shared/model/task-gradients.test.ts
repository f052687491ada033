import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';
import { registerCpuResizeGradient } from './resize-gradient.js';
import { randomValues, relativeError } from './test-helpers.js';
import { buildModel, type ModelSpec } from './zoo.js';

/*
 * The agent trains U-Net and DnCNN with tfjs autodiff on the WASM backend, whose backward pass
 * needs kernels for every op in them: max-pool, nearest-neighbour resize and transposed-conv
 * gradients, concatenation (slices), batch norm. Each model's weight gradients on WASM must match
 * the CPU backend's (the reference implementation, with its batched resize gradient fixed: see
 * resize-gradient.ts) for a fixed batch and upstream gradient.
 */

const TOL = 1e-3;

async function weightGradients(backend: string, spec: ModelSpec, weights: Float32Array[], x: Float32Array, dy: Float32Array): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const net = buildModel(spec, 1);
  net.setWeights(net.getWeights().map((w, i) => tf.tensor(weights[i]!, w.shape)));
  const [h, w, c] = spec.inputShape;
  const input = tf.tensor4d(x, [2, h, w, c]);
  const outShape = [2, ...(net.outputs[0]!.shape.slice(1) as number[])];
  const upstream = tf.tensor(dy, outShape);
  const vars = net.trainableWeights.map((v) => v.read() as tf.Variable);
  const { grads } = tf.variableGrads(() => tf.sum(tf.mul(net.apply(input, { training: true }) as tf.Tensor, upstream)) as tf.Scalar, vars);
  const out = await Promise.all(vars.map(async (v) => Float32Array.from(await grads[v.name]!.data())));
  tf.dispose([input, upstream, ...Object.values(grads)]);
  net.dispose();
  return out;
}

describe('U-Net and DnCNN gradients on the WASM backend', () => {
  beforeAll(async () => {
    expect((await selectBackend({ prefer: 'wasm' })).name).toBe('wasm');
    registerCpuResizeGradient();
  });

  it.each([
    ['unet, nearest-neighbour upsampling', { arch: 'unet', inputShape: [16, 16, 1], classes: 1, depth: 2, filters: 3, up: 'upsample' }],
    ['unet, transposed conv', { arch: 'unet', inputShape: [16, 16, 2], classes: 1, depth: 2, filters: 3, up: 'transpose' }],
    ['dncnn', { arch: 'dncnn', inputShape: [12, 12, 1], classes: 1, depth: 4, filters: 4 }],
  ] as [string, ModelSpec][])('%s: every weight gradient matches the CPU backend', async (_name, spec) => {
    await tf.setBackend('cpu');
    const ref = buildModel(spec, 1);
    // Random non-zero weights everywhere (DnCNN's noise conv starts at zero, which would hide the body's gradients).
    const weights = ref.getWeights().map((w, i) => {
      const v = randomValues(w.size, 100 + i);
      return ref.weights[i]!.name.includes('moving_variance') ? v.map((a) => 1 + Math.abs(a)) : v.map((a) => a * 0.5);
    });
    const outShape = ref.outputs[0]!.shape.slice(1) as number[];
    ref.dispose();
    const [h, w, c] = spec.inputShape;
    const x = randomValues(2 * h * w * c, 7);
    const dy = randomValues(2 * outShape.reduce((a, b) => a * b, 1), 8);
    const cpu = await weightGradients('cpu', spec, weights, x, dy);
    const wasm = await weightGradients('wasm', spec, weights, x, dy);
    expect(wasm.length).toBe(cpu.length);
    expect(cpu.length).toBeGreaterThan(5);
    cpu.forEach((g, i) => {
      expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(0);
      expect(relativeError(wasm[i]!, g)).toBeLessThan(TOL);
    });
  });
});
