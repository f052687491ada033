import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';

describe('backend ladder', () => {
  afterEach(() => {
    delete process.env.MEDLEY_BACKEND;
  });

  it('falls back past the missing native bindings to WASM, and is idempotent', async () => {
    const first = await selectBackend();
    const second = await selectBackend();
    expect(second).toEqual(first);
    expect(['tensorflow', 'wasm']).toContain(first.name);
    expect(tf.getBackend()).toBe(first.name);
    if (first.name === 'wasm') {
      expect(first.tried.map((t) => t.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    }
  });

  it('honours MEDLEY_BACKEND and fails loudly when the forced backend is missing', async () => {
    process.env.MEDLEY_BACKEND = 'cpu';
    expect((await selectBackend()).name).toBe('cpu');
    process.env.MEDLEY_BACKEND = 'wasm';
    expect((await selectBackend()).name).toBe('wasm');
    process.env.MEDLEY_BACKEND = 'tensorflow-gpu';
    let native = true;
    try {
      await import('@tensorflow/tfjs-node-gpu' as string);
    } catch {
      native = false;
    }
    if (!native) await expect(selectBackend()).rejects.toThrow(/MEDLEY_BACKEND=tensorflow-gpu.*@tensorflow\/tfjs-node-gpu.*unset MEDLEY_BACKEND/);
    process.env.MEDLEY_BACKEND = 'fastest';
    await expect(selectBackend()).rejects.toThrow(/not a backend/);
  });
});
