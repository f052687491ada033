import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/wire/index.js';
import { STRATEGIES, createStrategy, findStrategy, resolveStrategyParams, strategyNames } from './registry.js';

const context = { spillDir: '/nonexistent', memoryBudgetBytes: 0, log: () => {} };

/** The ConfigError `make` throws; fails the test if it throws anything else or nothing. */
function configError(make: () => unknown): ConfigError {
  try {
    make();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

const STREAMING = ['fedprox', 'fedavgm', 'fedadagrad', 'fedadam', 'fedyogi'];

describe('strategy registry', () => {
  it('offers the streaming strategies by name, each with a cited one-line summary', () => {
    for (const name of STREAMING) {
      expect(strategyNames()).toContain(name);
      const definition = findStrategy(name);
      expect(definition.summary).toMatch(/\(\w[\w .]* et al\. \d{4}\)/);
      expect(definition.summary).not.toMatch(/\n/);
    }
    expect(new Set(strategyNames()).size).toBe(STRATEGIES.length);
  });

  it('makes each streaming strategy from its defaults alone, and records them', () => {
    for (const definition of STRATEGIES.filter((d) => d.name === 'fedavg' || STREAMING.includes(d.name))) {
      const defaults = Object.fromEntries(Object.entries(definition.parameters).map(([key, spec]) => [key, spec.default]));
      const strategy = createStrategy(definition.name, {}, context);
      expect(strategy.name).toBe(definition.name);
      expect(strategy.parameters ?? {}).toEqual(defaults);
    }
  });

  it('fills in the defaults the issue names and keeps the values given', () => {
    expect(createStrategy('fedprox', {}, context).parameters).toEqual({ mu: 0.01 });
    expect(createStrategy('fedavgm', { momentum: 0 }, context).parameters).toEqual({ eta: 1, momentum: 0 });
    expect(createStrategy('fedadagrad', {}, context).parameters).toEqual({ eta: 0.01, beta1: 0.9, tau: 1e-3 });
    expect(createStrategy('fedadam', { eta: 0.1 }, context).parameters).toEqual({ eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
    expect(createStrategy('fedyogi', { tau: 1e-2 }, context).parameters).toEqual({ eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-2 });
  });

  it('refuses an unknown strategy, naming it and the choices', () => {
    const err = configError(() => createStrategy('fedadamw', {}, context));
    expect(err.message).toMatch(/unknown strategy "fedadamw"; choose one of .*fedavg.*fedprox.*fedavgm.*fedadagrad.*fedadam.*fedyogi/);
  });

  it('refuses an unknown parameter, naming the strategy, the parameter and the ones it takes', () => {
    expect(configError(() => createStrategy('fedadam', { beta3: 0.5 }, context)).message).toBe(
      'strategy fedadam has no parameter "beta3"; it takes eta, beta1, beta2, tau',
    );
    // Adagrad's second moment is a plain sum: it has no decay to set.
    expect(configError(() => createStrategy('fedadagrad', { beta2: 0.9 }, context)).message).toMatch(/fedadagrad has no parameter "beta2"; it takes eta, beta1, tau/);
  });

  it('refuses a non-finite value, naming the strategy, the parameter and its range', () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const err = configError(() => createStrategy('fedprox', { mu: value }, context));
      expect(err.message).toMatch(new RegExp(`^strategy fedprox: mu = ${value} is not a finite number; give a value in \\[0, inf\\)`));
    }
    expect(configError(() => createStrategy('fedyogi', { beta2: Number.NaN }, context)).message).toMatch(/fedyogi: beta2 = NaN .* \[0, 1\)/);
  });

  it.each([
    ['fedprox', 'mu', -0.1, /fedprox: mu = -0\.1 is outside \[0, inf\)/],
    ['fedavgm', 'momentum', 1, /fedavgm: momentum = 1 is outside \[0, 1\)/],
    ['fedavgm', 'momentum', -0.5, /fedavgm: momentum = -0\.5 is outside \[0, 1\) \(server momentum\)/],
    ['fedavgm', 'eta', 0, /fedavgm: eta = 0 is outside \(0, inf\)/],
    ['fedadam', 'beta1', 1.5, /fedadam: beta1 = 1\.5 is outside \[0, 1\)/],
    ['fedadam', 'beta2', 1, /fedadam: beta2 = 1 is outside \[0, 1\)/],
    ['fedyogi', 'tau', 0, /fedyogi: tau = 0 is outside \(0, inf\)/],
    ['fedadagrad', 'eta', -1, /fedadagrad: eta = -1 is outside \(0, inf\)/],
    ['fedadagrad', 'beta1', 1, /fedadagrad: beta1 = 1 is outside \[0, 1\)/],
  ] as const)('refuses %s %s = %s, naming the range', (strategy, key, value, message) => {
    expect(configError(() => createStrategy(strategy, { [key]: value }, context)).message).toMatch(message);
  });

  it('accepts the closed ends of each range', () => {
    expect(createStrategy('fedprox', { mu: 0 }, context).taskParameters).toEqual({ proximalMu: 0 });
    expect(createStrategy('fedadam', { beta1: 0, beta2: 0 }, context).parameters).toMatchObject({ beta1: 0, beta2: 0 });
    expect(resolveStrategyParams(findStrategy('fedavgm'), { momentum: 0 })).toEqual({ eta: 1, momentum: 0 });
  });
});
