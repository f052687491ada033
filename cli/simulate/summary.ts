import type { ModelManifest } from '../../coordinator/index.js';
import type { RoundRecord, StatusReply } from '../../shared/wire/index.js';
import { buildSummary } from '../demo/summary.js';
import type { RoundSummary, RunSummary } from '../report/index.js';
import type { AttackKind } from './attack.js';
import type { TrainerKind } from './site-trainer.js';
import type { TransportName } from './transport.js';

/** summary.json of a simulation: the run report's fields plus how the federation was simulated. */
export interface SimulationSummary extends RunSummary {
  kind: 'simulation';
  /** Each round with its final state: closed (a new version) or failed (the model stayed). */
  rounds: (RoundSummary & { state: string })[];
  partition: string;
  trainer: TrainerKind;
  transport: TransportName;
  /** Threads that trained sites (each one site at a time). */
  workers: number;
  /** Per training thread, the most sites that held a model and trained at once (the bound is 1). */
  peakSitesTraining: (number | null)[];
  strategy: { name: string; params: Record<string, number> };
  attackers: { site: string; kind: AttackKind }[];
  attackFactor: number | null;
  deadlineSeconds: number;
  /** Peak RSS of the coordinator's process (grpc); null in-process, where it is part of the simulator's. */
  coordinatorPeakRssMiB: number | null;
  /** Peak RSS of the simulate process: every site thread, plus the coordinator when in-process. */
  simulatorPeakRssMiB: number;
}

export interface SimulationFacts {
  partition: string;
  trainer: TrainerKind;
  transport: TransportName;
  workers: number;
  peakSitesTraining: (number | null)[];
  strategy: { name: string; params: Record<string, number> };
  attackers: { site: string; kind: AttackKind }[];
  attackFactor: number;
  deadlineSeconds: number;
  coordinatorPeakRssMiB: number | null;
  simulatorPeakRssMiB: number;
}

export function buildSimulationSummary(
  run: { status: StatusReply; rounds: RoundRecord[]; startedAt: Date; model: ModelManifest; data: string; modelName: string },
  facts: SimulationFacts,
): SimulationSummary {
  const base = buildSummary(run);
  const stateOf = new Map(run.rounds.map((r) => [r.round, r.state]));
  return {
    kind: 'simulation',
    ...base,
    rounds: base.rounds.map((r) => ({ ...r, state: stateOf.get(r.round) ?? 'unknown' })),
    ...facts,
    attackFactor: facts.attackers.length ? facts.attackFactor : null,
  };
}
