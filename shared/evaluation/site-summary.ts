/**
 * The site's side of an evaluation round: from the global model's outputs on the site's own
 * validation images to the summary that leaves the site. Metrics are computed here exactly; what
 * is sent for pooling are sums and counts (histograms, reliability sums, NLL per temperature).
 */
import { auprc, auroc, balancedAccuracy, brier, ece, f1, logLoss, sensitivity, specificity, confusionCounts } from '../metrics/index.js';
import { DECISION_THRESHOLD, EVALUATION_FORMAT, LIMITS, MIN_GROUP_EXAMPLES } from './constants.js';
import { nullIfUndefined } from './pooled-metrics.js';
import { collectStatistics } from './statistics.js';
import { binaryLogits, calibrationSweep } from './temperature.js';
import type { GroupSummary, MetricTable, SiteEvaluationSummary } from './types.js';

/** Exact metrics of binary predictions, as shared/metrics computes them; null where undefined. */
export function exactMetrics(labels: ArrayLike<number>, p: ArrayLike<number>): MetricTable {
  const t = DECISION_THRESHOLD;
  const n = labels.length;
  const c = confusionCounts(labels, p, t);
  const probs = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    probs[2 * i] = 1 - p[i]!;
    probs[2 * i + 1] = p[i]!;
  }
  return {
    auroc: nullIfUndefined(auroc(labels, p)),
    auprc: nullIfUndefined(auprc(labels, p)),
    ece: nullIfUndefined(ece(labels, p)),
    brier: nullIfUndefined(brier(labels, p)),
    sensitivity: nullIfUndefined(sensitivity(labels, p, t, NaN)),
    specificity: nullIfUndefined(specificity(labels, p, t, NaN)),
    balancedAccuracy: nullIfUndefined(balancedAccuracy(labels, p, t)),
    f1: nullIfUndefined(f1(labels, p, t, NaN)),
    // At the same threshold as the others (an argmax would call p = 0.5 negative).
    accuracy: n > 0 ? (c.tp + c.tn) / n : null,
    loss: nullIfUndefined(logLoss(probs, Int32Array.from(labels), 2)),
  };
}

export interface SiteEvaluationInput {
  /** 0/1 labels of the site's validation images. */
  labels: ArrayLike<number>;
  /** The model's softmax output, N x 2 row-major. */
  probabilities: ArrayLike<number>;
  /** Subgroup columns of the validation images (column -> one value per image). */
  subgroups?: Readonly<Record<string, readonly string[]>>;
  modelVersion: number;
  seconds: number;
}

/** Builds the summary a site sends; throws on input no model output or data set should produce. */
export function summarizeSiteEvaluation(input: SiteEvaluationInput): SiteEvaluationSummary {
  const n = input.labels.length;
  if (input.probabilities.length !== 2 * n) {
    throw new Error(`evaluation needs a binary model: ${input.probabilities.length} outputs for ${n} images (expected ${2 * n})`);
  }
  if (n === 0) throw new Error('the site has no validation images to evaluate on');
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) p[i] = input.probabilities[2 * i + 1]!;
  const subgroups: Record<string, Record<string, GroupSummary>> = {};
  let suppressedGroups = 0;
  const columns = Object.entries(input.subgroups ?? {});
  if (columns.length > LIMITS.columns) throw new Error(`the site declares ${columns.length} subgroup columns; at most ${LIMITS.columns} are reported`);
  for (const [column, values] of columns) {
    if (values.length !== n) throw new Error(`subgroup column "${column}" has ${values.length} values for ${n} validation images`);
    const long = [column, ...values].find((name) => name.length === 0 || name.length > LIMITS.nameLength);
    if (long !== undefined) throw new Error(`subgroup column "${column}": names and values must be 1 to ${LIMITS.nameLength} characters, "${long.slice(0, 80)}" is not`);
    const members = new Map<string, number[]>();
    values.forEach((v, i) => {
      const list = members.get(v);
      if (list) list.push(i);
      else members.set(v, [i]);
    });
    if (members.size > LIMITS.valuesPerColumn) {
      throw new Error(`subgroup column "${column}" has ${members.size} distinct values; at most ${LIMITS.valuesPerColumn} are reported (bin it, e.g. age in bands)`);
    }
    const groups: Record<string, GroupSummary> = {};
    for (const [value, idx] of [...members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (idx.length < MIN_GROUP_EXAMPLES) {
        suppressedGroups++;
        continue;
      }
      const y = idx.map((i) => input.labels[i]!);
      const q = idx.map((i) => p[i]!);
      groups[value] = { metrics: exactMetrics(y, q), statistics: collectStatistics(y, q) };
    }
    subgroups[column] = groups;
  }
  return {
    format: EVALUATION_FORMAT,
    modelVersion: input.modelVersion,
    examples: n,
    metrics: exactMetrics(input.labels, p),
    statistics: collectStatistics(input.labels, p),
    calibration: calibrationSweep(input.labels, binaryLogits(input.probabilities)),
    subgroups,
    suppressedGroups,
    seconds: input.seconds,
  };
}
