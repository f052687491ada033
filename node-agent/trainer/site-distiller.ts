import type { SiteData } from '../../shared/data/types.js';
import { distillModel, predictSoftLabels, SOFT_LABEL_TENSOR, type DistillPayload, type TransferImages } from '../../shared/distill/index.js';
import { evaluateTask, taskOfManifestSpec } from '../../shared/model/index.js';
import type { Task } from '../../shared/wire/index.js';
import type { DownloadedModel } from '../connection/coordinator-client.js';
import { LocalModel } from './local-model.js';
import { trainModel } from './local-trainer.js';
import type { TrainingOutcome, TrainingProgress } from './trainer.js';

/** What a distill task hands the trainer: the round's payload and the blobs it names, downloaded and checked. */
export interface DistillInputs {
  payload: DistillPayload;
  transfer: TransferImages;
  /** The previous round's aggregated soft labels (rows x classes), or null in the first round. */
  aggregate: Float32Array | null;
  /** The global model: its spec says what the task is; it seeds the local model when the site chose none. */
  global: DownloadedModel;
}

/**
 * The site's side of federated distillation: it first distils its own model from the previous
 * round's aggregate (when there is one), trains it on the site's data, and labels the transfer set.
 * What leaves is the soft labels, whose size is the transfer set's, not the model's.
 */
export class SiteDistiller {
  readonly local: LocalModel;

  constructor(private readonly data: SiteData, choice: string | undefined, stateDir: string | undefined, site = '') {
    this.local = new LocalModel(choice, stateDir, site);
  }

  async run(inputs: DistillInputs, task: Task, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<TrainingOutcome> {
    const started = performance.now();
    const params = task.methodParams ?? {};
    const kind = taskOfManifestSpec(inputs.global.spec);
    if (kind !== inputs.payload.task) throw new Error(`the distill task labels for ${inputs.payload.task}, but the global model is trained for ${kind}`);
    const net = await this.local.load(inputs.global);
    const siteEpochs = params.siteDistillEpochs ?? 1;
    if (inputs.aggregate && siteEpochs > 0) {
      await distillModel(net, inputs.transfer, inputs.aggregate, {
        task: inputs.payload.task,
        temperature: params.temperature ?? 2,
        threshold: params.threshold ?? 0.5,
        epochs: siteEpochs,
        batchSize: task.batchSize,
        learningRate: task.learningRate,
        seed: task.seed,
        signal,
      });
    }
    const result = await trainModel(net, this.data.train, {
      task: kind,
      epochs: task.epochs,
      batchSize: task.batchSize,
      learningRate: task.learningRate,
      seed: task.seed,
      signal,
      onProgress: (p) => {
        if (p.batch === p.batches || p.batch % 10 === 0) onProgress({ phase: 'training', epoch: p.batch === p.batches ? p.epoch : p.epoch - 1, epochs: p.epochs, loss: p.loss });
      },
    });
    onProgress({ phase: 'evaluating', epoch: task.epochs, epochs: task.epochs, loss: result.loss });
    const metrics = await evaluateTask(net, this.data.val, kind);
    const soft = await predictSoftLabels(net, inputs.transfer, inputs.payload.task);
    const { rows, classes } = inputs.payload;
    if (soft.length !== rows * classes) throw new Error(`the local model gives ${soft.length} soft-label values on the transfer set; the round expects ${rows} x ${classes}`);
    await this.local.save();
    // Under secure aggregation the example count is the site's weight in the masked mean: 1 each unless the run weights by examples.
    const uniformMasked = task.secureAggregation && (params.weighting ?? 0) === 0;
    return {
      delta: soft,
      numExamples: uniformMasked ? 1 : this.data.train.count,
      metrics: { ...metrics, localParameters: net.countParams() },
      trainLoss: result.loss,
      epochs: task.epochs,
      seconds: (performance.now() - started) / 1000,
      tensors: [{ name: SOFT_LABEL_TENSOR, shape: [rows, classes], dtype: 'float32', offset: 0, byteLength: soft.byteLength }],
      kind: 'soft-labels',
    };
  }
}
