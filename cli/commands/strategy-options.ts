import { InvalidArgumentError, Option, type Command } from 'commander';
import { findStrategy, resolveStrategyParams, strategyNames } from '../../coordinator/aggregation/index.js';

/**
 * Commander accumulator for a repeatable `--X-param NAME=VALUE` (a comma list also works:
 * `--strategy-param eta=0.01,tau=0.001`). Only the form is checked here; whether the strategy or
 * method takes that parameter, and in what range, is its registry's call. `example` goes in errors.
 */
export function namedNumbers(example: string): (value: string, previous?: Record<string, number>) => Record<string, number> {
  return (value, previous = {}) => {
    const params = { ...previous };
    for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
      const eq = entry.indexOf('=');
      const name = entry.slice(0, eq).trim();
      const text = entry.slice(eq + 1).trim();
      const number = text === '' ? Number.NaN : Number(text);
      if (eq <= 0 || !/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) {
        throw new InvalidArgumentError(`"${entry}" is not NAME=VALUE (for example ${example})`);
      }
      if (!Number.isFinite(number)) throw new InvalidArgumentError(`"${entry}": ${name} must be a number, got "${text}"`);
      if (name in params) throw new InvalidArgumentError(`"${entry}": ${name} was already given (${params[name]})`);
      params[name] = number;
    }
    return params;
  };
}

/** `--strategy-param NAME=VALUE`. */
export const strategyParam = namedNumbers('mu=0.01 for fedprox');

/** Adds `--strategy NAME` and `--strategy-param NAME=VALUE` to a command. */
export function strategyOptions(command: Command): Command {
  return command
    .option('--strategy <name>', `aggregation strategy: ${strategyNames().join(', ')}`, 'fedavg')
    .addOption(
      new Option('--strategy-param <name=value>', "one of the strategy's parameters (repeat for more), e.g. mu=0.01 for fedprox")
        .argParser(strategyParam)
        .default({}, 'none: the strategy\'s defaults'),
    );
}

/**
 * Checks a strategy choice against this build's registry, for commands that start their own
 * coordinator (demo, simulate) and so can refuse a typo before spending minutes on start-up.
 * Returns the parameters with defaults filled in, as the run will use them.
 */
export function checkStrategy(name: string, params: Readonly<Record<string, number>>): Record<string, number> {
  try {
    return resolveStrategyParams(findStrategy(name), params);
  } catch (err) {
    throw new InvalidArgumentError(`--strategy ${name}: ${(err as Error).message}`);
  }
}
