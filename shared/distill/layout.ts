import type { DistillTask } from './payload.js';

export interface SoftLabelLayout {
  task: DistillTask;
  /** Rows per transfer image: 1 (classification) or height x width (segmentation). */
  rowsPerImage: number;
  classes: number;
}

/** The distillation task of a model spec's task, or an Error saying distillation cannot run on it. */
export function distillTaskOf(task: string): DistillTask {
  if (task === 'classification' || task === 'segmentation') return task;
  throw new Error(`distillation needs a classifier or a segmentation model; the global model is trained for ${task}, whose outputs are not class probabilities`);
}

/**
 * The soft labels a model of `task` gives on images of height x width: one distribution over the
 * classes per image, or per pixel over (background, foreground) for a one-channel sigmoid mask.
 */
export function softLabelLayout(task: DistillTask, classes: number, height: number, width: number): SoftLabelLayout {
  return task === 'classification' ? { task, rowsPerImage: 1, classes } : { task, rowsPerImage: height * width, classes: 2 };
}
