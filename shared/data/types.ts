/**
 * A labelled set of images held in one process. Pixels are float32 in [0, 1], laid out
 * N x H x W x C (channels last, as TensorFlow.js expects). Labels are class indices.
 */
export interface ImageSet {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Number of classes the labels index into (2 for a binary task). */
  readonly classes: number;
  /**
   * Subgroup columns a site declared for fairness reports (sex, age band, scanner, ...): for each
   * column, one value per example, in example order. Absent when the source has none.
   */
  readonly subgroups?: Readonly<Record<string, readonly string[]>>;
  /**
   * What a model learns to output for each example when that is more than a class index:
   * segmentation masks, clean images for denoising, 0/1 label vectors for multi-label. Absent for
   * single-label classification. `labels` then still holds one summary class per example (mask
   * non-empty, noise level, ...) so partitions and stratified splits keep working.
   */
  readonly targets?: DenseTargets;
}

/** Per-example targets laid out back to back, each of shape `shape` (e.g. [H, W, 1] for a mask). */
export interface DenseTargets {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** The data one site trains and validates on. Never leaves the site's process. */
export interface SiteData {
  readonly train: ImageSet;
  readonly val: ImageSet;
  /** Human-readable description of where the data came from (for logs and summaries). */
  readonly source: string;
}
