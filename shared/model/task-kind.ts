/**
 * What a model is trained for. It fixes the loss a site minimises and the metrics it reports:
 * - classification: softmax over `classes` (binary when 2), categorical cross-entropy; AUROC, AUPRC
 *   (one-vs-rest macro average when more than 2 classes), accuracy, log loss.
 * - multi-label: one sigmoid per label, binary cross-entropy per label; per-label and macro AUROC, AUPRC.
 * - segmentation: one sigmoid per pixel, Dice + binary cross-entropy; Dice and IoU.
 * - denoising: an image out, L1 or L2 against the clean image; PSNR and SSIM.
 */
export const TASK_KINDS = ['classification', 'multi-label', 'segmentation', 'denoising'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export function parseTaskKind(text: string): TaskKind {
  const t = text.trim().toLowerCase();
  if ((TASK_KINDS as readonly string[]).includes(t)) return t as TaskKind;
  throw new Error(`unknown task '${text}'; use one of ${TASK_KINDS.join(', ')}`);
}

/** The task a (manifest) spec records: absent in models made before task types, which are classifiers. */
export function taskOfManifestSpec(spec: Readonly<Record<string, unknown>>): TaskKind {
  const t = spec.task;
  if (t === undefined) return 'classification';
  if (typeof t !== 'string') throw new Error(`model spec task must be a string, got ${JSON.stringify(t)}`);
  return parseTaskKind(t);
}
