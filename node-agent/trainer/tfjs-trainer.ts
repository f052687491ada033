import type { SiteData } from '../../shared/data/types.js';
import { evaluateTask, networkPool, readFlatWeights, taskOfManifestSpec, type BackendReport } from '../../shared/model/index.js';
import { predictProbabilities } from '../../shared/model/predict.js';
import type { Task } from '../../shared/wire/index.js';
import type { DownloadedModel } from '../connection/coordinator-client.js';
import { trainModel } from './local-trainer.js';
import { tgdMaskOf } from './tgd-task.js';
import { truncatedMaskOf } from './truncated-task.js';
import { DENOISING_LOSSES, type DenoisingLoss } from './task-loss.js';
import type { Trainer, TrainingOutcome, TrainingProgress, ValidationScores } from './trainer.js';
import { SiteDistiller, type DistillInputs } from './site-distiller.js';

/** Real local training with TensorFlow.js on the site's own images. */
export class TfjsTrainer implements Trainer {
  readonly backend: string;
  readonly methods: readonly string[] = ['fedavg', 'distill', 'tgd', 'truncated'];
  /** Federated distillation's local model (`agent run --local-model`), kept across rounds. */
  private readonly distiller: SiteDistiller;

  constructor(private readonly data: SiteData, backend: BackendReport, distillation: { localModel?: string; stateDir?: string; site?: string } = {}) {
    this.backend = backend.name;
    this.distiller = new SiteDistiller(data, distillation.localModel, distillation.stateDir, distillation.site);
  }

  distill(inputs: DistillInputs, task: Task, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<TrainingOutcome> {
    return this.distiller.run(inputs, task, onProgress, signal);
  }

  get trainExamples(): number {
    return this.data.train.count;
  }

  get valExamples(): number {
    return this.data.val.count;
  }

  async evaluate(model: DownloadedModel, signal: AbortSignal): Promise<ValidationScores> {
    const task = taskOfManifestSpec(model.spec);
    if (task !== 'classification') {
      // Evaluation rounds pool class probabilities (ROC, calibration); other tasks report their metrics after training.
      throw new Error(`evaluation rounds score classifiers; this model is trained for ${task}, whose Dice/IoU or PSNR/SSIM each training round reports`);
    }
    return networkPool.withNetwork(model.topology, { specs: model.header.tensors, flat: model.weights }, async (net) => {
      signal.throwIfAborted();
      const probabilities = await predictProbabilities(net, this.data.val);
      const { labels, classes, subgroups } = this.data.val;
      return { labels, probabilities, classes, subgroups };
    });
  }

  async train(model: DownloadedModel, task: Task, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<TrainingOutcome> {
    const started = performance.now();
    const kind = taskOfManifestSpec(model.spec);
    return networkPool.withNetwork(model.topology, { specs: model.header.tensors, flat: model.weights }, async (net) => {
      // TGD: only the filters the coordinator's KSE scores call redundant train; truncated: only the head.
      const trainableMask = tgdMaskOf(task, net) ?? truncatedMaskOf(task, net);
      const result = await trainModel(net, this.data.train, {
        task: kind,
        denoisingLoss: denoisingLossOf(model.spec),
        epochs: task.epochs,
        batchSize: task.batchSize,
        learningRate: task.learningRate,
        seed: task.seed,
        proximalMu: task.proximalMu,
        trainableMask,
        signal,
        onProgress: (p) => {
          if (p.batch === p.batches || p.batch % 10 === 0) onProgress({ phase: 'training', epoch: p.batch === p.batches ? p.epoch : p.epoch - 1, epochs: p.epochs, loss: p.loss });
        },
      });
      onProgress({ phase: 'evaluating', epoch: task.epochs, epochs: task.epochs, loss: result.loss });
      const metrics = await evaluateTask(net, this.data.val, kind);
      const after = readFlatWeights(net);
      const delta = new Float32Array(after.length);
      for (let i = 0; i < after.length; i++) delta[i] = after[i]! - model.weights[i]!;
      return {
        delta,
        numExamples: this.data.train.count,
        metrics: { ...metrics },
        trainLoss: result.loss,
        epochs: task.epochs,
        seconds: (performance.now() - started) / 1000,
        ...(trainableMask ? { open: trainableMask.elements } : {}),
      };
    });
  }
}

/** The manifest spec's denoising loss (l1 or l2; l2 when absent). */
function denoisingLossOf(spec: Readonly<Record<string, unknown>>): DenoisingLoss | undefined {
  const loss = spec.loss;
  if (loss === undefined) return undefined;
  if (typeof loss !== 'string' || !(DENOISING_LOSSES as readonly string[]).includes(loss)) {
    throw new Error(`model spec loss ${JSON.stringify(loss)} is not one of ${DENOISING_LOSSES.join(', ')}`);
  }
  return loss as DenoisingLoss;
}
