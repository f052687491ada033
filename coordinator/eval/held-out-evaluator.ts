import { readFile } from 'node:fs/promises';
import type { ImageSet } from '../../shared/data/types.js';
import type { ModelEvaluator } from '../rounds/index.js';
import type { ModelManifest } from '../store/index.js';

/**
 * Scores each new global version on a held-out set the coordinator's operator provides (for
 * example a consortium test set, or the demo's test split). TensorFlow.js is loaded only when an
 * evaluator is configured: a plain coordinator never needs it.
 */
export async function createHeldOutEvaluator(heldOut: ImageSet, log: (m: string) => void): Promise<ModelEvaluator> {
  const model = await import('../../shared/model/index.js');
  const backend = await model.selectBackend({ log });
  return {
    backend: backend.name,
    async evaluate(manifest: ModelManifest, weightsPath: string): Promise<Record<string, number>> {
      const bytes = await readFile(weightsPath);
      const flat = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      // One network lent again every round: building one per round leaves tfjs-layers' names behind for good.
      return model.networkPool.withNetwork(manifest.topology, { specs: manifest.tensors, flat }, async (net) => {
        // The manifest's task picks the metrics (AUROC/AUPRC, Dice/IoU, PSNR/SSIM), as at the sites.
        const metrics = await model.evaluateTask(net, heldOut, model.taskOfManifestSpec(manifest.spec));
        return { ...metrics, examples: heldOut.count };
      });
    },
  };
}
