import { encodeMask, networkPool, planTgd } from '../../shared/model/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import type { MethodBase, MethodDefinition } from './method.js';

/**
 * Targeted Gradient Descent (Chen, Asma, Chan, MICCAI 2021): the coordinator scores the round's
 * base model with KSE once, and every site fine-tunes only the filters the scores call redundant,
 * so a new site's data extends the model without overwriting what earlier sites taught it. The
 * frozen weights come back as exact zeros in every delta, so the aggregate keeps them bit for bit.
 * Each round rescores the model it starts from: running several rounds is TGD^n.
 *
 * Payload (Task.method_payload): the trainable mask over the base model's flat weights in manifest
 * order, in shared/model's MSK1 form (8-byte header: "MSK1" and the element count, then one bit per
 * weight); the agent checks it against the model it downloaded before training.
 */
export const tgd: MethodDefinition = {
  name: 'tgd',
  summary: 'Targeted Gradient Descent: only filters whose output channels score low on kernel sparsity and entropy train; the rest stays frozen',
  parameters: {
    phi: { default: 0.3, min: 0, max: 1, describe: 'KSE threshold: an input channel scoring below it marks the filter producing it as retrainable' },
    alpha: { default: 1, min: 0, describe: 'weight of the kernel entropy in the KSE score' },
    k: { default: 5, min: 1, integer: true, describe: 'nearest kernels summed in each kernel\'s density' },
  },
  returns: 'weights',
  async roundPayload(base: MethodBase, params: Readonly<Record<string, number>>): Promise<Uint8Array> {
    return networkPool.withNetwork(base.manifest.topology, { specs: base.manifest.tensors, flat: await base.weights() }, async (net) => {
      let plan;
      try {
        plan = planTgd(net, { phi: params.phi, alpha: params.alpha, k: params.k });
      } catch (err) {
        throw new ConfigError(`method tgd cannot score model version ${base.manifest.version}: ${(err as Error).message}`);
      }
      if (plan.trainableElements === 0) {
        throw new ConfigError(`method tgd: no channel of model version ${base.manifest.version} scores below phi = ${params.phi}, so no filter would train; raise phi (--method-param phi=0.5)`);
      }
      return encodeMask(plan.mask);
    });
  },
};
