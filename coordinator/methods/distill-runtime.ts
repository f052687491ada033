import type { DistillPayload, DistillTask, SoftLabelLayout, TransferImages, TransferRef } from '../../shared/distill/index.js';
import type { ModelManifest } from '../store/index.js';
import { DistillBlobs } from './distill-blobs.js';

type DistillModule = typeof import('../../shared/distill/index.js');
type ModelModule = typeof import('../../shared/model/index.js');

/** The round's soft-label layout, and the payload every task of the round carries. */
export interface DistillRound {
  layout: SoftLabelLayout;
  rows: number;
  payload: Uint8Array;
}

/** One site's soft labels, after the edge checked them. */
export interface SiteSoftLabels {
  probabilities: Float32Array;
  weight: number;
}

/**
 * What the coordinator needs for distillation rounds: the transfer set (served as a blob), the
 * soft-label checks and aggregation, and the student's training. Made only when the coordinator
 * was given a transfer set; TensorFlow.js is loaded then and not otherwise, as for the evaluator.
 */
export class DistillRuntime {
  private constructor(
    readonly blobs: DistillBlobs,
    readonly transfer: TransferImages,
    readonly transferRef: TransferRef,
    private readonly distillModule: DistillModule,
    private readonly model: ModelModule,
    private readonly aggregateSoftLabels: typeof import('../aggregation/soft-labels.js').aggregateSoftLabels,
  ) {}

  static async open(stateDir: string, transfer: TransferImages, log: (m: string) => void): Promise<DistillRuntime> {
    const distillModule = await import('../../shared/distill/index.js');
    const model = await import('../../shared/model/index.js');
    const { aggregateSoftLabels } = await import('../aggregation/soft-labels.js');
    await model.selectBackend({ log });
    const blobs = await DistillBlobs.open(stateDir);
    const bytes = new Uint8Array(transfer.images.buffer, transfer.images.byteOffset, transfer.images.byteLength);
    const ref = await blobs.put(distillModule.TRANSFER_SET_KIND, bytes);
    log(`distillation transfer set: ${transfer.count} unlabelled images ${transfer.height}x${transfer.width}x${transfer.channels}, sha256 ${ref.sha256.slice(0, 16)}…`);
    return new DistillRuntime(blobs, transfer, { ...ref, count: transfer.count, height: transfer.height, width: transfer.width, channels: transfer.channels }, distillModule, model, aggregateSoftLabels);
  }

  /** The layout of a round on `base` and the payload its tasks carry (with the last aggregate when it labels this transfer set). */
  async prepare(base: ModelManifest): Promise<DistillRound> {
    const task: DistillTask = this.distillModule.distillTaskOf(this.model.taskOfManifestSpec(base.spec));
    const [h, w, c] = (base.spec.inputShape ?? []) as number[];
    const t = this.transferRef;
    if (h !== t.height || w !== t.width || c !== t.channels) {
      throw new Error(`the global model takes ${h}x${w}x${c} images; the transfer set's are ${t.height}x${t.width}x${t.channels}; give coordinator serve a --transfer-set of the model's input size`);
    }
    const classes = Number(base.spec.classes);
    const layout = this.distillModule.softLabelLayout(task, classes, t.height, t.width);
    const rows = layout.rowsPerImage * t.count;
    const latest = await this.blobs.latestAggregate();
    const aggregate = latest && latest.transferSha256 === t.sha256 && latest.bytes === rows * layout.classes * 4 ? { sha256: latest.sha256, bytes: latest.bytes, round: latest.round } : null;
    const payload: DistillPayload = { format: 1, transfer: t, aggregate, task, rows, classes: layout.classes };
    return { layout, rows, payload: this.distillModule.encodeDistillPayload(payload) };
  }

  /** Why a site's soft labels cannot be used, or null. */
  problem(values: Float32Array, rows: number, classes: number): string | null {
    return this.distillModule.softLabelProblem(values, rows, classes);
  }

  /** The (weighted) mean of the sites' soft labels, sharpened when `sharpen` > 0 (DS-FL's ERA). */
  aggregate(inputs: readonly SiteSoftLabels[], classes: number, params: Readonly<Record<string, number>>): Float32Array {
    return this.aggregateSoftLabels(inputs, classes, {
      weighting: params.weighting === 1 ? 'examples' : 'uniform',
      ...(params.sharpen! > 0 ? { era: { temperature: params.sharpen! } } : {}),
    });
  }

  /** Trains the student (the base version's network) on the transfer set against the aggregate; answers its new weights. */
  async trainStudent(base: ModelManifest, weights: Float32Array, aggregate: Float32Array, task: DistillTask, params: Readonly<Record<string, number>>, seed: number, batchSize: number): Promise<{ weights: Float32Array; loss: number; seconds: number }> {
    return this.model.networkPool.withNetwork(base.topology, { specs: base.tensors, flat: weights }, async (net) => {
      const result = await this.distillModule.distillModel(net, this.transfer, aggregate, {
        task,
        temperature: params.temperature!,
        threshold: params.threshold!,
        epochs: params.studentEpochs!,
        learningRate: params.studentLearningRate!,
        batchSize,
        seed,
      });
      return { weights: this.model.readFlatWeights(net), loss: result.loss, seconds: result.seconds };
    });
  }

  async saveAggregate(round: number, values: Float32Array): Promise<void> {
    const ref = await this.blobs.put(this.distillModule.AGGREGATE_KIND, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    await this.blobs.setLatestAggregate({ ...ref, round, transferSha256: this.transferRef.sha256 });
  }
}
