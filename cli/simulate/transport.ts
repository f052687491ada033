import type { DataSpec } from '../../shared/data/index.js';
import type { RoundEvent, StartRoundsReply, StartRoundsRequest, StatusReply } from '../../shared/wire/index.js';
import type { AttackKind } from './attack.js';
import type { TrainerKind } from './site-trainer.js';

export const TRANSPORTS = ['grpc', 'inproc'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** The admin calls a simulation makes; AdminClient has them over gRPC. */
export interface SimulationAdmin {
  status(): Promise<StatusReply>;
  startRounds(request: StartRoundsRequest): Promise<StartRoundsReply>;
  watch(fromRound: number, onEvent: (event: RoundEvent) => void, signal?: AbortSignal): Promise<void>;
  close(): void;
}

export interface PlannedSite {
  name: string;
  /** 0-based index in the federation. */
  index: number;
  /** The site's private key file (made at init, enrolled at the coordinator). */
  keyPath: string;
  attack: AttackKind | null;
}

/** What a transport needs to bring a federation up: a coordinator state folder and the sites to host. */
export interface FederationPlan {
  stateDir: string;
  logDir: string;
  sites: PlannedSite[];
  coordinatorKey: Uint8Array;
  adminKey: Uint8Array;
  data: Omit<DataSpec, 'shard'>;
  /** Held-out data the coordinator scores each new version on. */
  evalData: string;
  evalSeed: number;
  trainer: TrainerKind;
  attackFactor: number;
  seed: number;
  /** Site worker threads (grpc); the in-process transport trains in its own thread. */
  workers: number;
  log: (message: string) => void;
}

/** A coordinator and its virtual sites, up and connected (or connecting). */
export interface RunningFederation {
  readonly transport: TransportName;
  /** Threads that train sites. */
  readonly workers: number;
  /** TF.js backend the sites train on. */
  readonly backend: string;
  readonly admin: SimulationAdmin;
  /** Why a part of the federation stopped early, or null while all is well. */
  failure(): Error | null;
  /** Peak RSS of the coordinator's own process, or null when it shares the simulator's. */
  coordinatorPeakRssMiB(): number | null;
  /** Stops sites and coordinator; returns each training thread's most sites trained at once. */
  stop(): Promise<{ peakTraining: (number | null)[] }>;
}

export type StartFederation = (plan: FederationPlan) => Promise<RunningFederation>;
