import type { Task, TensorSpec } from '../../shared/wire/index.js';
import type { DownloadedModel } from '../connection/coordinator-client.js';
import type { DistillInputs } from './site-distiller.js';

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
  /**
   * The layout of what `delta` holds when it is not a weight update (distillation: one tensor of
   * soft labels, rows x classes); absent for weight updates, which have the global model's layout.
   */
  tensors?: TensorSpec[];
  /** "soft-labels" for a distillation outcome; absent for a weight update. */
  kind?: 'soft-labels';
  /**
   * Per element of `delta`: 1 where training could change it, 0 where the task's mask froze it
   * (TGD, truncated transfer); absent when every element trains. DP noise goes on open elements only.
   */
  open?: Uint8Array;
}

/**
 * The global model's outputs on the site's validation images, for an evaluation task. They stay
 * at the site: the agent turns them into aggregate statistics before anything is sent.
 */
export interface ValidationScores {
  labels: Int32Array;
  /** Softmax output, N x classes row-major. */
  probabilities: Float32Array;
  classes: number;
  /** Subgroup columns of the validation images, when the site's data declares any. */
  subgroups?: Readonly<Record<string, readonly string[]>>;
}

/** Local training at a site. Implementations hold the site's data; it never leaves them. */
export interface Trainer {
  readonly backend: string;
  readonly trainExamples: number;
  readonly valExamples: number;
  /**
   * The learning methods train() can run (Task.method); a task with another method is declined
   * with a reason. Absent: only plain local training, `fedavg`.
   */
  readonly methods?: readonly string[];
  train(model: DownloadedModel, task: Task, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<TrainingOutcome>;
  /** Scores the model on the validation split without training; absent when the trainer cannot (the site declines evaluation tasks). */
  evaluate?(model: DownloadedModel, signal: AbortSignal): Promise<ValidationScores>;
  /** Federated distillation (method `distill`): train the site's own model and label the transfer set; absent when the trainer cannot. */
  distill?(inputs: DistillInputs, task: Task, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<TrainingOutcome>;
}

/** The method every trainer runs: plain local training of every weight. */
export const PLAIN_METHOD = 'fedavg';

/** Why this trainer cannot run a training task's method, or null when it can. */
export function methodUnavailable(trainer: Trainer, method: string): string | null {
  const runs = trainer.methods ?? [PLAIN_METHOD];
  const asked = (method || PLAIN_METHOD).toLowerCase();
  return runs.includes(asked) ? null : `this site's agent cannot run method ${method}: its trainer (${trainer.backend}) runs ${runs.join(', ')}; upgrade the agent or choose another --method`;
}
