export { Coordinator, type CoordinatorOptions, type InProcessClients } from './server/coordinator.js';
export { initCoordinatorState, type InitialModel, type InitOptions } from './init.js';
export { ModelStore, SiteRegistry, RoundJournal, readFederationConfig, type ModelManifest } from './store/index.js';
export { FedAvg, type AggregationStrategy, type RoundAggregate } from './aggregation/index.js';
export type { ModelEvaluator } from './rounds/index.js';
