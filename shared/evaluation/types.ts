/**
 * What a site sends back from a federated evaluation round: aggregate statistics only. Every
 * field is a sum or a count over the site's validation images, so the coordinator pools sites by
 * adding them up, and no per-image score or label ever leaves the site.
 */

/** Metric name -> value; null where the metric is undefined (one class only, no examples). */
export type MetricTable = Record<string, number | null>;

/** Per reliability bin (top-label confidence, RELIABILITY_BINS equal-width bins over [0, 1]). */
export interface ReliabilitySums {
  /** Examples whose top-label confidence falls in the bin. */
  count: number[];
  /** Sum of their top-label confidences. */
  confidence: number[];
  /** How many of them have the top label right. */
  correct: number[];
}

/** Summable statistics of one set of binary predictions (the positive-class probability p). */
export interface ScoreStatistics {
  examples: number;
  positives: number;
  /** Counts of p per score bin (SCORE_BINS, logit-spaced), for the negatives and the positives separately. */
  negative: number[];
  positive: number[];
  reliability: ReliabilitySums;
  /** Sum of (y - p)^2. */
  brierSum: number;
  /** Sum of -log p(y), probabilities clipped as shared/metrics' logLoss does. */
  nllSum: number;
}

/** The site's validation set under each temperature of TEMPERATURE_GRID (logits divided by T). */
export interface CalibrationSweep {
  temperatures: number[];
  /** Summed negative log-likelihood at each temperature. */
  nll: number[];
  /** Summed squared error (y - p_T)^2 at each temperature. */
  brier: number[];
  /** Reliability sums at each temperature. */
  reliability: ReliabilitySums[];
}

/** One subgroup (a value of a subgroup column) at one site. */
export interface GroupSummary {
  /** Exact metrics, computed at the site from its own scores. */
  metrics: MetricTable;
  statistics: ScoreStatistics;
}

/** The JSON body a site seals, signs and submits for one evaluation task. */
export interface SiteEvaluationSummary {
  format: 'medley-evaluation-v1';
  /** The global model version evaluated. */
  modelVersion: number;
  examples: number;
  /** Exact metrics, computed at the site from its own scores (see EVALUATION_METRICS). */
  metrics: MetricTable;
  statistics: ScoreStatistics;
  calibration: CalibrationSweep;
  /** Column -> value -> figures, for each subgroup column the site's data declares. */
  subgroups: Record<string, Record<string, GroupSummary>>;
  /** Subgroups left out for holding fewer than MIN_GROUP_EXAMPLES examples. */
  suppressedGroups: number;
  /** Seconds the site spent evaluating. */
  seconds: number;
}
