import * as tf from '@tensorflow/tfjs';

/*
 * Which weights training may change. Methods that fine-tune part of a network (TGD's redundant
 * filters, a truncated backbone's new head, channel scaling's scales) describe the part as one
 * element mask over the model's flat weights in manifest order (`model.weights`, trainable and
 * non-trainable alike: the same layout as the delta a site sends), so one mask means the same
 * thing at the coordinator, on the wire and in the trainer.
 *
 * 1 = the element may change, 0 = it stays bit-identical. For batch-norm moving mean/variance
 * (non-trainable) elements, 0 means the channel's running statistics stay as they were: training
 * mode updates them from every batch, which would silently move a "frozen" channel's output.
 */
export interface TrainableMask {
  /** One byte per element of the flat weights (manifest order); 1 trainable, 0 frozen. */
  readonly elements: Uint8Array;
}

/** A model's weight tensors with their offsets in the flat manifest-order vector. */
export interface WeightSlot {
  index: number;
  name: string;
  shape: number[];
  offset: number;
  size: number;
  trainable: boolean;
}

/** Where each of `model.weights` lies in the flat vector, and whether tfjs trains it. */
export function weightSlots(model: tf.LayersModel): WeightSlot[] {
  const trainable = new Set(model.trainableWeights);
  let offset = 0;
  return model.weights.map((w, index) => {
    const size = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    const slot = { index, name: w.originalName ?? w.name, shape: [...w.shape] as number[], offset, size, trainable: trainable.has(w) };
    offset += size;
    return slot;
  });
}

/** Number of elements in the model's flat weights. */
export function flatSize(model: tf.LayersModel): number {
  return model.weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

/**
 * Builds masks by name: start frozen (or open), then open whole layers or single output channels.
 * A layer's output channel is the last axis of its kernel and the only axis of its bias, batch-norm
 * gamma/beta and moving statistics, so "channel c of layer L" names one filter with everything
 * that belongs to it.
 */
export class TrainableMaskBuilder {
  private readonly slotOf: Map<tf.LayerVariable, WeightSlot>;
  private readonly elements: Uint8Array;

  constructor(private readonly model: tf.LayersModel, initial: 0 | 1 = 0) {
    const slots = weightSlots(model);
    this.slotOf = new Map(model.weights.map((w, i) => [w, slots[i]!]));
    this.elements = new Uint8Array(flatSize(model)).fill(initial);
  }

  /** Weight tensors of the layer called `layerName`. */
  private layerSlots(layerName: string): WeightSlot[] {
    const layer = this.model.layers.find((l) => l.name === layerName);
    if (!layer || layer.weights.length === 0) {
      const named = this.model.layers.filter((l) => l.weights.length > 0).map((l) => l.name);
      throw new Error(`the model has no layer "${layerName}" with weights; layers with weights: ${named.join(', ')}`);
    }
    return layer.weights.map((w) => this.slotOf.get(w)!);
  }

  /** Every weight of the layer (kernel, bias, gamma, beta, moving statistics) may change or not. */
  setLayer(layerName: string, value: 0 | 1): this {
    for (const s of this.layerSlots(layerName)) this.elements.fill(value, s.offset, s.offset + s.size);
    return this;
  }

  /** Output channels `channels` of the layer (kernel slice, bias, gamma, beta, moving statistics). */
  setOutputChannels(layerName: string, channels: Iterable<number>, value: 0 | 1): this {
    const list = [...channels];
    for (const s of this.layerSlots(layerName)) {
      const out = s.shape[s.shape.length - 1]!;
      for (const c of list) {
        if (!Number.isInteger(c) || c < 0 || c >= out) throw new Error(`channel ${c} is outside 0..${out - 1} of ${s.name}`);
        for (let i = c; i < s.size; i += out) this.elements[s.offset + i] = value;
      }
    }
    return this;
  }

  build(): TrainableMask {
    return { elements: this.elements.slice() };
  }
}

/** Throws a clear error unless `mask` fits `model`'s flat weights and holds only 0s and 1s. */
export function checkMask(model: tf.LayersModel, mask: TrainableMask): void {
  const n = flatSize(model);
  if (mask.elements.length !== n) throw new Error(`the trainable mask has ${mask.elements.length} elements, the model's weights ${n}; the mask was made for another architecture`);
  for (let i = 0; i < n; i++) {
    if (mask.elements[i]! > 1) throw new Error(`the trainable mask holds ${mask.elements[i]} at element ${i}; only 0 (frozen) and 1 (trainable) are allowed`);
  }
}

/** Elements of the mask that may change. */
export function countTrainable(mask: TrainableMask): number {
  let n = 0;
  for (const v of mask.elements) n += v;
  return n;
}

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
