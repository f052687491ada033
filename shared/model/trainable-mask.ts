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

/*
 * Wire form of a mask (TGD's Task.method_payload): 4 bytes ASCII "MSK1", a little-endian uint32
 * element count, then the elements packed 8 to a byte, element i in bit (i % 8) of byte i / 8
 * (least significant bit first); unused bits of the last byte are 0. About 1/32 of the model's size.
 */
const MAGIC = [0x4d, 0x53, 0x4b, 0x31]; // "MSK1"

export function encodeMask(mask: TrainableMask): Uint8Array {
  const n = mask.elements.length;
  const out = new Uint8Array(8 + Math.ceil(n / 8));
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, n, true);
  for (let i = 0; i < n; i++) {
    const v = mask.elements[i]!;
    if (v > 1) throw new Error(`mask element ${i} is ${v}; only 0 and 1 can be encoded`);
    if (v) out[8 + (i >> 3)]! |= 1 << (i & 7);
  }
  return out;
}

/**
 * Reads a mask sent for `model`, refusing (with the reason) bytes that are not a mask, are cut
 * short, or were made for a model of another size.
 */
export function decodeMask(bytes: Uint8Array, model: tf.LayersModel, what = 'the trainable mask'): TrainableMask {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error(`${what} is not a mask (${bytes.length} bytes without the MSK1 header); the coordinator and agent disagree on the payload format`);
  }
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  const expected = flatSize(model);
  if (n !== expected) throw new Error(`${what} covers ${n} weights, the model has ${expected}; it was computed for another architecture`);
  if (bytes.length !== 8 + Math.ceil(n / 8)) throw new Error(`${what} has ${bytes.length} bytes, ${8 + Math.ceil(n / 8)} expected for ${n} weights; it is truncated or padded`);
  const elements = new Uint8Array(n);
  for (let i = 0; i < n; i++) elements[i] = (bytes[8 + (i >> 3)]! >> (i & 7)) & 1;
  const spare = n & 7 ? bytes[bytes.length - 1]! >> (n & 7) : 0;
  if (spare !== 0) throw new Error(`${what} has bits set past its ${n} weights; it is corrupt`);
  return { elements };
}
