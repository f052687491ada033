import * as tf from '@tensorflow/tfjs';
import { convBn, type Initialisers, type Sym } from './zoo-layers.js';

/** How the decoder doubles the resolution: nearest-neighbour upsampling + conv, or a learned transposed conv. */
export type UpsamplingMode = 'upsample' | 'transpose';
export const UPSAMPLING_MODES: readonly UpsamplingMode[] = ['upsample', 'transpose'];

export interface UnetOptions {
  /** Number of 2x downsamplings (the input side must be divisible by 2^depth). */
  depth: number;
  /** Filters at the first level; each level down doubles them. */
  filters: number;
  up: UpsamplingMode;
}

/**
 * U-Net (Ronneberger et al.): at each level two same-padded 3x3 conv-bn-relu, max-pooling down,
 * then back up with skip concatenations of the encoder's features at the same resolution. The
 * head is a 1x1 conv with a sigmoid: one foreground probability per pixel.
 */
export function unet(input: Sym, opts: UnetOptions, init: Initialisers): Sym {
  const skips: Sym[] = [];
  let x = input;
  for (let level = 0; level < opts.depth; level++) {
    const f = opts.filters * 2 ** level;
    x = convBn(x, `enc${level + 1}_a`, f, 3, 1, init);
    x = convBn(x, `enc${level + 1}_b`, f, 3, 1, init);
    skips.push(x);
    x = tf.layers.maxPooling2d({ name: `down${level + 1}`, poolSize: 2, strides: 2 }).apply(x) as Sym;
  }
  const deepest = opts.filters * 2 ** opts.depth;
  x = convBn(x, 'bottom_a', deepest, 3, 1, init);
  x = convBn(x, 'bottom_b', deepest, 3, 1, init);
  for (let level = opts.depth - 1; level >= 0; level--) {
    const f = opts.filters * 2 ** level;
    const n = level + 1;
    if (opts.up === 'transpose') {
      x = tf.layers
        .conv2dTranspose({ name: `up${n}`, filters: f, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: init.he() })
        .apply(x) as Sym;
    } else {
      x = tf.layers.upSampling2d({ name: `up${n}`, size: [2, 2] }).apply(x) as Sym;
    }
    x = tf.layers.concatenate({ name: `skip${n}`, axis: -1 }).apply([skips[level]!, x]) as Sym;
    x = convBn(x, `dec${n}_a`, f, 3, 1, init);
    x = convBn(x, `dec${n}_b`, f, 3, 1, init);
  }
  return tf.layers
    .conv2d({ name: 'mask', filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: init.glorot(), biasInitializer: 'zeros' })
    .apply(x) as Sym;
}
