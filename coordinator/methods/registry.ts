import { resolveDeclaredParameters } from '../../shared/config/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import type { MethodDefinition } from './method.js';
import { tgd } from './tgd.js';
import { distill } from './distill.js';
import { truncated } from './truncated.js';

/** Plain local training of every weight; the foundation's method. */
const fedavg: MethodDefinition = {
  name: 'fedavg',
  summary: 'plain local training of every weight; the run\'s strategy aggregates the updates',
  parameters: {},
  returns: 'weights',
};

/** Every method `round start --method` and `demo --method` can name. Methods register here. */
export const METHODS: MethodDefinition[] = [fedavg, distill, tgd, truncated];

export function methodNames(): string[] {
  return METHODS.map((m) => m.name);
}

export function findMethod(name: string): MethodDefinition {
  const found = METHODS.find((m) => m.name === (name || 'fedavg'));
  if (!found) throw new ConfigError(`unknown method "${name}"; choose one of ${methodNames().join(', ')}`);
  return found;
}

/** A run's method with its parameters resolved (defaults filled in, bounds checked). */
export interface ChosenMethod {
  definition: MethodDefinition;
  params: Record<string, number>;
}

/** Resolves a run's method choice, or throws a ConfigError naming the method, parameter and range. */
export function chooseMethod(name: string | undefined, given: Readonly<Record<string, number>> = {}): ChosenMethod {
  const definition = findMethod(name ?? '');
  return { definition, params: resolveDeclaredParameters(`method ${definition.name}`, definition.parameters, given) };
}
