import { ConfigError } from '../../shared/wire/index.js';
import { FedAvg } from './fedavg.js';
import { fedadagradDefinition, fedadamDefinition, fedavgmDefinition, fedyogiDefinition } from './fedopt.js';
import { fedproxDefinition } from './fedprox.js';
import { ROBUST_STRATEGIES } from './robust/index.js';
import type { AggregationStrategy, StrategyContext, StrategyDefinition, StrategyParameter } from './strategy.js';

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

/**
 * Fills in defaults and checks every parameter against the strategy's declaration, so a typo or an
 * out-of-range value is refused before any round starts, with the parameter and its range named.
 */
export function resolveStrategyParams(definition: StrategyDefinition, given: Readonly<Record<string, number>> = {}): Record<string, number> {
  const declared = definition.parameters;
  for (const key of Object.keys(given)) {
    if (!(key in declared)) {
      const names = Object.keys(declared);
      throw new ConfigError(
        `strategy ${definition.name} has no parameter "${key}"; ${names.length ? `it takes ${names.join(', ')}` : 'it takes none'}`,
      );
    }
  }
  const params: Record<string, number> = {};
  for (const [key, spec] of Object.entries(declared)) {
    const value = given[key] ?? spec.default;
    const range = rangeOf(spec);
    if (!Number.isFinite(value)) throw new ConfigError(`strategy ${definition.name}: ${key} = ${value} is not a finite number; give a value in ${range} (${spec.describe})`);
    if (spec.integer && !Number.isInteger(value)) throw new ConfigError(`strategy ${definition.name}: ${key} = ${value} must be a whole number (${spec.describe})`);
    const low = spec.exclusiveMin ? value <= spec.min! : value < spec.min!;
    const high = spec.exclusiveMax ? value >= spec.max! : value > spec.max!;
    if ((spec.min !== undefined && low) || (spec.max !== undefined && high)) {
      throw new ConfigError(`strategy ${definition.name}: ${key} = ${value} is outside ${range} (${spec.describe})`);
    }
    params[key] = value;
  }
  return params;
}

/** "[0, 1)", "(0, inf)": the interval a parameter accepts, in the usual notation. */
function rangeOf(spec: StrategyParameter): string {
  const low = spec.min === undefined ? '(-inf' : `${spec.exclusiveMin ? '(' : '['}${spec.min}`;
  const high = spec.max === undefined ? 'inf)' : `${spec.max}${spec.exclusiveMax ? ')' : ']'}`;
  return `${low}, ${high}`;
}

/** Makes the strategy for one run, or a ConfigError that names what is wrong. */
export function createStrategy(name: string, given: Readonly<Record<string, number>>, context: StrategyContext): AggregationStrategy {
  const definition = findStrategy(name || 'fedavg');
  return definition.create(resolveStrategyParams(definition, given), context);
}
