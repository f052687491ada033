/**
 * `RUN_DIR/evaluation.json`: the clinical evidence a study produces (`medley study`) and the report
 * (`medley report RUN_DIR`) renders. Binary classification; metric names are those of
 * shared/metrics (auroc, auprc, ece, brier, sensitivity, specificity, balancedAccuracy, f1, ...).
 * Curves and reliability bins are built from per-class score histograms the sites send (never
 * per-image scores unless a site's policy allows them), so they are pooled without images or
 * scores leaving a site.
 */

// The shapes the study pools at the coordinator are the ones the report draws: one definition each.
import type { CurvePoints, ReliabilityBin } from '../../shared/evaluation/pooled-metrics.js';
import type { MetricTable } from '../../shared/evaluation/types.js';

export type { CurvePoints, MetricTable, ReliabilityBin };

export interface EvaluatedModel {
  /** Where the figures come from, in words ("federated evaluation at 4 sites, pooled"). */
  source: string;
  examples: number;
  metrics: MetricTable;
  roc?: CurvePoints;
  pr?: CurvePoints;
  reliability?: ReliabilityBin[];
  /**
   * Pooled figures only: the most the AUROC from the sites' score histograms can differ from the
   * AUROC over every image scored together (pairs within one histogram bin count one half).
   */
  aurocResolution?: number | null;
}

export interface SiteEvaluation extends EvaluatedModel {
  site: string;
}

export interface SubgroupEvaluation {
  /** The subgroup column a site declared (sex, age band, scanner, ...). */
  column: string;
  groups: (EvaluatedModel & { value: string })[];
  /** The largest difference of each metric between two groups of this column. */
  largestGap: { metric: string; gap: number; between: [string, string] }[];
}

export interface CalibrationEvaluation {
  /** Temperature fitted on validation data (negative log-likelihood), applied to the logits. */
  temperature: number;
  fittedOn: string;
  before: { ece: number | null; brier: number | null; reliability?: ReliabilityBin[]; nll?: number | null };
  after: { ece: number | null; brier: number | null; reliability?: ReliabilityBin[]; nll?: number | null };
  /** The temperature is the first or last of the fitting grid: the best one may lie beyond it. */
  atGridEdge?: boolean;
}

export interface OodEvaluation {
  /** Leave-one-site-out: the federation trained without this site, evaluated on its data. */
  heldOutSite: string;
  trainedOn: string[];
  metrics: MetricTable;
  /** The same site's figures under the model trained with every site, for comparison. */
  inDistribution?: MetricTable;
  /** Validation images of the held-out site. */
  examples?: number;
}

export interface DataEfficiencyPoint {
  /** Share of each site's training data used (0.1, 0.25, 0.5, 1). */
  fraction: number;
  examples: number;
  metrics: MetricTable;
}

export interface EvaluationReport {
  kind: 'evaluation';
  task: 'binary';
  createdAt: string;
  data: string;
  sites: string[];
  pooled: EvaluatedModel;
  perSite: SiteEvaluation[];
  subgroups: SubgroupEvaluation[];
  calibration: CalibrationEvaluation | null;
  ood: OodEvaluation[];
  dataEfficiency: DataEfficiencyPoint[];
  /** Commands that reproduce each part, for the report's footnotes. */
  commands: Record<string, string>;
  /** Each sub-run's folder (relative to the study folder), by part: main, ood-site-1, fraction-0.25, ... */
  runs?: Record<string, string>;
}
