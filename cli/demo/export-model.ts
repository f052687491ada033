import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelManifest } from '../../coordinator/index.js';

/**
 * Writes a stored global version as a standard TF.js LayersModel folder (model.json +
 * weights.bin), loadable by `tf.loadLayersModel` or `medley coordinator init --model DIR`.
 */
export async function exportLayersModel(manifest: ModelManifest, weightsPath: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await copyFile(weightsPath, join(dir, 'weights.bin'));
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'medley',
    convertedBy: null,
    modelTopology: manifest.topology,
    weightsManifest: [{ paths: ['weights.bin'], weights: manifest.tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype })) }],
    medley: { version: manifest.version, sha256: manifest.sha256, spec: manifest.spec, round: manifest.round },
  };
  const path = join(dir, 'model.json');
  await writeFile(path, JSON.stringify(modelJson));
  return path;
}
