export type { ImageSet, SiteData } from './types.js';
export { Random, hashSeed, permutation } from './random.js';
export { makeSyntheticSet, siteShift, syntheticSubgroups, type SyntheticOptions, type SiteShift } from './synthetic.js';
export { parseNpy, encodeNpy, npyNumber, type NpyArray, type NpyData, type NpyDtype } from './npy.js';
export { readNpz, parseNpz, getArray } from './npz.js';
export { loadMedmnist, loadMedmnistSplits, medmnistFromArrays, type MedmnistSplits, type MedmnistSplit } from './medmnist.js';
export {
  partitionIndices,
  partitionPlan,
  parsePartition,
  subset,
  concatSets,
  LABEL_SKEW_ALPHA,
  type PartitionOptions,
  type PartitionPlan,
  type PartitionScheme,
} from './partition.js';
export {
  loadSiteData,
  openSiteShards,
  loadHeldOut,
  readSiteData,
  readSiteShards,
  readHeldOut,
  DEFAULT_INPUT_SIZE,
  type ReadOptions,
  parseShard,
  formatShard,
  DEFAULT_SYNTHETIC_COUNT,
  DEFAULT_HELD_OUT_COUNT,
  DEFAULT_HELD_OUT_SITES,
  type DataSpec,
  type HeldOutSpec,
  type SiteShards,
} from './site-data.js';
export { checkFraction, fractionIndices, trainingShare, withTrainingFraction } from './fraction.js';
export type { DenseTargets } from './types.js';
export { insideEllipse, makeBlobSet, type BlobOptions, type BlobSet, type Ellipse } from './synthetic-blobs.js';
export { addNoise, DEFAULT_NOISE_LEVELS, makeCleanImages, makeNoiseSet, noisyRealisations, type NoiseModel, type NoiseOptions, type NoiseSet } from './synthetic-noise.js';
export { makeTaskSet, taskHeldOut, taskSiteData, taskValCount } from './task-site-data.js';
