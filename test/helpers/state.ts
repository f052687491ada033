import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCoordinatorState } from '../../coordinator/index.js';

/** A small hand-made model: two tensors with known values, no TensorFlow.js needed. */
export function tinyModel(elements = 1000) {
  const kernel = new Float32Array(elements - 10).map((_, i) => (i % 17) * 0.125 - 1);
  const bias = new Float32Array(10).map((_, i) => i * 0.5);
  return {
    spec: { arch: 'test-tiny' },
    topology: { class_name: 'Test' },
    tensors: [
      { name: 'dense/kernel', shape: [elements - 10], dtype: 'float32', data: kernel },
      { name: 'dense/bias', shape: [10], dtype: 'float32', data: bias },
    ],
  };
}

export async function tinyState(sites: string[], elements = 1000): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'medley-test-')), 'state');
  await initCoordinatorState({ stateDir: dir, federation: 'test', sites, model: tinyModel(elements) });
  return dir;
}
