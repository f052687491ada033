import * as tf from '@tensorflow/tfjs';

/*
 * FedProx's proximal term (Li et al. 2020): the local objective gains mu/2 * ||w - w_global||^2,
 * which keeps a site with skewed data from drifting far from the model the round started from.
 * Its gradient mu * (w - w_global) is added to the data gradient before the optimiser sees it, so
 * Adam's moments and SGD alike treat it as part of the loss. Only trainable weights take part:
 * batch-norm moving statistics are not optimised and follow the data as usual.
 */

/** Returns `mu` when it is a usable coefficient (0 when absent); throws naming the value otherwise. */
export function checkProximalMu(mu: number | undefined): number {
  if (mu === undefined) return 0;
  if (typeof mu !== 'number' || !Number.isFinite(mu) || mu < 0) {
    throw new RangeError(
      `FedProx proximalMu ${String(mu)} is not a finite number >= 0; it comes with the task from the ` +
        "coordinator's FedProx mu, which must be 0 (off) or a positive number",
    );
  }
  return mu;
}

/** The proximal gradient over one flat vector of trainable weights (the compiled step's layout). */
export class FlatProximalTerm {
  private readonly anchor: Float32Array;

  /** `anchor` is copied: it must stay the round's starting weights while `weights` moves. */
  constructor(readonly mu: number, anchor: Float32Array) {
    this.mu = checkProximalMu(mu);
    this.anchor = Float32Array.from(anchor);
  }

  /** Adds mu * (w - anchor) to `grads` in place. */
  addTo(weights: Float32Array, grads: Float32Array): void {
    const { mu, anchor } = this;
    if (weights.length !== anchor.length || grads.length !== anchor.length) {
      throw new Error(`proximal term holds ${anchor.length} weights, got ${weights.length} weights and ${grads.length} gradients`);
    }
    for (let i = 0; i < grads.length; i++) grads[i] += mu * (weights[i] - anchor[i]);
  }
}

/** The same term for the autodiff path, whose gradients are tensors keyed by variable name. */
export class TensorProximalTerm {
  private readonly anchors: tf.Tensor[];

  constructor(readonly mu: number, private readonly vars: readonly tf.Variable[]) {
    this.mu = checkProximalMu(mu);
    this.anchors = vars.map((v) => tf.keep(v.clone()));
  }

  /** Returns `grads` with mu * (w - anchor) added; call inside a tidy (the sums are new tensors). */
  addTo(grads: tf.NamedTensorMap): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = { ...grads };
    this.vars.forEach((v, i) => {
      const g = grads[v.name];
      if (!g) throw new Error(`no gradient for trainable variable ${v.name}`);
      out[v.name] = tf.add(g, tf.mul(tf.sub(v, this.anchors[i]), this.mu));
    });
    return out;
  }

  dispose(): void {
    tf.dispose(this.anchors);
  }
}
