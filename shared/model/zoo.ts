import * as tf from '@tensorflow/tfjs';

export const ARCHITECTURES = ['cnn-small', 'resnet-mini'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export interface ModelSpec {
  arch: Architecture;
  /** [height, width, channels] */
  inputShape: [number, number, number];
  classes: number;
}

export const DEFAULT_SEED = 1234;

/** Throws a readable error unless `name` is a zoo architecture. */
export function parseArchitecture(name: string): Architecture {
  const n = name.trim().toLowerCase();
  if ((ARCHITECTURES as readonly string[]).includes(n)) return n as Architecture;
  throw new Error(`unknown model architecture '${name}'; the zoo has: ${ARCHITECTURES.join(', ')}`);
}

/**
 * `'cnn-small'` or `'cnn-small:64x64x1:2'` (arch[:HxWxC[:classes]]) → a validated spec. Omitted parts
 * come from `defaults` (28x28x1, 2 classes when not given).
 */
export function modelSpecFromString(text: string, defaults: Partial<Omit<ModelSpec, 'arch'>> = {}): ModelSpec {
  const [archText, shapeText, classText] = text.split(':');
  const arch = parseArchitecture(archText);
  let inputShape = defaults.inputShape ?? [28, 28, 1];
  if (shapeText) {
    const dims = shapeText.toLowerCase().split('x').map((d) => Number(d));
    if (dims.length !== 3) throw new Error(`model input shape '${shapeText}' must look like HxWxC, e.g. 64x64x1`);
    inputShape = dims as [number, number, number];
  }
  const classes = classText ? Number(classText) : defaults.classes ?? 2;
  return validateModelSpec({ arch, inputShape, classes });
}

export function validateModelSpec(spec: ModelSpec): ModelSpec {
  parseArchitecture(spec.arch);
  const [h, w, c] = spec.inputShape ?? [];
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) > 0;
  if (!ok(h) || !ok(w) || !ok(c) || spec.inputShape.length !== 3) {
    throw new Error(`model inputShape must be three positive integers [height, width, channels], got ${JSON.stringify(spec.inputShape)}`);
  }
  if (h < 8 || w < 8) throw new Error(`model input ${h}x${w} is too small; the zoo needs at least 8x8 pixels`);
  if (!ok(spec.classes) || spec.classes < 2) {
    throw new Error(`model classes must be an integer >= 2 (use 2 for a binary task), got ${spec.classes}`);
  }
  return spec;
}

/**
 * Builds a zoo model with deterministic initial weights for a given seed. Only built-in layers with
 * fixed names are used, so `toJSON()` → `modelFromJSON` round-trips and weight names match across
 * processes (the federation exchanges weights by name).
 */
export function buildModel(spec: ModelSpec, seed: number = DEFAULT_SEED): tf.LayersModel {
  validateModelSpec(spec);
  const init = new Initialisers(seed);
  const input = tf.input({ shape: spec.inputShape, name: 'image' });
  const features = spec.arch === 'cnn-small' ? cnnSmall(input, init) : resnetMini(input, init);
  const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(features) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({ units: spec.classes, activation: 'softmax', name: 'classifier', kernelInitializer: init.glorot(), biasInitializer: 'zeros' })
    .apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: spec.arch });
}

export function describeModel(model: tf.LayersModel): { parameters: number; layers: number } {
  return { parameters: model.countParams(), layers: model.layers.length };
}

type Initializer = ReturnType<typeof tf.initializers.heNormal>;

/** Hands each layer its own seed so initial weights depend only on (seed, layer order). */
class Initialisers {
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

type Sym = tf.SymbolicTensor;

function convBn(x: Sym, name: string, filters: number, kernel: number, strides: number, init: Initialisers, relu = true): Sym {
  // No conv bias: batch norm's beta plays that role, and the PyTorch twin is built the same way.
  let y = tf.layers
    .conv2d({ name, filters, kernelSize: kernel, strides, padding: 'same', useBias: false, kernelInitializer: init.he() })
    .apply(x) as Sym;
  y = tf.layers.batchNormalization({ name: `${name}_bn`, momentum: 0.9, epsilon: 1e-5 }).apply(y) as Sym;
  return relu ? (tf.layers.reLU({ name: `${name}_relu` }).apply(y) as Sym) : y;
}

/**
 * Three conv-bn-relu stages (16/32/64 channels), max-pooling between them, global average pooling.
 * About 24k parameters: small enough to train at hundreds of images/s on 2 CPU cores.
 */
function cnnSmall(input: Sym, init: Initialisers): Sym {
  let x = convBn(input, 'conv1', 16, 3, 1, init);
  x = tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }).apply(x) as Sym;
  x = convBn(x, 'conv2', 32, 3, 1, init);
  x = tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }).apply(x) as Sym;
  x = convBn(x, 'conv3', 64, 3, 1, init);
  return x;
}

function residual(x: Sym, name: string, filters: number, strides: number, init: Initialisers): Sym {
  const inChannels = x.shape[x.shape.length - 1];
  let y = convBn(x, `${name}_a`, filters, 3, strides, init);
  y = convBn(y, `${name}_b`, filters, 3, 1, init, false);
  const skip = strides !== 1 || inChannels !== filters ? convBn(x, `${name}_proj`, filters, 1, strides, init, false) : x;
  const sum = tf.layers.add({ name: `${name}_add` }).apply([y, skip]) as Sym;
  return tf.layers.reLU({ name: `${name}_relu` }).apply(sum) as Sym;
}

/** Stem plus three residual blocks (16, 32/2, 64/2), the strided ones with 1x1 projections. */
function resnetMini(input: Sym, init: Initialisers): Sym {
  let x = convBn(input, 'stem', 16, 3, 1, init);
  x = residual(x, 'block1', 16, 1, init);
  x = residual(x, 'block2', 32, 2, init);
  x = residual(x, 'block3', 64, 2, init);
  return x;
}
