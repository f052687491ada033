import type { StrategyDefinition, StrategyParameter } from '../strategy.js';
import { bulyanRule } from './bulyan.js';
import { CohortStrategy } from './cohort-aggregate.js';
import { medianRule, trimmedMeanRule } from './coordinate-wise.js';
import { krumRule, multiKrumRule } from './krum.js';

const KEPT = 'keeps every update (spilling beyond the memory budget); unweighted, as published';

const byzantine: StrategyParameter = {
  default: 1,
  describe: 'f, the number of Byzantine (arbitrarily bad) sites to tolerate',
  min: 0,
  integer: true,
};

export const fedmedian: StrategyDefinition = {
  name: 'fedmedian',
  summary: `coordinate-wise median of the updates (Yin et al. 2018); ${KEPT}`,
  parameters: {},
  create: (params, context) => new CohortStrategy('fedmedian', params, medianRule, context),
};

export const trimmedMean: StrategyDefinition = {
  name: 'trimmed-mean',
  summary: `coordinate-wise mean after cutting floor(trim * n) values from each side (Yin et al. 2018); ${KEPT}`,
  parameters: {
    // 0.5 would cut every update.
    trim: { default: 0.1, describe: 'fraction of the updates cut from each side at every coordinate', min: 0, max: 0.5, exclusiveMax: true },
  },
  create: (params, context) => new CohortStrategy('trimmed-mean', params, () => trimmedMeanRule(params.trim!), context),
};

export const krum: StrategyDefinition = {
  name: 'krum',
  summary: `the single update closest to its n - f - 2 nearest others (Krum, Blanchard et al. 2017); needs n >= 2f + 3; ${KEPT}`,
  parameters: { f: byzantine },
  create: (params, context) => new CohortStrategy('krum', params, () => krumRule(params.f!), context),
};

export const multiKrum: StrategyDefinition = {
  name: 'multi-krum',
  summary: `mean of the m updates with the lowest Krum scores (Multi-Krum, Blanchard et al. 2017); needs n >= 2f + 3; ${KEPT}`,
  parameters: {
    f: byzantine,
    m: { default: 0, describe: 'how many of the best-scored updates to average; 0 means n - f', min: 0, integer: true },
  },
  create: (params, context) => new CohortStrategy('multi-krum', params, () => multiKrumRule(params.f!, params.m!), context),
};

export const bulyan: StrategyDefinition = {
  name: 'bulyan',
  summary: `Krum picks n - 2f updates, then each coordinate averages the n - 4f values nearest its median (Bulyan, El Mhamdi et al. 2018); needs n >= 4f + 3; ${KEPT}`,
  parameters: { f: byzantine },
  create: (params, context) => new CohortStrategy('bulyan', params, () => bulyanRule(params.f!), context),
};

/** The robust strategies, for the registry. */
export const ROBUST_STRATEGIES: readonly StrategyDefinition[] = [fedmedian, trimmedMean, krum, multiKrum, bulyan];
