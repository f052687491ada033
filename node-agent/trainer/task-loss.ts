import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../shared/data/types.js';
import type { TaskKind } from '../../shared/model/index.js';

/*
 * The loss each task type minimises, as one function of (targets, model output), and the target
 * tensor a batch of examples trains against. Probabilities are clipped to [EPS, 1 - EPS] inside
 * logarithms, as Keras does, so one confident mistake cannot make a loss infinite.
 */

export type DenoisingLoss = 'l1' | 'l2';
export const DENOISING_LOSSES: readonly DenoisingLoss[] = ['l1', 'l2'];

export interface LossOptions {
  /** Denoising only: mean absolute (l1) or mean squared (l2, the default) error against the clean image. */
  denoisingLoss?: DenoisingLoss;
}

const EPS = 1e-7;
/** Laplace smoothing of the soft Dice: an empty mask predicted empty scores 1, not 0/0. */
const DICE_SMOOTH = 1;

/** Mean binary cross-entropy over every element (labels of a multi-label task, pixels of a mask). */
export function binaryCrossEntropy(yTrue: tf.Tensor, p: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const q = tf.clipByValue(p, EPS, 1 - EPS);
    const terms = tf.add(tf.mul(yTrue, tf.log(q)), tf.mul(tf.sub(1, yTrue), tf.log(tf.sub(1, q))));
    return tf.neg(tf.mean(terms)) as tf.Scalar;
  });
}

/** 1 - soft Dice per image, (2 sum(p y) + 1) / (sum p + sum y + 1), averaged over the batch. */
export function softDiceLoss(yTrue: tf.Tensor, p: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const n = yTrue.shape[0]!;
    const y = tf.reshape(yTrue, [n, -1]);
    const q = tf.reshape(p, [n, -1]);
    const inter = tf.sum(tf.mul(y, q), 1);
    const total = tf.add(tf.sum(y, 1), tf.sum(q, 1));
    const dice = tf.div(tf.add(tf.mul(inter, 2), DICE_SMOOTH), tf.add(total, DICE_SMOOTH));
    return tf.sub(1, tf.mean(dice)) as tf.Scalar;
  });
}

/** The training loss of `task` for a batch: targets `yTrue` (see targetBatch), model output `yPred`. */
export function taskLoss(task: TaskKind, yTrue: tf.Tensor, yPred: tf.Tensor, opts: LossOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    switch (task) {
      case 'classification':
        return tf.mean(tf.metrics.categoricalCrossentropy(yTrue, yPred)) as tf.Scalar;
      case 'multi-label':
        return binaryCrossEntropy(yTrue, yPred);
      case 'segmentation':
        return tf.add(softDiceLoss(yTrue, yPred), binaryCrossEntropy(yTrue, yPred)) as tf.Scalar;
      case 'denoising': {
        const err = tf.sub(yPred, yTrue);
        return (opts.denoisingLoss === 'l1' ? tf.mean(tf.abs(err)) : tf.mean(tf.square(err))) as tf.Scalar;
      }
    }
  });
}

/**
 * What the examples `indices` train against: one-hot labels (classification), or their dense
 * targets (label vectors, masks, clean images) in the batch's order.
 */
export function targetBatch(data: ImageSet, indices: ArrayLike<number>, task: TaskKind): tf.Tensor {
  if (task === 'classification') {
    const onehot = new Float32Array(indices.length * data.classes);
    for (let i = 0; i < indices.length; i++) {
      const k = indices[i]!;
      const label = data.labels[k]!;
      if (label < 0 || label >= data.classes) throw new Error(`label ${label} of example ${k} is outside 0..${data.classes - 1}`);
      onehot[i * data.classes + label] = 1;
    }
    return tf.tensor2d(onehot, [indices.length, data.classes]);
  }
  const targets = data.targets;
  if (!targets) throw new Error(`a ${task} model trains against per-example targets (${TARGET_WORDS[task]}), and this data set has none`);
  const per = targets.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(indices.length * per);
  for (let i = 0; i < indices.length; i++) out.set(targets.data.subarray(indices[i]! * per, (indices[i]! + 1) * per), i * per);
  return tf.tensor(out, [indices.length, ...targets.shape]);
}

const TARGET_WORDS: Record<Exclude<TaskKind, 'classification'>, string> = {
  'multi-label': 'a 0/1 vector of labels',
  segmentation: 'a mask',
  denoising: 'the clean image',
};

/** Throws a readable error unless the model's output has the shape the data's targets have. */
export function checkTaskCompatible(model: tf.LayersModel, data: ImageSet, task: Exclude<TaskKind, 'classification'>): void {
  const [, h, w, c] = model.inputs[0]!.shape;
  if (h !== data.height || w !== data.width || c !== data.channels) {
    throw new Error(`model expects ${h}x${w}x${c} images but the data set has ${data.height}x${data.width}x${data.channels}; build the model with that input shape or resize the data (--size)`);
  }
  if (!data.targets) throw new Error(`a ${task} model trains against per-example targets (${TARGET_WORDS[task]}), and this data set has none: use data made for ${task} (e.g. --data ${task === 'segmentation' ? 'synthetic-blobs' : 'synthetic-noise'})`);
  const out = model.outputs[0]!.shape.slice(1).join('x');
  const want = data.targets.shape.join('x');
  if (out !== want) throw new Error(`the ${task} model outputs ${out} per example but the data's targets are ${want}`);
  if (data.targets.data.length !== data.count * data.targets.shape.reduce((a, b) => a * b, 1)) {
    throw new Error(`image set is inconsistent: ${data.count} examples but ${data.targets.data.length} target values`);
  }
}
