import * as tf from '@tensorflow/tfjs';

/*
 * Adam and SGD on one flat weight vector in plain JS. Same update rule and defaults as tf.train.adam
 * / tf.train.sgd, but one loop instead of ~13 tfjs ops per variable: for a small CNN the optimiser's
 * kernel launches cost more than its arithmetic.
 */
export class FlatOptimizer {
  private readonly m: Float32Array | null;
  private readonly v: Float32Array | null;
  private accBeta1 = 0.9;
  private accBeta2 = 0.999;
  private readonly epsilon: number;

  constructor(
    readonly kind: 'adam' | 'sgd',
    readonly learningRate: number,
    size: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
  ) {
    this.m = kind === 'adam' ? new Float32Array(size) : null;
    this.v = kind === 'adam' ? new Float32Array(size) : null;
    this.accBeta1 = beta1;
    this.accBeta2 = beta2;
    this.epsilon = tf.backend().epsilon();
  }

  /** Updates `w` in place from gradient `g`. */
  step(w: Float32Array, g: Float32Array): void {
    if (w.length !== g.length) throw new Error(`gradient has ${g.length} values for ${w.length} weights`);
    const lr = this.learningRate;
    if (!this.m || !this.v) {
      for (let i = 0; i < w.length; i++) w[i] -= lr * g[i];
      return;
    }
    const { beta1: b1, beta2: b2, epsilon: eps, m, v } = this;
    const c1 = 1 - this.accBeta1;
    const c2 = 1 - this.accBeta2;
    for (let i = 0; i < w.length; i++) {
      const gi = g[i];
      const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
      const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
      w[i] -= (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
    }
    this.accBeta1 *= b1;
    this.accBeta2 *= b2;
  }
}
