/** Public API of shared/model/surgery: truncated transfer, channel-scaling pruning, FLOP counting. */
export { SurgeryError, readGraph, type ModelGraph, type LayerNode } from './graph.js';
export { countFlops, convParameters, type FlopCount, type LayerFlops } from './flops.js';
export { cutPoints, resolveCut, truncateModel, backboneOutput, headStart, HEAD_DENSE, HEAD_POOL, type CutPoint, type TruncateOptions } from './truncate.js';
export { fitHead, pooledFeatures, DEFAULT_HEAD_TRAINING, type HeadTraining } from './head.js';
export { evaluateCut, searchCut, type CutResult, type CutSearch, type SearchOptions } from './truncate-search.js';
export { planPruning, type ConvUnit, type PrunePlan, type ChannelReader } from './prune-plan.js';
export { pruneChannels, zeroChannels, foldScales, type ChannelSelection } from './prune.js';
export { trainScales, scaledForward, DEFAULT_SCALE_TRAINING, type ScaleTraining } from './channel-scale.js';
export { pruneByChannelScaling, checkPruneOptions, type PruneOptions, type PruneOutcome, type PruneCycle } from './prune-cycle.js';
export { readWeightMap, writeWeightMap, type WeightMap, type WeightValue } from './weights.js';
export { headTrainingMask } from './head-mask.js';
