import { encodeMask, networkPool } from '../../shared/model/index.js';
import { headTrainingMask } from '../../shared/model/surgery/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import type { MethodBase, MethodDefinition } from './method.js';

/**
 * Truncated transfer (Peng et al.): the global model is a pretrained backbone cut at a block with
 * a new head (`medley model truncate`), and sites fine-tune the head alone. The coordinator sends
 * the trainable mask (every weight of the layers from `trainFrom` on) with each task, in shared/model's
 * MSK1 form; frozen weights come back as exact zeros in every delta, so the backbone stays as it
 * was pretrained, bit for bit.
 */
export const truncated: MethodDefinition = {
  name: 'truncated',
  summary: 'truncated transfer: the backbone stays frozen, sites train only the layers from trainFrom on (by default the head medley model truncate added)',
  parameters: {
    trainFrom: {
      default: -1,
      min: -1,
      integer: true,
      describe: 'index (in the model\'s layer order) of the first layer that trains; -1: the head of a truncated model (truncated_pool on), else the last layer with weights',
    },
  },
  returns: 'weights',
  async roundPayload(base: MethodBase, params: Readonly<Record<string, number>>): Promise<Uint8Array> {
    return networkPool.withNetwork(base.manifest.topology, { specs: base.manifest.tensors, flat: await base.weights() }, async (net) => {
      try {
        return encodeMask(headTrainingMask(net, params.trainFrom!).mask);
      } catch (err) {
        throw new ConfigError(`method truncated cannot train model version ${base.manifest.version}: ${(err as Error).message}`);
      }
    });
  },
};
