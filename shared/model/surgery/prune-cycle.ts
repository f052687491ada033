import type * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../../data/types.js';
import { evaluateTask } from '../task-metrics.js';
import { recalibrateBatchNorm } from './batchnorm-statistics.js';
import { checkScaleTraining, DEFAULT_SCALE_TRAINING, trainScales, type ScaleTraining } from './channel-scale.js';
import { convParameters } from './flops.js';
import { DEFAULT_HEAD_TRAINING, fitHead } from './head.js';
import { SurgeryError } from './graph.js';
import { foldScales, pruneChannels } from './prune.js';
import { planPruning } from './prune-plan.js';

/*
 * The pruning cycle: train channel scales (L1, weights frozen), drop the channels whose scale fell
 * to the threshold, rebuild the slimmer network, score it on validation; repeat until a cycle would
 * cost more validation AUROC (against the network we started from) than the tolerance, or removes
 * nothing. The last network within the tolerance is the result. A cycle that overshoots is retried
 * with a gentler penalty (x backoff) before the search stops.
 *
 * By default the scales only choose the channels that go; the kept channels keep their weights
 * (foldKept folds the kept scales in as well, and then trains them once more without the penalty,
 * since the penalty shrinks kept channels too). After each cut the batch-norm statistics are
 * re-estimated on the training images (removing channels changes what later layers see) and the
 * classifier's dense layer is refitted on the frozen features, before the slim network is judged.
 */

