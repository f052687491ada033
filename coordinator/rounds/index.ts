export { RunController, type ModelEvaluator, type RunControllerDeps } from './run-controller.js';
export { SiteSessions, type SiteSession, type SiteState } from './site-sessions.js';
export { RoundEvents } from './round-events.js';
export { Round } from './round.js';
export { pickSites } from './site-selection.js';
export { parseLrSchedule, scheduledLearningRate, describeLrSchedule, type LrSchedule } from './lr-schedule.js';
export { EvaluationRound } from './evaluation-round.js';
export type { CoordinatorState } from './coordinator-state.js';
