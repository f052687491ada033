import * as tf from '@tensorflow/tfjs';
import { convBn, type Initialisers, type Sym } from './zoo-layers.js';

export interface DncnnOptions {
  /** Conv layers in all (Zhang et al. use 17): conv+relu, depth-2 conv+bn+relu, conv. */
  depth: number;
  filters: number;
}

/**
 * DnCNN (Zhang et al. 2017): the body predicts the noise, the output is the input minus it
 * (residual learning). tfjs-layers has no subtract layer, so the last conv predicts the negated
 * noise and an Add forms input - noise; the function is the same and it round-trips through JSON.
 */
export function dncnn(input: Sym, opts: DncnnOptions, init: Initialisers): Sym {
  const channels = input.shape[input.shape.length - 1]!;
  let x = tf.layers
    .conv2d({ name: 'head', filters: opts.filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init.he() })
    .apply(input) as Sym;
  for (let i = 1; i <= opts.depth - 2; i++) x = convBn(x, `body${i}`, opts.filters, 3, 1, init);
  // Small initial weights: an untrained network starts close to the identity (output = input).
  const negNoise = tf.layers
    .conv2d({ name: 'noise', filters: channels, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.zeros() })
    .apply(x) as Sym;
  return tf.layers.add({ name: 'denoised' }).apply([input, negNoise]) as Sym;
}
