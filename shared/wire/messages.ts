import type { RoundEvaluation } from '../evaluation/record.js';

/**
 * TypeScript shapes of the messages in proto/medley.proto, as @grpc/proto-loader decodes them
 * (camelCase fields, 64-bit integers as numbers, defaults filled in, `body` naming the oneof set).
 */

export interface TensorSpec {
  name: string;
  shape: number[];
  dtype: string;
  offset: number;
  byteLength: number;
}

export interface Hello {
  site: string;
  protocolVersion: number;
  agentVersion: string;
  backend: string;
  trainExamples: number;
  valExamples: number;
  clientNonce: Uint8Array;
}

export interface Challenge {
  federation: string;
  serverNonce: Uint8Array;
  coordinatorPublicKey: Uint8Array;
  signature: Uint8Array;
}

export interface Proof {
  signature: Uint8Array;
}

export interface Refusal {
  taskId: string;
  round: number;
  reason: string;
}

export interface SecAggKeysMessage {
  round: number;
  taskId: string;
  cPublicKey: Uint8Array;
  sPublicKey: Uint8Array;
  signature: Uint8Array;
}

export interface SecAggAdvert {
  site: string;
  identityKey: Uint8Array;
  cPublicKey: Uint8Array;
  sPublicKey: Uint8Array;
  signature: Uint8Array;
}

export interface EncryptedShareMessage {
  from: string;
  to: string;
  ciphertext: Uint8Array;
}

export interface RevealedShareMessage {
  of: string;
  kind: string;
  x: number;
  y: Uint8Array;
}

export interface Progress {
  taskId: string;
  round: number;
  phase: string;
  epoch: number;
  epochs: number;
  bytes: number;
  totalBytes: number;
  loss: number;
  message: string;
}

export interface Heartbeat {
  unixMs: number;
}

export type AgentMessage =
  | { body?: 'hello'; hello: Hello }
  | { body?: 'progress'; progress: Progress }
  | { body?: 'heartbeat'; heartbeat: Heartbeat }
  | { body?: 'proof'; proof: Proof }
  | { body?: 'refusal'; refusal: Refusal }
  | { body?: 'secaggKeys'; secaggKeys: SecAggKeysMessage }
  | { body?: 'secaggShares'; secaggShares: { round: number; shares: EncryptedShareMessage[] } }
  | { body?: 'secaggReveal'; secaggReveal: { round: number; shares: RevealedShareMessage[] } };

export interface Welcome {
  federation: string;
  sessionId: string;
  modelVersion: number;
  protocolVersion: number;
}

export interface Task {
  taskId: string;
  federation: string;
  round: number;
  modelVersion: number;
  method: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  deadlineUnixMs: number;
  seed: number;
  sessionId: string;
  secureAggregation?: SecureAggregationSpec | null;
  privacy?: PrivacySpec | null;
  parameters?: number;
  strategy?: string;
  /** FedProx's proximal coefficient; 0 or absent = plain local training. */
  proximalMu?: number;
  /** The learning method's parameters by name, defaults filled in by the coordinator. */
  methodParams?: Record<string, number>;
  /** What the method computed for this round at the coordinator (e.g. TGD's masks); empty for most methods. */
  methodPayload?: Uint8Array;
}

export interface SecureAggregationSpec {
  threshold: number;
  clipRange: number;
  weightBound: number;
}

export interface PrivacySpec {
  noiseMultiplier: number;
  clipNorm: number;
}

export interface RoundNotice {
  round: number;
  state: string;
  message: string;
}

export type CoordinatorMessage =
  | { body?: 'welcome'; welcome: Welcome }
  | { body?: 'task'; task: Task }
  | { body?: 'heartbeat'; heartbeat: Heartbeat }
  | { body?: 'roundNotice'; roundNotice: RoundNotice }
  | { body?: 'challenge'; challenge: Challenge }
  | { body?: 'secaggRoster'; secaggRoster: { round: number; sites: SecAggAdvert[] } }
  | { body?: 'secaggInbox'; secaggInbox: { round: number; shares: EncryptedShareMessage[] } }
  | { body?: 'secaggUnmask'; secaggUnmask: { round: number; survivors: string[]; dropped: string[] } };

export interface ModelRequest {
  federation: string;
  version: number;
  site: string;
  sessionId: string;
  offset: number;
}

export interface ModelHeader {
  version: number;
  topologyJson: string;
  specJson: string;
  tensors: TensorSpec[];
  totalBytes: number;
  sha256: string;
  offset: number;
  formatVersion: number;
  federation: string;
  signature: Uint8Array;
}

export type ModelChunk =
  | { body?: 'header'; header: ModelHeader }
  | { body?: 'data'; data: Buffer }
  | { body?: 'trailer'; trailer: { bytes: number } };

/** Federated distillation: a content-addressed blob the coordinator holds (DownloadBlob). */
export interface BlobRequest {
  federation: string;
  site: string;
  sessionId: string;
  sha256: string;
  offset: number;
}

export interface BlobHeader {
  federation: string;
  kind: string;
  sha256: string;
  totalBytes: number;
  offset: number;
  signature: Uint8Array;
}

export type BlobChunk =
  | { body?: 'header'; header: BlobHeader }
  | { body?: 'data'; data: Buffer }
  | { body?: 'trailer'; trailer: { bytes: number } };

