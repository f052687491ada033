import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCoordinatorState, type ModelManifest } from '../../coordinator/index.js';
import type { Cleanup } from './cleanup.js';
import { fillNoise } from './stats.js';

/**
 * A coordinator state folder with a hand-made float32 model of `parameters` values (no TF.js:
 * the coordinator treats weights as opaque tensors) split like a CNN's: one big kernel holding
 * nearly everything, a few smaller tensors. Removed by `cleanup`.
 */
export async function benchState(opts: { parameters: number; sites: string[]; cleanup: Cleanup; federation?: string }): Promise<{ dir: string; manifest: ModelManifest }> {
  const root = opts.cleanup.folder(await mkdtemp(join(tmpdir(), 'medley-bench-')));
  const dir = join(root, 'state');
  const small = [1024, 256, 10];
  const big = opts.parameters - small.reduce((a, b) => a + b, 0);
  if (big < 1) throw new Error(`a bench model needs more than ${opts.parameters} parameters`);
  const shapes: [string, number[]][] = [
    ['dense_1/kernel', [big]],
    ['dense_1/bias', [small[0]!]],
    ['dense_2/kernel', [small[1]!]],
    ['dense_2/bias', [small[2]!]],
  ];
  const tensors = shapes.map(([name, shape], i) => ({ name, shape, dtype: 'float32', data: fillNoise(new Float32Array(shape[0]!), 17 + i, 0.05) }));
  const manifest = await initCoordinatorState({
    stateDir: dir,
    federation: opts.federation ?? 'bench',
    sites: opts.sites,
    model: { spec: { arch: 'bench-flat', parameters: opts.parameters }, topology: { class_name: 'BenchFlat' }, tensors },
  });
  return { dir, manifest };
}

export function siteNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
}
