import { describe, expect, it } from 'vitest';
import { checkTask, type TaskTerms } from './check-task.js';
import { DEFAULT_POLICY, type SitePolicy } from './site-policy.js';

const task: TaskTerms = { method: 'fedavg', secureAggregation: true, dp: { noiseMultiplier: 1.2, clipNorm: 1 }, parameters: 1_000_000 };

const strict: SitePolicy = {
  methods: ['fedavg', 'fedprox'],
  maxParameters: 50_000_000,
  requireSecureAggregation: true,
  differentialPrivacy: { minNoiseMultiplier: 1.0, maxClipNorm: 1.0, budget: { epsilon: 8, delta: 1e-5 } },
};

const roomy = { spentEpsilon: 2, epsilonAfter: 3.1 };

describe('checkTask', () => {
  it('allows a task that meets every rule', () => {
    expect(checkTask(strict, task, roomy)).toBeNull();
  });

  it('allows anything under the default policy, with or without DP', () => {
    expect(checkTask(DEFAULT_POLICY, { method: 'distill', secureAggregation: false, dp: null, parameters: 1e9 })).toBeNull();
    expect(checkTask(DEFAULT_POLICY, task)).toBeNull();
  });

  it('refuses a method the site does not accept (names compared without case)', () => {
    expect(checkTask(strict, { ...task, method: 'tgd' }, roomy)).toBe('site policy accepts only methods fedavg, fedprox; this task uses tgd');
    expect(checkTask(strict, { ...task, method: 'FedProx' }, roomy)).toBeNull();
    expect(checkTask({ ...strict, methods: ['fedavg', 'tgd'] }, { ...task, method: 'tgd' }, roomy)).toBeNull();
    expect(checkTask(strict, { ...task, method: 'distill' }, roomy)).toBe('site policy accepts only methods fedavg, fedprox; this task uses distill');
    expect(checkTask({ ...strict, methods: ['fedavg', 'distill'] }, { ...task, method: 'distill' }, roomy)).toBeNull();
    expect(checkTask(strict, { ...task, method: 'truncated' }, roomy)).toBe('site policy accepts only methods fedavg, fedprox; this task uses truncated');
    expect(checkTask({ ...strict, methods: ['fedavg', 'truncated'] }, { ...task, method: 'truncated' }, roomy)).toBeNull();
  });

  it('holds an evaluation task to the method list and the size limit only: it sends no update to protect', () => {
    const evaluation = { method: 'evaluate', secureAggregation: false, dp: null, parameters: 1_000_000 };
    expect(checkTask(strict, evaluation, roomy)).toBe('site policy accepts only methods fedavg, fedprox; this task uses evaluate');
    const allows = { ...strict, methods: ['fedavg', 'evaluate'] };
    expect(checkTask(allows, evaluation)).toBeNull();
    expect(checkTask({ ...allows, maxParameters: 10 }, evaluation)).toMatch(/above the site's limit of 10/);
  });

  it('refuses a model above the parameter limit', () => {
    expect(checkTask(strict, { ...task, parameters: 60_000_000 }, roomy)).toBe("task's model has 60,000,000 parameters, above the site's limit of 50,000,000");
    expect(checkTask(strict, { ...task, parameters: 50_000_000 }, roomy)).toBeNull();
  });

  it('refuses a task without secure aggregation when the site requires it', () => {
    expect(checkTask(strict, { ...task, secureAggregation: false }, roomy)).toBe('site policy requires secure aggregation; this task has it off');
    expect(checkTask({ ...strict, requireSecureAggregation: false }, { ...task, secureAggregation: false }, roomy)).toBeNull();
  });

  it('refuses a task without DP when the site requires it', () => {
    expect(checkTask(strict, { ...task, dp: null }, roomy)).toBe('site policy requires differential privacy; this task has it off');
  });

  it('refuses too little noise or too large a clip norm', () => {
    expect(checkTask(strict, { ...task, dp: { noiseMultiplier: 0.5, clipNorm: 1 } }, roomy)).toBe("task's DP noise multiplier 0.5 is below the site's minimum 1");
    expect(checkTask(strict, { ...task, dp: { noiseMultiplier: 1, clipNorm: 1 } }, roomy)).toBeNull();
    expect(checkTask(strict, { ...task, dp: { noiseMultiplier: 1.2, clipNorm: 2 } }, roomy)).toBe("task's DP clip norm 2 is above the site's maximum 1");
  });

  it('refuses a round that would overspend the privacy budget, and allows one that reaches it exactly', () => {
    expect(checkTask(strict, task, { spentEpsilon: 7.9, epsilonAfter: 8.4 })).toBe(
      "this round would bring the site's privacy spend from epsilon 7.9 to 8.4 (delta 1e-5), above its budget of 8",
    );
    expect(checkTask(strict, task, { spentEpsilon: 7.9, epsilonAfter: 8 })).toBeNull();
    // A value just over the budget is never printed as the budget itself.
    expect(checkTask(strict, task, { spentEpsilon: 7.9, epsilonAfter: 8.0004 })).toMatch(/to 8\.0004 \(delta 1e-5\), above its budget of 8$/);
    expect(checkTask(strict, task, { spentEpsilon: 0, epsilonAfter: Infinity })).toMatch(/to infinity/);
  });

  it('fails closed when a budget is set but no privacy spend is given', () => {
    expect(checkTask(strict, task)).toMatch(/sets a privacy budget, but the agent has no privacy ledger/);
  });

  it('checks only the DP rules the site set', () => {
    const budgetOnly: SitePolicy = { methods: 'any', requireSecureAggregation: false, differentialPrivacy: { budget: { epsilon: 8, delta: 1e-5 } } };
    expect(checkTask(budgetOnly, { ...task, dp: { noiseMultiplier: 0.3, clipNorm: 10 } }, roomy)).toBeNull();
  });
});
