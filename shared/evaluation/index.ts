/**
 * Federated evaluation: what a site computes from the global model's outputs on its validation
 * images (aggregate statistics only), how the coordinator checks it and pools the sites.
 */
export * from './constants.js';
export type { MetricTable, ReliabilitySums, ScoreStatistics, CalibrationSweep, GroupSummary, SiteEvaluationSummary } from './types.js';
export { scoreBin, collectStatistics, addStatistics, emptyStatistics, reliabilitySums } from './statistics.js';
export {
  histogramAuroc,
  histogramAveragePrecision,
  aurocResolution,
  confusionAtThreshold,
  eceFromSums,
  metricsFromStatistics,
  rocCurve,
  prCurve,
  reliabilityDiagram,
  type CurvePoints,
  type ReliabilityBin,
} from './pooled-metrics.js';
export { binaryLogits, calibrationSweep, fitTemperature, sigmoid, type TemperatureFit } from './temperature.js';
export { exactMetrics, summarizeSiteEvaluation, type SiteEvaluationInput } from './site-summary.js';
export { parseSiteEvaluation } from './schema.js';
export { poolEvaluations, figuresOf, largestGaps, type PooledEvaluation, type PooledSubgroup, type PooledCalibration, type CalibrationFigures, type EvaluatedFigures, type SiteEvaluation } from './pool.js';
export { encodeEvaluation, decodeEvaluation, type RoundEvaluation, type RecordedSiteEvaluation } from './record.js';
