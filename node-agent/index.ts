export { NodeAgent, AgentRefusedError, type AgentOptions } from './agent.js';
export { CoordinatorClient, type DownloadedModel } from './connection/coordinator-client.js';
export { Backoff } from './connection/backoff.js';
export type { Trainer, TrainingOutcome, TrainingProgress, ValidationScores } from './trainer/trainer.js';
export { FixedStepTrainer } from './trainer/fixed-step-trainer.js';
export { TrainableMaskBuilder, MaskGuard, checkMask, countTrainable, flatSize, weightSlots, type TrainableMask, type WeightSlot } from './trainer/trainable-mask.js';
export { adaptToStudy, noise2NoiseSet, type AdaptCycle, type AdaptOptions, type StudyPair } from './trainer/online-adaptation.js';
