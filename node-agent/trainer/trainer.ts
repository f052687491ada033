import type { Task } from '../../shared/wire/index.js';
import type { DownloadedModel } from '../connection/coordinator-client.js';

export interface TrainingProgress {
  phase: 'training' | 'evaluating';
  epoch: number;
  epochs: number;
  loss: number;
}

/** What local work produced: the update that leaves the site, and numbers about it. */
export interface TrainingOutcome {
  /** New local weights minus the global ones, flattened in manifest order. */
  delta: Float32Array;
  numExamples: number;
  /** Local validation metrics of the trained model. */
  metrics: Record<string, number>;
  trainLoss: number;
  epochs: number;
  seconds: number;
}

/** Local training at a site. Implementations hold the site's data; it never leaves them. */
export interface Trainer {
  readonly backend: string;
  readonly trainExamples: number;
  readonly valExamples: number;
  train(model: DownloadedModel, task: Task, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<TrainingOutcome>;
}
