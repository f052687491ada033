import * as tf from '@tensorflow/tfjs';
import { dncnn } from './dncnn.js';
import { TASK_KINDS, type TaskKind } from './task-kind.js';
import { unet, UPSAMPLING_MODES, type UpsamplingMode } from './unet.js';
import { convBn, Initialisers, type Sym } from './zoo-layers.js';

export const ARCHITECTURES = ['cnn-small', 'resnet-mini', 'unet', 'dncnn'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export interface ModelSpec {
  arch: Architecture;
  /** [height, width, channels] */
  inputShape: [number, number, number];
  /**
   * Classifiers: number of classes (softmax) or of labels (multi-label, one sigmoid each).
   * Image-to-image models (unet, dncnn) ignore it; it is recorded as their output channels.
   */
  classes: number;
  /**
   * What the model is trained for; it fixes the loss and the metrics a site reports. Absent in
   * specs written before task types existed: those are classification.
   */
  task?: TaskKind;
  /** unet: 2x downsamplings (default 2); dncnn: conv layers in all (default 8). */
  depth?: number;
  /** unet: filters at the first level (default 8); dncnn: filters per layer (default 16). */
  filters?: number;
  /** unet: how the decoder upsamples (default 'upsample'). */
  up?: UpsamplingMode;
}

export const DEFAULT_SEED = 1234;

/** The task each architecture is built for when the spec names none. */
const NATIVE_TASK: Record<Architecture, TaskKind> = {
  'cnn-small': 'classification',
  'resnet-mini': 'classification',
  unet: 'segmentation',
  dncnn: 'denoising',
};

const DEFAULTS = { unet: { depth: 2, filters: 8 }, dncnn: { depth: 8, filters: 16 } } as const;

/** Throws a readable error unless `name` is a zoo architecture. */
export function parseArchitecture(name: string): Architecture {
  const n = name.trim().toLowerCase();
  if ((ARCHITECTURES as readonly string[]).includes(n)) return n as Architecture;
  throw new Error(`unknown model architecture '${name}'; the zoo has: ${ARCHITECTURES.join(', ')}`);
}

/** The task a spec trains for (spec.task, else the architecture's own). */
export function taskOfSpec(spec: Pick<ModelSpec, 'arch' | 'task'>): TaskKind {
  return spec.task ?? NATIVE_TASK[spec.arch];
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
  const { inputShape: _s, classes: _c, ...rest } = defaults;
  return validateModelSpec(completeSpec({ ...rest, arch, inputShape, classes }));
}

/**
 * Fills in what a spec left to defaults (task, and depth/filters/up for the image-to-image
 * models), so the manifest records exactly what was built.
 */
export function completeSpec(spec: ModelSpec): ModelSpec {
  const out: ModelSpec = { ...spec, task: taskOfSpec(spec) };
  if (spec.arch === 'unet') {
    out.depth = spec.depth ?? DEFAULTS.unet.depth;
    out.filters = spec.filters ?? DEFAULTS.unet.filters;
    out.up = spec.up ?? 'upsample';
    out.classes = 1;
  } else if (spec.arch === 'dncnn') {
    out.depth = spec.depth ?? DEFAULTS.dncnn.depth;
    out.filters = spec.filters ?? DEFAULTS.dncnn.filters;
    out.classes = spec.inputShape?.[2] ?? spec.classes;
  }
  return out;
}

export function validateModelSpec(spec: ModelSpec): ModelSpec {
  parseArchitecture(spec.arch);
  const [h, w, c] = spec.inputShape ?? [];
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) > 0;
  if (!ok(h) || !ok(w) || !ok(c) || spec.inputShape.length !== 3) {
    throw new Error(`model inputShape must be three positive integers [height, width, channels], got ${JSON.stringify(spec.inputShape)}`);
  }
  if (h < 8 || w < 8) throw new Error(`model input ${h}x${w} is too small; the zoo needs at least 8x8 pixels`);
  const task = taskOfSpec(spec);
  if (!(TASK_KINDS as readonly string[]).includes(task)) throw new Error(`model task '${task}' is not one of ${TASK_KINDS.join(', ')}`);
  if (task !== NATIVE_TASK[spec.arch] && !(task === 'multi-label' && NATIVE_TASK[spec.arch] === 'classification')) {
    const native = NATIVE_TASK[spec.arch] === 'classification' ? 'classification or multi-label' : NATIVE_TASK[spec.arch];
    const instead = task === 'segmentation' ? 'unet' : task === 'denoising' ? 'dncnn' : 'cnn-small or resnet-mini';
    throw new Error(`${spec.arch} cannot be trained for ${task}: it is built for ${native}; for ${task} use ${instead}`);
  }
  if (spec.arch === 'unet' || spec.arch === 'dncnn') return validateImageToImage(spec);
  if (!ok(spec.classes) || spec.classes < 2) {
    throw new Error(`model classes must be an integer >= 2 (use 2 for a binary task), got ${spec.classes}`);
  }
  return spec;
}

