import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../data/types.js';
import { auprc, auroc, classificationMetrics, dice, iou, psnr, ssim } from '../metrics/index.js';
import { batchPixels, yieldToEventLoop } from './predict.js';
import type { TaskKind } from './task-kind.js';

/*
 * The metrics a model is judged by, per task type, on one data split (a site's validation images,
 * or a held-out set): classification AUROC/AUPRC (+ accuracy, log loss); multi-label per-label and
 * macro AUROC/AUPRC; segmentation Dice and IoU; denoising PSNR and SSIM. Undefined values (a label
 * with one class present) come back as NaN: callers that send metrics drop them (definedMetrics).
 */

/** Foreground when the predicted probability reaches this. */
export const MASK_THRESHOLD = 0.5;
/** Images are in [0, 1]: the data range of PSNR and SSIM. */
const DATA_RANGE = 1;

/** Runs the model over the whole set in inference mode and returns its outputs, N x (per-example output) flat. */
export async function predictOutputs(model: tf.LayersModel, set: ImageSet, batchSize = 32): Promise<Float32Array> {
  const per = model.outputs[0]!.shape.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
  const out = new Float32Array(set.count * per);
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(set.count, start + batchSize);
    const x = batchPixels(set, Int32Array.from({ length: end - start }, (_, i) => start + i));
    const y = tf.tidy(() => model.predict(x) as tf.Tensor);
    x.dispose();
    out.set(await y.data(), start * per);
    y.dispose();
    await yieldToEventLoop();
  }
  return out;
}

/** The task's metrics of `model` on `set`. */
export async function evaluateTask(model: tf.LayersModel, set: ImageSet, task: TaskKind): Promise<Record<string, number>> {
  return taskMetrics(task, await predictOutputs(model, set), set);
}

/** The task's metrics from model outputs already computed (N x per-example output, in example order). */
export function taskMetrics(task: TaskKind, outputs: Float32Array, set: ImageSet): Record<string, number> {
  switch (task) {
    case 'classification':
      return { ...classificationMetrics(outputs, set.labels, set.classes) };
    case 'multi-label':
      return multiLabelMetrics(outputs, targetsOf(set, task));
    case 'segmentation':
      return segmentationMetrics(outputs, targetsOf(set, task));
    case 'denoising':
      return denoisingMetrics(outputs, set, targetsOf(set, task));
  }
}

function targetsOf(set: ImageSet, task: TaskKind): { data: Float32Array; per: number; count: number } {
  if (!set.targets) throw new Error(`${task} metrics need the data set's per-example targets, and it has none`);
  const per = set.targets.shape.reduce((a, b) => a * b, 1);
  return { data: set.targets.data, per, count: set.count };
}

/** Per-label AUROC/AUPRC (auroc_K, auprc_K) and their macro means over the labels where both are defined; mean BCE as loss. */
export function multiLabelMetrics(outputs: Float32Array, targets: { data: Float32Array; per: number; count: number }): Record<string, number> {
  const { data, per: labels, count } = targets;
  checkLength('multi-label', outputs, data);
  const out: Record<string, number> = {};
  let aSum = 0;
  let pSum = 0;
  let used = 0;
  let bce = 0;
  const y = new Int32Array(count);
  const s = new Float64Array(count);
  for (let k = 0; k < labels; k++) {
    for (let i = 0; i < count; i++) {
      y[i] = data[i * labels + k]! >= 0.5 ? 1 : 0;
      s[i] = outputs[i * labels + k]!;
      const q = Math.min(1 - 1e-7, Math.max(1e-7, s[i]!));
      bce -= y[i] ? Math.log(q) : Math.log(1 - q);
    }
    const finite = s.every((v) => Number.isFinite(v));
    const a = finite ? auroc(y, s) : NaN;
    const p = finite ? auprc(y, s) : NaN;
    out[`auroc_${k}`] = a;
    out[`auprc_${k}`] = p;
    if (Number.isNaN(a) || Number.isNaN(p)) continue;
    aSum += a;
    pSum += p;
    used++;
  }
  return { auroc: used ? aSum / used : NaN, auprc: used ? pSum / used : NaN, loss: count ? bce / (count * labels) : NaN, ...out };
}

/** Dice and IoU of the thresholded masks, per image (an empty mask predicted empty scores 1), averaged. */
export function segmentationMetrics(outputs: Float32Array, targets: { data: Float32Array; per: number; count: number }): Record<string, number> {
  const { data, per, count } = targets;
  checkLength('segmentation', outputs, data);
  let d = 0;
  let j = 0;
  const truth = new Uint8Array(per);
  const pred = new Uint8Array(per);
  for (let n = 0; n < count; n++) {
    for (let i = 0; i < per; i++) {
      truth[i] = data[n * per + i]! >= 0.5 ? 1 : 0;
      pred[i] = outputs[n * per + i]! >= MASK_THRESHOLD ? 1 : 0;
    }
    d += dice(truth, pred);
    j += iou(truth, pred);
  }
  return { dice: count ? d / count : NaN, iou: count ? j / count : NaN };
}

/**
 * PSNR and SSIM of the output (clipped to [0, 1]) against the clean image, per image (SSIM per
 * channel) and averaged; psnrInput is the noisy input's PSNR, the baseline a denoiser must beat.
 */
export function denoisingMetrics(outputs: Float32Array, set: ImageSet, targets: { data: Float32Array; per: number; count: number }): Record<string, number> {
  const { data, per, count } = targets;
  checkLength('denoising', outputs, data);
  const { height: rows, width: columns, channels } = set;
  if (per !== rows * columns * channels) throw new Error(`denoising targets hold ${per} values per example, the images ${rows * columns * channels}`);
  let p = 0;
  let pIn = 0;
  let s = 0;
  const winSize = Math.min(7, oddAtMost(Math.min(rows, columns)));
  for (let n = 0; n < count; n++) {
    const clean = data.subarray(n * per, (n + 1) * per);
    const denoised = outputs.subarray(n * per, (n + 1) * per).map((v) => Math.min(1, Math.max(0, v)));
    p += psnr(clean, denoised, DATA_RANGE);
    pIn += psnr(clean, set.images.subarray(n * per, (n + 1) * per), DATA_RANGE);
    let sc = 0;
    for (let c = 0; c < channels; c++) {
      sc += ssim({ data: channel(clean, c, channels), rows, columns }, { data: channel(denoised, c, channels), rows, columns }, DATA_RANGE, { winSize });
    }
    s += sc / channels;
  }
  return { psnr: count ? p / count : NaN, ssim: count ? s / count : NaN, psnrInput: count ? pIn / count : NaN };
}

function channel(pixels: Float32Array, c: number, channels: number): Float32Array {
  if (channels === 1) return pixels;
  const out = new Float32Array(pixels.length / channels);
  for (let i = 0; i < out.length; i++) out[i] = pixels[i * channels + c]!;
  return out;
}

function oddAtMost(n: number): number {
  return n % 2 === 1 ? n : n - 1;
}

function checkLength(task: string, outputs: Float32Array, targets: Float32Array): void {
  if (outputs.length !== targets.length) throw new Error(`${task} metrics: ${outputs.length} output values but ${targets.length} target values`);
}
