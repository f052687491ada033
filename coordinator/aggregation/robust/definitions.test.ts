import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aggregateCohort, makeCohort } from '../../../test/helpers/cohort.js';
import { ConfigError } from '../../../shared/wire/index.js';
import { createStrategy, resolveStrategyParams, strategyNames } from '../registry.js';
import { secureAggregationConflict, type StrategyContext, type StrategyDefinition } from '../strategy.js';
import { ROBUST_STRATEGIES } from './definitions.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'medley-robust-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function definition(name: string): StrategyDefinition {
  return ROBUST_STRATEGIES.find((d) => d.name === name)!;
}

function create(name: string, given: Record<string, number>, context: StrategyContext) {
  const def = definition(name);
  return def.create(resolveStrategyParams(def, given), context);
}

const RUNS: { name: string; params: Record<string, number> }[] = [
  { name: 'fedmedian', params: {} },
  { name: 'trimmed-mean', params: { trim: 0.2 } },
  { name: 'krum', params: { f: 2 } },
  { name: 'multi-krum', params: { f: 2, m: 0 } },
  { name: 'bulyan', params: { f: 2 } },
];

describe('robust strategies past the memory budget', () => {
  it.each(RUNS)('$name gives the same model from spilled updates as from memory, and removes its spill files', async ({ name, params }) => {
    const cohort = makeCohort(61, { sites: 11, elements: 1009, outliers: 2 });
    const spillDir = join(root, 'spill');
    const logged: string[] = [];
    const inMemory = create(name, params, { spillDir, memoryBudgetBytes: 2 ** 30, log: () => undefined });
    const spilling = create(name, params, { spillDir, memoryBudgetBytes: 3 * 1009 * 4, log: (m) => logged.push(m) });

    const expected = await aggregateCohort(inMemory, cohort);
    await expect(stat(spillDir)).rejects.toThrow(/ENOENT/);

    let filesBeforeDispose: string[] = [];
    const actual = await aggregateCohort(spilling, cohort, {
      seed: 9,
      beforeDispose: async () => {
        const [round] = await readdir(spillDir);
        filesBeforeDispose = await readdir(join(spillDir, round!));
      },
    });
    expect(filesBeforeDispose).toHaveLength(8);
    expect(await readdir(spillDir)).toEqual([]);
    expect(logged.some((m) => m.includes('spilling further updates'))).toBe(true);
    expect(actual).toEqual(expected);
  });
});

describe('robust strategy definitions', () => {
  it('declare themselves unweighted, with a citation, and refuse secure aggregation', () => {
    const context = { spillDir: root, memoryBudgetBytes: 1 << 20, log: () => undefined };
    for (const def of ROBUST_STRATEGIES) {
      expect(def.summary).toMatch(/unweighted/);
      expect(def.summary).toMatch(/et al\. 20\d\d/);
      const strategy = def.create(resolveStrategyParams(def), context);
      expect(strategy.name).toBe(def.name);
      expect(strategy.needsIndividualUpdates).toBe(true);
      expect(secureAggregationConflict(strategy)).toMatch(new RegExp(`${def.name} needs every site's update on its own`));
    }
  });

  it('are selectable by name, with parameters, from the registry', () => {
    const context = { spillDir: root, memoryBudgetBytes: 1 << 20, log: () => undefined };
    expect(strategyNames()).toEqual(expect.arrayContaining(['fedmedian', 'trimmed-mean', 'krum', 'multi-krum', 'bulyan']));
    const strategy = createStrategy('multi-krum', { f: 2, m: 4 }, context);
    expect([strategy.name, strategy.parameters]).toEqual(['multi-krum', { f: 2, m: 4 }]);
  });

  it('fill in their defaults: f = 1, m = 0 (n - f), trim = 0.1', () => {
    const context = { spillDir: root, memoryBudgetBytes: 1 << 20, log: () => undefined };
    expect(create('krum', {}, context).parameters).toEqual({ f: 1 });
    expect(create('multi-krum', {}, context).parameters).toEqual({ f: 1, m: 0 });
    expect(create('bulyan', { f: 3 }, context).parameters).toEqual({ f: 3 });
    expect(create('trimmed-mean', {}, context).parameters).toEqual({ trim: 0.1 });
  });

  it('refuse out-of-range parameters, naming them', () => {
    const context = { spillDir: root, memoryBudgetBytes: 1 << 20, log: () => undefined };
    expect(() => create('trimmed-mean', { trim: 0.5 }, context)).toThrow(ConfigError);
    expect(() => create('trimmed-mean', { trim: 0.5 }, context)).toThrow(/trim = 0.5 is outside \[0, 0.5\) \(fraction of the updates cut from each side/);
    expect(() => create('trimmed-mean', { trim: -0.1 }, context)).toThrow(/trim = -0.1 is outside/);
    expect(create('trimmed-mean', { trim: 0.49 }, context).parameters).toEqual({ trim: 0.49 });
    expect(() => create('krum', { f: 1.5 }, context)).toThrow(/f = 1.5 must be a whole number/);
    expect(() => create('bulyan', { f: -1 }, context)).toThrow(/f = -1 is outside/);
    expect(() => create('multi-krum', { k: 2 }, context)).toThrow(/has no parameter "k"; it takes f, m/);
  });
});
