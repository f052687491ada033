/**
 * The one entry point for metrics. Binary classification functions take scikit-learn's argument
 * order (yTrue first, then scores or positive-class probabilities) and plain arrays.
 */
export { auroc, auprc } from './ranking.js';
export { ece, brier, reliabilityBins, type ReliabilityBins } from './calibration.js';
export { sensitivity, specificity, balancedAccuracy, f1, confusionCounts, type ConfusionCounts } from './threshold.js';
export { dice, iou } from './segmentation.js';
export { psnr, ssim, type Image2D, type SsimOptions } from './image-quality.js';
export { accuracy, logLoss, argmaxRows, classificationMetrics, LOG_LOSS_EPS, type Metrics } from './classification.js';
