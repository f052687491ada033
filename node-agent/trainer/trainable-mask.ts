import * as tf from '@tensorflow/tfjs';
import { checkMask, weightSlots, type TrainableMask } from '../../shared/model/trainable-mask.js';

/*
 * The mask itself (what may change, built by layer and channel) lives in shared/model, so the
 * coordinator can compute one (TGD's masks from the base model) and the agent check it; this file
 * is the trainer's side: keeping frozen elements frozen while it trains.
 */
export {
  checkMask, countTrainable, flatSize, TrainableMaskBuilder, weightSlots, type TrainableMask, type WeightSlot,
} from '../../shared/model/trainable-mask.js';

interface VariableGuard {
  variable: tf.Variable;
  /** Per element of this variable: 1 trainable. */
  mask: Uint8Array;
  /** The variable's values when training started; frozen elements are restored from these. */
  original: Float32Array;
}

/**
 * Keeps frozen elements frozen while a trainer runs. Two mechanisms, both needed:
 * - gradients of frozen elements are zeroed, so Adam's moments of frozen elements stay zero and
 *   nothing frozen feeds the optimiser's state;
 * - after every step the frozen elements are written back from the values they had at the start.
 *   That makes "bit-identical" independent of the optimiser's arithmetic (weight decay, Adam's
 *   epsilon, float rounding) and covers batch-norm moving statistics, which the forward pass
 *   updates outside any optimiser.
 */
export class MaskGuard {
  /** Trainable variables (model.trainableWeights order) that have frozen elements. */
  private readonly trainable: VariableGuard[];
  /** Same for non-trainable variables (batch-norm moving statistics). */
  private readonly state: VariableGuard[];
  /** Per element of the flat trainable vector (trainableWeights order): 1 trainable. */
  readonly trainableFlat: Uint8Array;
  private readonly trainableOriginal: Float32Array;

  constructor(model: tf.LayersModel, mask: TrainableMask) {
    checkMask(model, mask);
    const slots = weightSlots(model);
    const slotOf = new Map(model.weights.map((w, i) => [w, slots[i]!]));
    const guard = (w: tf.LayerVariable): VariableGuard => {
      const s = slotOf.get(w)!;
      const variable = w.read() as tf.Variable;
      return { variable, mask: mask.elements.subarray(s.offset, s.offset + s.size), original: Float32Array.from(variable.dataSync() as Float32Array) };
    };
    const hasFrozen = (g: VariableGuard) => g.mask.includes(0);
    const all = model.trainableWeights.map(guard);
    this.trainable = all.filter(hasFrozen);
    this.state = model.nonTrainableWeights.map(guard).filter(hasFrozen);
    const total = all.reduce((n, g) => n + g.mask.length, 0);
    this.trainableFlat = new Uint8Array(total);
    this.trainableOriginal = new Float32Array(total);
    let off = 0;
    for (const g of all) {
      this.trainableFlat.set(g.mask, off);
      this.trainableOriginal.set(g.original, off);
      off += g.mask.length;
    }
  }

  /** Zeroes the frozen entries of a flat gradient in trainableWeights order. */
  maskFlatGradients(grads: Float32Array): void {
    const m = this.trainableFlat;
    for (let i = 0; i < grads.length; i++) if (m[i] === 0) grads[i] = 0;
  }

  /** Writes the starting values back into the frozen entries of a flat weight vector (trainableWeights order). */
  restoreFlatWeights(weights: Float32Array): void {
    const m = this.trainableFlat;
    const o = this.trainableOriginal;
    for (let i = 0; i < weights.length; i++) if (m[i] === 0) weights[i] = o[i]!;
  }

  /**
   * Gradients keyed by variable name with frozen entries set to zero. Call inside the step's
   * tf.tidy: the new tensors belong to it.
   */
  maskNamedGradients(grads: tf.NamedTensorMap): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = { ...grads };
    for (const g of this.trainable) {
      const grad = grads[g.variable.name];
      if (!grad) continue;
      out[g.variable.name] = tf.where(tf.tensor(g.mask, grad.shape, 'bool'), grad, tf.zerosLike(grad));
    }
    return out;
  }

  /** Restores frozen elements of the model's trainable variables (tfjs optimiser path). */
  restoreTrainableVariables(): void {
    this.restore(this.trainable);
  }

  /** Restores the running statistics of frozen batch-norm channels after a training-mode forward pass. */
  restoreState(): void {
    this.restore(this.state);
  }

  private restore(guards: VariableGuard[]): void {
    for (const g of guards) {
      const now = g.variable.dataSync() as Float32Array;
      const fixed = Float32Array.from(now);
      let changed = false;
      for (let i = 0; i < fixed.length; i++) {
        if (g.mask[i] === 0 && !Object.is(fixed[i], g.original[i])) {
          fixed[i] = g.original[i]!;
          changed = true;
        }
      }
      if (changed) tf.tidy(() => g.variable.assign(tf.tensor(fixed, g.variable.shape, 'float32')));
    }
  }
}
