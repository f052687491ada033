import type * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../data/types.js';
import { evaluateTask } from '../task-metrics.js';
import { countFlops } from './flops.js';
import { SurgeryError } from './graph.js';
import { DEFAULT_HEAD_TRAINING, fitHead, type HeadTraining } from './head.js';
import { cutPoints, truncateModel, type CutPoint } from './truncate.js';

/** One cut's result: the truncated network with its head fitted on the training images, scored on validation. */
export interface CutResult {
  cut: CutPoint;
  auroc: number;
  auprc: number;
  parameters: number;
  /** Per image, forward pass (see flops.ts for what counts). */
  flops: number;
}

export interface CutSearch {
  results: CutResult[];
  /** The cut with the best validation AUROC (ties: the smaller network). */
  best: CutResult;
}

export interface SearchOptions {
  head?: HeadTraining;
  /** Only these cuts (1-based); default every cut point. */
  cuts?: number[];
  log?: (line: string) => void;
}

function checkClassification(set: ImageSet, what: string): void {
  if (set.targets) throw new SurgeryError(`${what}: truncated transfer trains a classification head; this data set carries per-example targets (segmentation, denoising or multi-label)`);
  if (set.count === 0) throw new SurgeryError(`${what} holds no images`);
}

/** Fits a head at cut `cut` and scores it; returns the model (caller disposes) and its row. */
export async function evaluateCut(model: tf.LayersModel, cut: number | string, train: ImageSet, val: ImageSet, head: HeadTraining = DEFAULT_HEAD_TRAINING): Promise<{ model: tf.LayersModel; result: CutResult }> {
  checkClassification(train, 'the training data');
  checkClassification(val, 'the validation data');
  const { model: truncated, cut: point } = await truncateModel(model, cut, { classes: train.classes, seed: head.seed });
  try {
    await fitHead(truncated, train, head);
    const metrics = await evaluateTask(truncated, val, 'classification');
    const counted = countFlops(truncated);
    return { model: truncated, result: { cut: point, auroc: metrics.auroc ?? NaN, auprc: metrics.auprc ?? NaN, parameters: counted.parameters, flops: counted.flops } };
  } catch (err) {
    truncated.dispose();
    throw err;
  }
}

/** Tries every cut point (or `opts.cuts`), fitting a head at each, and picks the best on validation AUROC. */
export async function searchCut(model: tf.LayersModel, train: ImageSet, val: ImageSet, opts: SearchOptions = {}): Promise<CutSearch> {
  const points = cutPoints(model);
  const cuts = opts.cuts ?? points.map((p) => p.index);
  const results: CutResult[] = [];
  for (const cut of cuts) {
    const { model: truncated, result } = await evaluateCut(model, cut, train, val, opts.head);
    truncated.dispose();
    opts.log?.(`cut ${result.cut.index} (${result.cut.layer}): AUROC ${result.auroc.toFixed(4)}, ${result.parameters} parameters, ${result.flops} FLOPs`);
    results.push(result);
  }
  const best = results.reduce((a, b) => (b.auroc > a.auroc || (b.auroc === a.auroc && b.parameters < a.parameters) ? b : a));
  return { results, best };
}
