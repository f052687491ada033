export { auroc, auprc, accuracy, logLoss, argmaxRows, classificationMetrics, LOG_LOSS_EPS, type Metrics } from './classification.js';
