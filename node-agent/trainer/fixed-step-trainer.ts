import type { Task } from '../../shared/wire/index.js';
import type { DownloadedModel } from '../connection/coordinator-client.js';
import type { Trainer, TrainingOutcome, TrainingProgress } from './trainer.js';

/**
 * For benchmarks and exactness tests only: "training" adds the same constant to every parameter,
 * so a round costs only what the framework itself costs, and the expected global model is known
 * exactly. Never a choice for real sites.
 */
export class FixedStepTrainer implements Trainer {
  readonly backend = 'none (fixed step)';
  readonly valExamples = 0;

  constructor(private readonly step: number, readonly trainExamples: number) {
    if (!Number.isFinite(step)) throw new RangeError(`fixed step ${step} is not a finite number`);
    if (!Number.isInteger(trainExamples) || trainExamples < 1) throw new RangeError(`--examples must be a positive whole number, got ${trainExamples}`);
  }

  async train(model: DownloadedModel, task: Task, onProgress: (p: TrainingProgress) => void): Promise<TrainingOutcome> {
    const started = performance.now();
    const delta = new Float32Array(model.weights.length).fill(this.step);
    onProgress({ phase: 'training', epoch: task.epochs, epochs: task.epochs, loss: 0 });
    return { delta, numExamples: this.trainExamples, metrics: {}, trainLoss: 0, epochs: task.epochs, seconds: (performance.now() - started) / 1000 };
  }
}
