import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { checkStrategy, strategyOptions, strategyParam } from './strategy-options.js';

function parse(args: string[]): { strategy: string; strategyParam: Record<string, number> } {
  const command = strategyOptions(new Command().exitOverride().configureOutput({ writeErr: () => {} }));
  command.parse(args, { from: 'user' });
  return command.opts();
}

describe('--strategy-param', () => {
  it('collects repeated and comma-separated NAME=VALUE pairs as numbers', () => {
    expect(parse(['--strategy', 'fedprox', '--strategy-param', 'mu=0.01', '--strategy-param', 'eta=1e-3, tau=2'])).toEqual({
      strategy: 'fedprox',
      strategyParam: { mu: 0.01, eta: 0.001, tau: 2 },
    });
    expect(parse([])).toEqual({ strategy: 'fedavg', strategyParam: {} });
  });

  it('names the bad entry and what is expected', () => {
    expect(() => strategyParam('mu')).toThrow(/"mu" is not NAME=VALUE/);
    expect(() => strategyParam('=1')).toThrow(/"=1" is not NAME=VALUE/);
    expect(() => strategyParam('mu=abc')).toThrow(/mu must be a number, got "abc"/);
    expect(() => strategyParam('mu=')).toThrow(/mu must be a number/);
    expect(() => strategyParam('mu=1,mu=2')).toThrow(/mu was already given \(1\)/);
    expect(() => parse(['--strategy-param', 'x'])).toThrow(/is not NAME=VALUE/);
  });

  it('checkStrategy refuses unknown strategies and parameters with the registry\'s reasons', () => {
    expect(checkStrategy('fedavg', {})).toEqual({});
    expect(() => checkStrategy('fedmagic', {})).toThrow(/--strategy fedmagic: unknown strategy "fedmagic"; choose one of .*fedavg/);
    expect(() => checkStrategy('fedavg', { mu: 1 })).toThrow(/strategy fedavg has no parameter "mu"/);
  });
});