export interface PruneOptions extends Partial<Omit<ScaleTraining, 'signal'>> {
  /** Validation AUROC the pruned network may lose against the original (e.g. 0.01). */
  tolerance: number;
  /** A channel goes when |scale| is at or under this (default 0.05). */
  threshold?: number;
  /** Most cycles (default 8). */
  maxCycles?: number;
  /** Gentler penalties tried after a cycle overshoots the tolerance (default 4). */
  retries?: number;
  /** Each retry multiplies the penalty by this (default 0.7). */
  backoff?: number;
  /** Re-estimate batch-norm statistics on the training images after each cut (default true). */
  recalibrate?: boolean;
  /**
   * Refit the final softmax dense layer (the classifier; not a conv) on the training images after
   * each cut, everything before it frozen (default true; skipped when the output is not one).
   */
  refitHead?: boolean;
  /** Epochs of penalty-free scale training of the kept channels after each cut (default 1 when foldKept, else 0). */
  recoveryEpochs?: number;
  /**
   * Fold the trained scales of the kept channels into the network (default false: the scales only
   * choose which channels go, and the kept channels keep their pretrained weights). On PneumoniaMNIST
   * folding them cost about 0.01 validation AUROC per cycle: the kept scales carry the noise of the
   * scale training, which the frozen layers after them cannot absorb.
   */
  foldKept?: boolean;
  /** Step size of that recovery (default a tenth of the scale training's). */
  recoveryLearningRate?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface PruneCycle {
  cycle: number;
  l1: number;
  /** Channels per prunable conv after this cycle. */
  channels: Record<string, number>;
  convParameters: number;
  parameters: number;
  auroc: number;
  /** Whether the result was kept (within the tolerance). */
  kept: boolean;
}

export interface PruneOutcome {
  /** The last network within the tolerance (a new model; the caller disposes it). */
  model: tf.LayersModel;
  baseline: { auroc: number; convParameters: number; parameters: number };
  final: { auroc: number; convParameters: number; parameters: number };
  cycles: PruneCycle[];
  /** Why the search ended. */
  stopped: string;
}

export function checkPruneOptions(opts: PruneOptions): void {
  if (!(opts.tolerance >= 0) || !Number.isFinite(opts.tolerance)) {
    throw new SurgeryError(`tolerance ${opts.tolerance} is not allowed: give the validation AUROC the pruned model may lose, a number >= 0 (e.g. 0.01)`);
  }
  const threshold = opts.threshold ?? 0.05;
  if (!(threshold >= 0) || !Number.isFinite(threshold)) throw new SurgeryError(`threshold must be a number >= 0, got ${opts.threshold}`);
  if (opts.recoveryEpochs !== undefined && (!Number.isInteger(opts.recoveryEpochs) || opts.recoveryEpochs < 0)) throw new SurgeryError(`recovery epochs must be an integer >= 0, got ${opts.recoveryEpochs}`);
  if (opts.backoff !== undefined && !(opts.backoff > 0 && opts.backoff < 1)) throw new SurgeryError(`backoff must be between 0 and 1 (exclusive), got ${opts.backoff}`);
  if (opts.recoveryLearningRate !== undefined && !(opts.recoveryLearningRate > 0 && Number.isFinite(opts.recoveryLearningRate))) throw new SurgeryError(`recovery learning rate must be > 0, got ${opts.recoveryLearningRate}`);
  if (opts.maxCycles !== undefined && (!Number.isInteger(opts.maxCycles) || opts.maxCycles < 1)) throw new SurgeryError(`max cycles must be an integer >= 1, got ${opts.maxCycles}`);
  checkScaleTraining({ ...DEFAULT_SCALE_TRAINING, ...opts } as ScaleTraining);
}

/** The output layer's name when it is a softmax dense layer (a classifier head that can be refitted). */
function softmaxHead(model: tf.LayersModel): string | null {
  const out = model.layers[model.layers.length - 1]!;
  const config = out.getConfig() as { activation?: string };
  return out.getClassName() === 'Dense' && config.activation === 'softmax' ? out.name : null;
}

async function aurocOf(model: tf.LayersModel, val: ImageSet): Promise<number> {
  const m = await evaluateTask(model, val, 'classification');
  if (!Number.isFinite(m.auroc)) throw new SurgeryError('validation AUROC is undefined: the validation images hold a single class; give validation data with both classes');
  return m.auroc!;
}

function channelsOf(model: tf.LayersModel): Record<string, number> {
  return Object.fromEntries(planPruning(model).units.map((u) => [u.conv, u.channels]));
}

/** Runs the pruning cycle on `model` (left as it is). */
export async function pruneByChannelScaling(model: tf.LayersModel, train: ImageSet, val: ImageSet, opts: PruneOptions): Promise<PruneOutcome> {
  checkPruneOptions(opts);
  if (val.targets) throw new SurgeryError('pruning is judged by validation AUROC; this validation set carries per-example targets, not classes');
  const threshold = opts.threshold ?? 0.05;
  const maxCycles = opts.maxCycles ?? 8;
  const retries = opts.retries ?? 4;
  const backoff = opts.backoff ?? 0.7;
  const foldKept = opts.foldKept ?? false;
  const recoveryEpochs = opts.recoveryEpochs ?? (foldKept ? 1 : 0);
  const recalibrate = opts.recalibrate ?? true;
  const head = (opts.refitHead ?? true) ? softmaxHead(model) : null;
  const training: ScaleTraining = { ...DEFAULT_SCALE_TRAINING, ...opts } as ScaleTraining;
  // Without the penalty only the loss moves the scales: a tenth of the step keeps that from adding noise.
  const recoveryRate = opts.recoveryLearningRate ?? training.learningRate / 10;
  planPruning(model); // refuses a model the surgery cannot handle before any training
  const baseAuroc = await aurocOf(model, val);
  const baseline = { auroc: baseAuroc, convParameters: convParameters(model), parameters: model.countParams() };
  opts.log?.(`baseline: AUROC ${baseAuroc.toFixed(4)}, ${baseline.convParameters} conv parameters`);
  let current = await foldScales(model, new Map()); // a copy the caller's model does not share
  let currentAuroc = baseAuroc;
  const cycles: PruneCycle[] = [];
  let stopped = `reached ${maxCycles} cycles`;
  let l1 = training.l1;
  let overshoots = 0;
  try {
    for (let cycle = 1; cycle <= maxCycles; cycle++) {
      const plan = planPruning(current);
      const scales = await trainScales(current, plan, train, { ...training, l1, seed: training.seed + cycle });
      const keep = new Map<string, number[]>();
      let removed = 0;
      for (const unit of plan.units) {
        const s = scales.get(unit.conv)!;
        let kept = [...s.keys()].filter((c) => Math.abs(s[c]!) > threshold);
        // A layer keeps at least its strongest channel: an empty layer would cut the network in two.
        if (kept.length === 0) kept = [[...s.keys()].reduce((a, b) => (Math.abs(s[b]!) > Math.abs(s[a]!) ? b : a))];
        removed += unit.channels - kept.length;
        keep.set(unit.conv, kept);
      }
      if (removed === 0) {
        stopped = `cycle ${cycle} removed no channel (every scale stayed above ${threshold})`;
        break;
      }
      const folded = await foldScales(current, foldKept ? scales : new Map(), plan);
      let slim = await pruneChannels(folded, keep, plan);
      folded.dispose();
      if (recalibrate) await recalibrateBatchNorm(slim, train);
      if (recoveryEpochs > 0) {
        const slimPlan = planPruning(slim);
        const recovered = await trainScales(slim, slimPlan, train, { ...training, l1: 0, learningRate: recoveryRate, epochs: recoveryEpochs, seed: training.seed + 1000 + cycle });
        const refolded = await foldScales(slim, recovered, slimPlan);
        slim.dispose();
        slim = refolded;
      }
      if (head) await fitHead(slim, train, { ...DEFAULT_HEAD_TRAINING, seed: training.seed }, head);
      const auroc = await aurocOf(slim, val);
      const row: PruneCycle = { cycle, l1, channels: channelsOf(slim), convParameters: convParameters(slim), parameters: slim.countParams(), auroc, kept: baseAuroc - auroc <= opts.tolerance };
      cycles.push(row);
      opts.log?.(`cycle ${cycle} (l1 ${l1}): ${row.convParameters} conv parameters, AUROC ${auroc.toFixed(4)}${row.kept ? '' : ` (over the tolerance ${opts.tolerance}: discarded)`}`);
      if (row.kept) {
        current.dispose();
        current = slim;
        currentAuroc = auroc;
        continue;
      }
      slim.dispose();
      if (overshoots++ >= retries) {
        stopped = `cycle ${cycle} would lose ${(baseAuroc - auroc).toFixed(4)} AUROC, more than the tolerance ${opts.tolerance}, also with the penalty lowered ${retries} times (x${backoff} each)`;
        break;
      }
      l1 *= backoff;
    }
  } catch (err) {
    current.dispose();
    throw err;
  }
  return {
    model: current,
    baseline,
    final: { auroc: currentAuroc, convParameters: convParameters(current), parameters: current.countParams() },
    cycles,
    stopped,
  };
}
