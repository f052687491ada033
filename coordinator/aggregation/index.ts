export * from './strategy.js';
export { FedAvg } from './fedavg.js';
export { scaledAddInto } from './scaled-add.js';
export { ModularSumAggregate } from './modular-sum.js';
export { STRATEGIES, createStrategy, findStrategy, resolveStrategyParams, strategyNames } from './registry.js';