function validateImageToImage(spec: ModelSpec): ModelSpec {
  const [h, w] = spec.inputShape;
  const depth = spec.depth ?? DEFAULTS[spec.arch as 'unet' | 'dncnn'].depth;
  const filters = spec.filters ?? DEFAULTS[spec.arch as 'unet' | 'dncnn'].filters;
  if (!Number.isInteger(filters) || filters < 1 || filters > 1024) throw new Error(`${spec.arch} filters must be an integer from 1 to 1024, got ${filters}`);
  if (spec.arch === 'unet') {
    if (!Number.isInteger(depth) || depth < 1 || depth > 6) throw new Error(`unet depth must be an integer from 1 to 6, got ${depth}`);
    const step = 2 ** depth;
    if (h % step !== 0 || w % step !== 0) {
      throw new Error(`unet depth ${depth} halves the image ${depth} times, so its side must be divisible by ${step}; ${h}x${w} is not (use e.g. ${Math.ceil(h / step) * step}x${Math.ceil(w / step) * step}, or a smaller depth)`);
    }
    if (spec.up !== undefined && !UPSAMPLING_MODES.includes(spec.up)) throw new Error(`unet upsampling '${spec.up}' is not one of ${UPSAMPLING_MODES.join(', ')}`);
  } else if (!Number.isInteger(depth) || depth < 2 || depth > 30) {
    throw new Error(`dncnn depth (conv layers in all) must be an integer from 2 to 30, got ${depth}`);
  }
  return spec;
}

/**
 * Builds a zoo model with deterministic initial weights for a given seed. Only built-in layers with
 * fixed names are used, so `toJSON()` → `modelFromJSON` round-trips and weight names match across
 * processes (the federation exchanges weights by name).
 */
export function buildModel(spec: ModelSpec, seed: number = DEFAULT_SEED): tf.LayersModel {
  const full = completeSpec(validateModelSpec(spec));
  const init = new Initialisers(seed);
  const input = tf.input({ shape: full.inputShape, name: 'image' });
  if (full.arch === 'unet') {
    return tf.model({ inputs: input, outputs: unet(input, { depth: full.depth!, filters: full.filters!, up: full.up! }, init), name: 'unet' });
  }
  if (full.arch === 'dncnn') {
    return tf.model({ inputs: input, outputs: dncnn(input, { depth: full.depth!, filters: full.filters! }, init), name: 'dncnn' });
  }
  const features = full.arch === 'cnn-small' ? cnnSmall(input, init) : resnetMini(input, init);
  const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(features) as tf.SymbolicTensor;
  // Multi-label: one independent sigmoid per label; otherwise one softmax over the classes.
  const activation = full.task === 'multi-label' ? 'sigmoid' : 'softmax';
  const output = tf.layers
    .dense({ units: full.classes, activation, name: 'classifier', kernelInitializer: init.glorot(), biasInitializer: 'zeros' })
    .apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: full.arch });
}

export function describeModel(model: tf.LayersModel): { parameters: number; layers: number } {
  return { parameters: model.countParams(), layers: model.layers.length };
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
