import { resolveDeclaredParameters } from '../../shared/config/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import { FedAvg } from './fedavg.js';
import { fedadagradDefinition, fedadamDefinition, fedavgmDefinition, fedyogiDefinition } from './fedopt.js';
import { fedproxDefinition } from './fedprox.js';
import { ROBUST_STRATEGIES } from './robust/index.js';
import type { AggregationStrategy, StrategyContext, StrategyDefinition } from './strategy.js';

const fedavg: StrategyDefinition = {
  name: 'fedavg',
  summary: 'weighted mean of the updates by example count (McMahan et al. 2017); streaming',
  parameters: {},
  create: () => new FedAvg(),
};

/** Every strategy `round start --strategy` and `demo --strategy` can name. */
export const STRATEGIES: readonly StrategyDefinition[] = [
  fedavg,
  fedproxDefinition,
  fedavgmDefinition,
  fedadagradDefinition,
  fedadamDefinition,
  fedyogiDefinition,
  ...ROBUST_STRATEGIES,
];

export function strategyNames(): string[] {
  return STRATEGIES.map((s) => s.name);
}

export function findStrategy(name: string): StrategyDefinition {
  const found = STRATEGIES.find((s) => s.name === name);
  if (!found) throw new ConfigError(`unknown strategy "${name}"; choose one of ${strategyNames().join(', ')}`);
  return found;
}

/** Fills in defaults and checks every parameter against the strategy's declaration (ConfigError naming what is wrong). */
export function resolveStrategyParams(definition: StrategyDefinition, given: Readonly<Record<string, number>> = {}): Record<string, number> {
  return resolveDeclaredParameters(`strategy ${definition.name}`, definition.parameters, given);
}

/** Makes the strategy for one run, or a ConfigError that names what is wrong. */
export function createStrategy(name: string, given: Readonly<Record<string, number>>, context: StrategyContext): AggregationStrategy {
  const definition = findStrategy(name || 'fedavg');
  return definition.create(resolveStrategyParams(definition, given), context);
}
