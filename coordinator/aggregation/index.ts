export * from './strategy.js';
export { FedAvg } from './fedavg.js';
export { FedProx } from './fedprox.js';
export { ServerOptimizer, type ServerStep } from './server-optimizer.js';
export { AdaptiveStep, ServerMomentum, type AdaptiveParameters, type AdaptiveRule } from './fedopt.js';
export { scaledAddInto } from './scaled-add.js';
export { ModularSumAggregate } from './modular-sum.js';
export { STRATEGIES, createStrategy, findStrategy, resolveStrategyParams, strategyNames } from './registry.js';
