export { UpdateStore } from './update-store.js';
export { BlockReader, WORKING_BYTES } from './block-reader.js';
export { CohortAggregate, CohortStrategy, type CohortRule } from './cohort-aggregate.js';
export { medianRule, trimmedMeanRule, trimmedCount } from './coordinate-wise.js';
export { krumRule, multiKrumRule, krumScores, krumMinimum } from './krum.js';
export { bulyanRule, bulyanMinimum } from './bulyan.js';
export { pairwiseSquaredDistances } from './pairwise.js';
export { ROBUST_STRATEGIES, fedmedian, trimmedMean, krum, multiKrum, bulyan } from './definitions.js';
