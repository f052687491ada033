import * as tf from '@tensorflow/tfjs';

/*
 * Building blocks every zoo architecture shares. Only built-in layers with fixed names are used, so
 * `toJSON()` -> `modelFromJSON` round-trips and weight names match across processes (the federation
 * exchanges weights by name).
 */

export type Sym = tf.SymbolicTensor;
type Initializer = ReturnType<typeof tf.initializers.heNormal>;

/** Hands each layer its own seed so initial weights depend only on (seed, layer order). */
export class Initialisers {
  private next: number;
  constructor(seed: number) {
    this.next = seed * 1000;
  }
  he(): Initializer {
    return tf.initializers.heNormal({ seed: this.next++ });
  }
  glorot(): Initializer {
    return tf.initializers.glorotUniform({ seed: this.next++ });
  }
}

export function convBn(x: Sym, name: string, filters: number, kernel: number, strides: number, init: Initialisers, relu = true): Sym {
  // No conv bias: batch norm's beta plays that role, and the PyTorch twin is built the same way.
  let y = tf.layers
    .conv2d({ name, filters, kernelSize: kernel, strides, padding: 'same', useBias: false, kernelInitializer: init.he() })
    .apply(x) as Sym;
  y = tf.layers.batchNormalization({ name: `${name}_bn`, momentum: 0.9, epsilon: 1e-5 }).apply(y) as Sym;
  return relu ? (tf.layers.reLU({ name: `${name}_relu` }).apply(y) as Sym) : y;
}
