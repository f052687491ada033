import { ConfigError } from '../wire/index.js';

/**
 * One numeric parameter a strategy or a learning method declares (`--strategy-param NAME=VALUE`,
 * `--method-param NAME=VALUE`). Declaring bounds lets a typo or an out-of-range value be refused
 * before any round starts, with the parameter and its range named.
 */
export interface DeclaredParameter {
  default: number;
  describe: string;
  /** Bounds (inclusive unless marked exclusive). */
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
  integer?: boolean;
}

/**
 * Fills in defaults and checks every given value against its declaration. `owner` names what the
 * parameters belong to in messages ("strategy fedprox", "method tgd").
 */
export function resolveDeclaredParameters(
  owner: string,
  declared: Readonly<Record<string, DeclaredParameter>>,
  given: Readonly<Record<string, number>> = {},
): Record<string, number> {
  for (const key of Object.keys(given)) {
    if (!(key in declared)) {
      const names = Object.keys(declared);
      throw new ConfigError(`${owner} has no parameter "${key}"; ${names.length ? `it takes ${names.join(', ')}` : 'it takes none'}`);
    }
  }
  const params: Record<string, number> = {};
  for (const [key, spec] of Object.entries(declared)) {
    const value = given[key] ?? spec.default;
    const range = rangeOf(spec);
    if (!Number.isFinite(value)) throw new ConfigError(`${owner}: ${key} = ${value} is not a finite number; give a value in ${range} (${spec.describe})`);
    if (spec.integer && !Number.isInteger(value)) throw new ConfigError(`${owner}: ${key} = ${value} must be a whole number (${spec.describe})`);
    const low = spec.exclusiveMin ? value <= spec.min! : value < spec.min!;
    const high = spec.exclusiveMax ? value >= spec.max! : value > spec.max!;
    if ((spec.min !== undefined && low) || (spec.max !== undefined && high)) {
      throw new ConfigError(`${owner}: ${key} = ${value} is outside ${range} (${spec.describe})`);
    }
    params[key] = value;
  }
  return params;
}

/** "[0, 1)", "(0, inf)": the interval a parameter accepts, in the usual notation. */
function rangeOf(spec: DeclaredParameter): string {
  const low = spec.min === undefined ? '(-inf' : `${spec.exclusiveMin ? '(' : '['}${spec.min}`;
  const high = spec.max === undefined ? 'inf)' : `${spec.max}${spec.exclusiveMax ? ')' : ']'}`;
  return `${low}, ${high}`;
}
