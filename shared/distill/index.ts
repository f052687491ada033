/** Federated knowledge distillation, the parts both roles use: the round payload, soft-label checks, training against soft labels. */
export {
  AGGREGATE_KIND, SOFT_LABEL_TENSOR, TRANSFER_SET_KIND, decodeDistillPayload, encodeDistillPayload,
  type BlobRef, type DistillPayload, type DistillTask, type TransferRef,
} from './payload.js';
export { ROW_SUM_TOLERANCE, softLabelProblem } from './soft-label-check.js';
export { distillTaskOf, softLabelLayout, type SoftLabelLayout } from './layout.js';
export { distillModel, predictSoftLabels, type DistillOptions, type DistillResult, type TransferImages } from './distill-training.js';
export { loadTransferImages } from './transfer-source.js';
