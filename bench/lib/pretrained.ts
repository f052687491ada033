import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadMedmnistSplits, type ImageSet } from '../../shared/data/index.js';
import { buildModel, evaluateTask, loadLayersModelFromDir, saveLayersModelToDir } from '../../shared/model/index.js';
import { trainModel } from '../../node-agent/trainer/local-trainer.js';
import { benchOutFile } from './rss-series.js';

/*
 * The pretrained networks the truncation and pruning benchmarks start from: trained here, on a
 * subsample of PneumoniaMNIST's training split, and cached in .bench-out so a second run (or the
 * other benchmark) reuses them. The cache key names the architecture, subsample, epochs and seed.
 */

export interface PneumoniaSplits {
  /** What the network is pretrained on. */
  train: ImageSet;
  /** Other training-split images, never seen in pretraining: what a new head or channel scales are fitted on. */
  tune: ImageSet;
  val: ImageSet;
  test: ImageSet;
}

/** Images `from` .. `from + count` of `set` after a seeded shuffle (a fixed subsample). */
export function subsample(set: ImageSet, count: number, seed: number, from = 0): ImageSet {
  if (from + count > set.count) throw new Error(`asked for images ${from}..${from + count} of a split of ${set.count}`);
  const idx = Int32Array.from({ length: set.count }, (_, i) => i);
  let a = seed >>> 0 || 1;
  for (let i = set.count - 1; i > 0; i--) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    const j = a % (i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  const pick = idx.subarray(from, from + count);
  const pixels = set.height * set.width * set.channels;
  const images = new Float32Array(count * pixels);
  pick.forEach((src, i) => images.set(set.images.subarray(src * pixels, (src + 1) * pixels), i * pixels));
  return { images, labels: Int32Array.from(pick, (src) => set.labels[src]!), count, height: set.height, width: set.width, channels: set.channels, classes: set.classes };
}

export function loadPneumonia(path: string, trainCount: number, tuneCount: number, seed: number): PneumoniaSplits {
  const all = loadMedmnistSplits(path, ['train', 'val', 'test']);
  return { train: subsample(all.train, trainCount, seed), tune: subsample(all.train, tuneCount, seed, trainCount), val: all.val, test: all.test };
}

/**
 * cnn-small with every conv twice as wide (32/64/128 channels): the same layer types and names, so
 * Medley's trainer and surgery treat it like the zoo network.
 */
export function wideCnn(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1], name: 'image' });
  let x: tf.SymbolicTensor = input;
  [32, 64, 128].forEach((filters, i) => {
    const n = i + 1;
    x = tf.layers.conv2d({ name: `conv${n}`, filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: seed * 1000 + i }) }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: `conv${n}_bn`, momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ name: `conv${n}_relu` }).apply(x) as tf.SymbolicTensor;
    if (n < 3) x = tf.layers.maxPooling2d({ name: `pool${n}`, poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'classifier', units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1000 + 9 }) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'cnn-wide' });
}

export interface Pretrained {
  model: tf.LayersModel;
  arch: string;
  epochs: number;
  /** Whether it came from the cache. */
  cached: boolean;
  folder: string;
}

/** Trains (or loads from .bench-out) `arch` ('cnn-small' or 'cnn-wide') on `train`. */
export async function pretrained(arch: 'cnn-small' | 'cnn-wide', train: ImageSet, epochs: number, seed: number, log: (s: string) => void): Promise<Pretrained> {
  const dir = dirname(await benchOutFile(join(`pretrained-${arch}-n${train.count}-e${epochs}-s${seed}`, 'model.json')));
  const stamp = join(dir, 'trained.json');
  if (existsSync(stamp)) {
    log(`pretrained ${arch}: loading ${dir}`);
    return { model: await loadLayersModelFromDir(dir), arch, epochs, cached: true, folder: dir };
  }
  const model = arch === 'cnn-wide' ? wideCnn(seed) : buildModel({ arch: 'cnn-small', inputShape: [28, 28, 1], classes: 2 }, seed);
  log(`pretrained ${arch}: training ${epochs} epochs on ${train.count} images`);
  const result = await trainModel(model, train, { epochs, batchSize: 32, learningRate: 0.003, seed });
  await saveLayersModelToDir(model, dir);
  await writeFile(stamp, JSON.stringify({ arch, epochs, seed, images: train.count, loss: result.loss, seconds: result.seconds }));
  return { model, arch, epochs, cached: false, folder: dir };
}

export async function aurocAuprc(model: tf.LayersModel, set: ImageSet): Promise<{ auroc: number; auprc: number }> {
  const m = await evaluateTask(model, set, 'classification');
  return { auroc: m.auroc!, auprc: m.auprc! };
}
