import * as tf from '@tensorflow/tfjs';
import { kernelSparsityEntropy, type KseOptions } from './kse.js';
import { countTrainable, TrainableMaskBuilder, type TrainableMask } from './trainable-mask.js';

/*
 * Targeted Gradient Descent's masks (Chen, Asma, Chan, MICCAI 2021). Every conv layer scores its
 * input channels with KSE; an input channel scoring below phi is one the layer barely uses, so the
 * filter of the previous conv layer that produces it is "redundant" and may be retrained for a new
 * site. Everything else stays frozen: useful filters, the first layer's image-facing inputs have no
 * producer to retrain, and the last layer (no conv reads its output) is never redundant.
 *
 * A channel keeps its index through batch norm, activations, pooling, dropout and upsampling, and
 * moves by the concat offset through a concatenation (U-Net's skips). Layers that mix channels of
 * several producers (Add: residual nets) or whose kernels are laid out differently (transposed,
 * depthwise, separable convs) are refused with the layer's name rather than guessed at.
 *
 * A filter read by several conv layers (a U-Net encoder output feeds both its skip and the next
 * level) is redundant only when every reader scores it below phi: one reader relying on it is
 * enough to freeze it (the paper's networks are sequential, where the question does not arise).
 */

export interface TgdOptions extends KseOptions {
  /** KSE threshold below which an input channel marks its producer redundant (0.3). */
  phi?: number;
}

/** What one conv layer's KSE said about the channels it reads. */
export interface ConsumerScores {
  layer: string;
  kse: number[];
  /** Producer filter of each input channel (null: an image channel or other non-conv source). */
  producers: ({ layer: string; channel: number } | null)[];
}

export interface TgdPlan {
  mask: TrainableMask;
  /** Redundant (retrained) filters per producer conv layer. */
  redundant: Record<string, number[]>;
  consumers: ConsumerScores[];
  /** Weight elements the mask lets change. */
  trainableElements: number;
}

/** Layers a channel passes through unchanged (same index in, same index out). */
const CHANNELWISE = new Set([
  'BatchNormalization', 'ReLU', 'Activation', 'MaxPooling2D', 'AveragePooling2D', 'Dropout', 'SpatialDropout2D',
  'UpSampling2D', 'LeakyReLU', 'ELU', 'Softmax', 'ZeroPadding2D', 'Cropping2D', 'GaussianNoise', 'GaussianDropout',
]);

interface Source {
  producer: string;
  channel: number;
  /** Batch norms between the producer and the reader: their channel belongs to the filter. */
  norms: string[];
}

function inbound(layer: tf.layers.Layer): tf.layers.Layer[] {
  if (layer.inboundNodes.length !== 1) throw new Error(`TGD masks need each layer used once; layer "${layer.name}" is applied ${layer.inboundNodes.length} times`);
  return layer.inboundNodes[0]!.inboundLayers as tf.layers.Layer[];
}

function channelsOf(layer: tf.layers.Layer): number {
  const shape = layer.outputShape as number[];
  return shape[shape.length - 1]!;
}

/** Where channel `c` of `layer`'s output comes from: the conv filter producing it, or null. */
function traceChannel(layer: tf.layers.Layer, c: number, norms: string[]): Source | null {
  const kind = layer.getClassName();
  if (kind === 'Conv2D') return { producer: layer.name, channel: c, norms };
  if (kind === 'InputLayer') return null;
  if (CHANNELWISE.has(kind)) {
    const [prev] = inbound(layer);
    return traceChannel(prev!, c, kind === 'BatchNormalization' ? [...norms, layer.name] : norms);
  }
  if (kind === 'Concatenate') {
    const axis = (layer.getConfig() as { axis?: number }).axis ?? -1;
    if (axis !== -1 && axis !== 3) throw new Error(`TGD masks follow concatenation along channels; layer "${layer.name}" concatenates along axis ${axis}`);
    let offset = 0;
    for (const part of inbound(layer)) {
      const n = channelsOf(part);
      if (c < offset + n) return traceChannel(part, c - offset, norms);
      offset += n;
    }
    throw new Error(`channel ${c} is past the ${offset} channels layer "${layer.name}" concatenates`);
  }
  throw new Error(
    `TGD masks follow a channel back to the conv filter that makes it through batch norm, activations, pooling, dropout, upsampling and concatenation; ` +
      `layer "${layer.name}" (${kind}) is none of these, so this architecture is not supported (cnn-small, dncnn and unet with up=upsample are)`,
  );
}

/** Scores every conv layer of `model` and builds the mask that opens only the redundant filters. */
export function planTgd(model: tf.LayersModel, opts: TgdOptions = {}): TgdPlan {
  const phi = opts.phi ?? 0.3;
  if (!(phi >= 0 && phi <= 1)) throw new Error(`TGD phi (KSE threshold) must be in [0, 1], got ${phi}`);
  for (const layer of model.layers) {
    const kind = layer.getClassName();
    if (/Conv/.test(kind) && kind !== 'Conv2D') {
      throw new Error(`TGD masks score Conv2D kernels; layer "${layer.name}" is a ${kind}, whose kernel is laid out differently; this architecture is not supported (cnn-small, dncnn and unet with up=upsample are)`);
    }
  }
  const consumers: ConsumerScores[] = [];
  // producer/channel -> still redundant after every reader so far, and the norms on the way.
  const verdict = new Map<string, { producer: string; channel: number; norms: Set<string>; redundant: boolean }>();
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'Conv2D') continue;
    const kernelVar = layer.getWeights()[0]!;
    const shape = kernelVar.shape as number[];
    const scores = kernelSparsityEntropy(kernelVar.dataSync(), shape, opts);
    const [prev] = inbound(layer);
    const producers = Array.from({ length: shape[2]! }, (_, c) => traceChannel(prev!, c, []));
    consumers.push({ layer: layer.name, kse: Array.from(scores.kse), producers: producers.map((p) => (p ? { layer: p.producer, channel: p.channel } : null)) });
    producers.forEach((p, c) => {
      if (!p) return;
      const key = `${p.producer}\u0000${p.channel}`;
      const seen = verdict.get(key) ?? { producer: p.producer, channel: p.channel, norms: new Set<string>(), redundant: true };
      seen.redundant &&= scores.kse[c]! < phi;
      p.norms.forEach((n) => seen.norms.add(n));
      verdict.set(key, seen);
    });
  }
  const builder = new TrainableMaskBuilder(model, 0);
  const redundant: Record<string, number[]> = {};
  for (const v of verdict.values()) {
    if (!v.redundant) continue;
    builder.setOutputChannels(v.producer, [v.channel], 1);
    for (const n of v.norms) builder.setOutputChannels(n, [v.channel], 1);
    (redundant[v.producer] ??= []).push(v.channel);
  }
  for (const list of Object.values(redundant)) list.sort((a, b) => a - b);
  const mask = builder.build();
  return { mask, redundant, consumers, trainableElements: countTrainable(mask) };
}
