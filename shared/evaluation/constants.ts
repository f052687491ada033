/**
 * The fixed resolution of a federated evaluation. Sites and coordinator must agree on these, so
 * they are part of the protocol (a site's summary states them and the coordinator checks them)
 * rather than settings.
 */

/**
 * Bins of the positive-class probability p, equally spaced in its logit log(p / (1 - p)): 0.1
 * wide from -SCORE_LOGIT_RANGE to +SCORE_LOGIT_RANGE, the end bins also holding everything beyond.
 * Equal-width bins of p would put most of a good model's scores into the top and bottom bins,
 * where a pooled AUROC cannot order them (a first pneumonia study with 100 such bins had a
 * resolution of 0.007). p = 0.5 (logit 0) is the edge between bins B/2 - 1 and B/2.
 */
export const SCORE_BINS = 240;
export const SCORE_LOGIT_RANGE = 12;

/** Equal-width bins of the top-label confidence for ECE and reliability diagrams (Guo et al.'s 15). */
export const RELIABILITY_BINS = 15;

/** The decision threshold of sensitivity, specificity, balanced accuracy and F1. */
export const DECISION_THRESHOLD = 0.5;

/**
 * Temperatures at which each site sums its validation negative log-likelihood, so the coordinator
 * fits one temperature without any per-image data: log-spaced from 1/5 to 5, 121 points (a step of
 * 2.7%), with T = 1 (the model as it is) exactly on the grid.
 */
export const TEMPERATURE_GRID: readonly number[] = Object.freeze(
  Array.from({ length: 121 }, (_, i) => (i === 60 ? 1 : Math.exp(((i - 60) * Math.log(5)) / 60))),
);

/**
 * A subgroup with fewer examples than this at a site is not reported by that site: a figure over
 * two or three patients says more about those patients than about the model.
 */
export const MIN_GROUP_EXAMPLES = 5;

/** Limits a site's summary must respect; larger ones are refused at the coordinator. */
export const LIMITS = { columns: 16, valuesPerColumn: 64, nameLength: 64 } as const;

/** Metric names every evaluation reports, in the order reports show them. */
export const EVALUATION_METRICS = ['auroc', 'auprc', 'ece', 'brier', 'sensitivity', 'specificity', 'balancedAccuracy', 'f1', 'accuracy', 'loss'] as const;
export type EvaluationMetric = (typeof EVALUATION_METRICS)[number];

/** Format tag of the JSON body a site seals and sends. */
export const EVALUATION_FORMAT = 'medley-evaluation-v1';