export interface UpdateHeader {
  federation: string;
  round: number;
  taskId: string;
  site: string;
  sessionId: string;
  baseVersion: number;
  numExamples: number;
  tensors: TensorSpec[];
  totalBytes: number;
  kind: string;
  formatVersion: number;
  scheme: string;
  sealedKey: Uint8Array;
  headerSignature: Uint8Array;
}

export interface UpdateTrailer {
  sha256: string;
  metrics: Record<string, number>;
  trainLoss: number;
  epochs: number;
  seconds: number;
  sealedFinal: Uint8Array;
  signature: Uint8Array;
  chunks: number;
}

/** What the sealed final chunk of an update carries (JSON), the site's report on its training. */
export interface UpdateReport {
  metrics: Record<string, number>;
  trainLoss: number;
  epochs: number;
  seconds: number;
}

export type UpdateChunk =
  | { body?: 'header'; header: UpdateHeader }
  | { body?: 'data'; data: Buffer }
  | { body?: 'trailer'; trailer: UpdateTrailer };

/** An evaluation task's answer: a header like an update's (kind "evaluation"), the sealed JSON body, the site's signature. */
export interface SealedEvaluation {
  header: UpdateHeader;
  sealedBody: Uint8Array;
  signature: Uint8Array;
}

export interface UploadReceipt {
  accepted: boolean;
  round: number;
  bytes: number;
  message: string;
}

export interface SiteStatus {
  name: string;
  connected: boolean;
  lastSeenUnixMs: number;
  backend: string;
  trainExamples: number;
  state: string;
}

export interface SiteReport {
  site: string;
  examples: number;
  epochs: number;
  trainLoss: number;
  seconds: number;
  bytes: number;
  metrics: Record<string, number>;
}

export type RoundState = 'open' | 'closed' | 'failed' | 'aborted';

export interface RoundRecord {
  round: number;
  state: RoundState | string;
  baseVersion: number;
  modelVersion: number;
  selected: string[];
  reports: SiteReport[];
  examples: number;
  startedUnixMs: number;
  closedUnixMs: number;
  bytesDown: number;
  bytesUp: number;
  metrics: Record<string, number>;
  message: string;
  secureAggregation?: boolean;
  refused?: string[];
  dropped?: string[];
  /** The aggregation strategy that made this round's model. */
  strategy?: string;
  /** Sites that reported their task failed (the round stopped waiting for them). */
  failed?: string[];
  /** An evaluation round's per-site and pooled figures (on the wire: evaluationJson). */
  evaluation?: RoundEvaluation | null;
  /** Wire form of `evaluation` (proto's evaluation_json); AdminClient turns it back into `evaluation`. */
  evaluationJson?: string;
}

export interface StatusReply {
  federation: string;
  modelVersion: number;
  sites: SiteStatus[];
  rounds: RoundRecord[];
  running: boolean;
  roundsRemaining: number;
  backend: string;
  parameters: number;
  modelBytes: number;
  /** The highest round number in the journal; `rounds` may list fewer (see StatusRequest). */
  lastRound?: number;
}

export interface StartRoundsRequest {
  rounds: number;
  minSites: number;
  maxSites: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  deadlineSeconds: number;
  waitSeconds: number;
  seed: number;
  secureAggregation?: boolean;
  secaggThreshold?: number;
  secaggClip?: number;
  dpNoiseMultiplier?: number;
  dpClipNorm?: number;
  strategy?: string;
  /** The strategy's numeric parameters by name (mu, eta, beta1, beta2, tau, momentum, f, m, trim). */
  strategyParams?: Record<string, number>;
  /** One evaluation round: the sites score the current model on their validation split; nothing is trained. */
  evaluate?: boolean;
  /** Only these sites may be selected (absent or empty: any connected site). */
  sites?: string[];
  /** The learning method ("" or absent: fedavg, plain local training of every weight). */
  method?: string;
  /** The method's numeric parameters by name. */
  methodParams?: Record<string, number>;
  /** How the learning rate changes over the run's rounds: constant ("" or absent), exp:GAMMA or cosine:FLOOR. */
  lrSchedule?: string;
}

export interface StartRoundsReply {
  firstRound: number;
  lastRound: number;
}

export type RoundEventKind =
  | 'round-started'
  | 'progress'
  | 'update-accepted'
  | 'update-rejected'
  | 'evaluation-accepted'
  | 'evaluation-rejected'
  | 'task-refused'
  | 'round-closed'
  | 'round-failed'
  | 'run-finished';

export interface RoundEvent {
  kind: RoundEventKind | string;
  round: number;
  site: string;
  message: string;
  record?: RoundRecord | null;
  progress?: Progress | null;
  unixMs: number;
}

/** Bumped when the tensor byte layout or the meaning of a field changes incompatibly. */
export const PROTOCOL_VERSION = 1;
export const TENSOR_FORMAT_VERSION = 1;

/** Which rounds a status reply lists: both 0 = the most recent ones; see proto StatusRequest. */
export interface StatusRequest {
  fromRound?: number;
  limit?: number;
}

/** The most rounds one status reply carries. */
export const STATUS_MAX_ROUNDS = 1000;

export interface WatchRequest {
  fromRound: number;
}
