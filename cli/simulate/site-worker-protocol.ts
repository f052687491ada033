import type { DataSpec } from '../../shared/data/index.js';
import type { AttackKind } from './attack.js';
import type { TrainerKind } from './site-trainer.js';

/** What the simulate process hands one site worker thread. */
export interface SiteWorkerInput {
  id: number;
  /** The coordinator's gRPC address (loopback). */
  address: string;
  coordinatorKey: Uint8Array;
  sites: { name: string; index: number; keyPath: string; attack: AttackKind | null }[];
  /** Sites in the whole federation: the partition is over all of them. */
  totalSites: number;
  data: Omit<DataSpec, 'shard'>;
  trainer: TrainerKind;
  attackFactor: number;
  seed: number;
  logPath: string;
}

export type SiteWorkerMessage =
  | { type: 'ready'; backend: string }
  | { type: 'stopped'; peakTraining: number }
  | { type: 'fatal'; message: string };

export type SiteWorkerCommand = { type: 'stop' };
