import type * as tf from '@tensorflow/tfjs';
import { SurgeryError } from './graph.js';

/*
 * Floating-point operations of one forward pass of one image (batch 1, inference mode).
 * What counts as a FLOP: one multiply, add, compare, divide or exp on a float. A multiply-add is
 * two. So:
 *   Conv2D / Dense      2 x (multiplies of the dot products) + 1 per output for a bias
 *   DepthwiseConv2D     2 x kh x kw x outputs (+1 per output for a bias)
 *   BatchNormalization  2 per element (inference folds it into one scale and one shift)
 *   activations         1 per element (ReLU's compare, ...); softmax 3 per element (exp, sum, divide)
 *   MaxPooling2D        ph x pw - 1 compares per output; AveragePooling2D ph x pw (adds and a divide)
 *   GlobalAverage/Max   H x W per channel (adds and a divide / compares)
 *   Add etc.            (inputs - 1) per element
 *   Input, Flatten, Reshape, Dropout (off at inference), padding, cropping: 0
 * A layer the counter does not know is refused by name rather than counted as 0.
 */

export interface LayerFlops {
  name: string;
  className: string;
  parameters: number;
  flops: number;
}

export interface FlopCount {
  /** Per image, forward pass. */
  flops: number;
  parameters: number;
  layers: LayerFlops[];
}

const FREE = new Set(['InputLayer', 'Flatten', 'Reshape', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ZeroPadding2D', 'Cropping2D', 'Permute']);
const ELEMENTWISE_ACTIVATIONS = new Set(['ReLU', 'LeakyReLU', 'ELU', 'PReLU', 'ThresholdedReLU']);
const MERGE = new Set(['Add', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Subtract']);

const prod = (dims: readonly (number | null)[]): number => dims.reduce<number>((a, d) => a * (d ?? 1), 1);

function shapesOf(x: tf.SymbolicTensor | tf.SymbolicTensor[]): number[][] {
  return (Array.isArray(x) ? x : [x]).map((t) => t.shape.slice(1).map((d) => d ?? 1));
}

function activationFlops(activation: unknown, elements: number): number {
  if (activation === undefined || activation === null || activation === 'linear') return 0;
  return activation === 'softmax' ? 3 * elements : elements;
}

function layerFlops(layer: tf.layers.Layer): number {
  const cls = layer.getClassName();
  if (FREE.has(cls)) return 0;
  const config = layer.getConfig() as Record<string, unknown>;
  const [input] = shapesOf(layer.input as tf.SymbolicTensor | tf.SymbolicTensor[]);
  const output = shapesOf(layer.output as tf.SymbolicTensor | tf.SymbolicTensor[])[0]!;
  const outElems = prod(output);
  const inElems = prod(input!);
  const bias = (config.useBias ?? config.use_bias) === true ? outElems : 0;
  switch (cls) {
    case 'Conv2D': {
      const [kh, kw] = (config.kernelSize ?? config.kernel_size) as number[];
      const cin = input![input!.length - 1]!;
      return 2 * kh! * kw! * cin * outElems + bias + activationFlops(config.activation, outElems);
    }
    case 'DepthwiseConv2D': {
      const [kh, kw] = (config.kernelSize ?? config.kernel_size) as number[];
      return 2 * kh! * kw! * outElems + bias + activationFlops(config.activation, outElems);
    }
    case 'Dense': {
      const inFeatures = input![input!.length - 1]!;
      return 2 * inFeatures * outElems + bias + activationFlops(config.activation, outElems);
    }
    case 'BatchNormalization':
      return 2 * outElems;
    case 'Activation':
      return activationFlops(config.activation, outElems);
    case 'Softmax':
      return 3 * outElems;
    case 'MaxPooling2D': {
      const [ph, pw] = (config.poolSize ?? config.pool_size) as number[];
      return (ph! * pw! - 1) * outElems;
    }
    case 'AveragePooling2D': {
      const [ph, pw] = (config.poolSize ?? config.pool_size) as number[];
      return ph! * pw! * outElems;
    }
    case 'GlobalAveragePooling2D':
      return inElems;
    case 'GlobalMaxPooling2D':
      return inElems - outElems;
    case 'UpSampling2D':
      return 0;
    case 'Concatenate':
      return 0;
    default:
      if (ELEMENTWISE_ACTIVATIONS.has(cls)) return outElems;
      if (MERGE.has(cls)) return (shapesOf(layer.input as tf.SymbolicTensor[]).length - 1) * outElems;
      throw new SurgeryError(`the FLOP counter does not know layer ${layer.name} (${cls}); it counts Conv2D, DepthwiseConv2D, Dense, BatchNormalization, pooling, activations and merges`);
  }
}

/** Parameters and FLOPs per image of one forward pass, per layer and in all. */
export function countFlops(model: tf.LayersModel): FlopCount {
  const layers = model.layers.map((layer) => ({ name: layer.name, className: layer.getClassName(), parameters: layer.countParams(), flops: layerFlops(layer) }));
  return {
    flops: layers.reduce((s, l) => s + l.flops, 0),
    parameters: layers.reduce((s, l) => s + l.parameters, 0),
    layers,
  };
}

/** Parameters of the Conv2D/DepthwiseConv2D layers alone (what channel pruning aims at). */
export function convParameters(model: tf.LayersModel): number {
  return model.layers.filter((l) => l.getClassName() === 'Conv2D' || l.getClassName() === 'DepthwiseConv2D').reduce((s, l) => s + l.countParams(), 0);
}
