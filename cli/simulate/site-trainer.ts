import type { SiteShards } from '../../shared/data/index.js';
import type { BackendReport } from '../../shared/model/index.js';
import type { Task } from '../../shared/wire/index.js';
import { FixedStepTrainer, type DownloadedModel, type Trainer, type TrainingOutcome, type TrainingProgress, type ValidationScores } from '../../node-agent/index.js';
import { TfjsTrainer } from '../../node-agent/trainer/tfjs-trainer.js';
import { AttackingTrainer, type AttackKind } from './attack.js';

export const TRAINER_KINDS = ['tfjs', 'fixed-step'] as const;
export type TrainerKind = (typeof TRAINER_KINDS)[number];

/** What a fixed-step site adds to every weight: small, so the global model stays usable. */
export const FIXED_STEP = 0.0001;

/**
 * Real TF.js training on one simulated site's shard. The shard's images are built (or copied out
 * of the shared file) when a task arrives and dropped when it ends, so a thread hosting hundreds
 * of sites holds the images of the one it is training.
 */
class ShardTrainer implements Trainer {
  readonly backend: string;
  readonly trainExamples: number;
  readonly valExamples: number;

  constructor(private readonly shards: SiteShards, private readonly index: number, private readonly backendReport: BackendReport) {
    this.backend = backendReport.name;
    ({ train: this.trainExamples, val: this.valExamples } = shards.counts(index));
  }

  async train(model: DownloadedModel, task: Task, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<TrainingOutcome> {
    return new TfjsTrainer(this.shards.load(this.index), this.backendReport).train(model, task, onProgress, signal);
  }

  async evaluate(model: DownloadedModel, signal: AbortSignal): Promise<ValidationScores> {
    return new TfjsTrainer(this.shards.load(this.index), this.backendReport).evaluate(model, signal);
  }
}

export interface SiteTrainerOptions {
  kind: TrainerKind;
  shards: SiteShards;
  /** 0-based site index in the federation. */
  index: number;
  /** The thread's TF.js backend (tfjs only). */
  backend: BackendReport | null;
  attack: AttackKind | null;
  attackFactor: number;
  seed: number;
}

export function siteTrainer(options: SiteTrainerOptions): Trainer {
  let trainer: Trainer;
  if (options.kind === 'tfjs') {
    if (!options.backend) throw new Error('the tfjs trainer needs a TF.js backend; select one before building the sites');
    trainer = new ShardTrainer(options.shards, options.index, options.backend);
  } else {
    trainer = new FixedStepTrainer(FIXED_STEP, options.shards.counts(options.index).train);
  }
  return options.attack ? new AttackingTrainer(trainer, options.attack, options.attackFactor, options.seed * 7919 + options.index) : trainer;
}
