export type { ImageSet, SiteData } from './types.js';
export { Random, hashSeed, permutation } from './random.js';
export { makeSyntheticSet, siteShift, type SyntheticOptions, type SiteShift } from './synthetic.js';
export { parseNpy, encodeNpy, npyNumber, type NpyArray, type NpyData, type NpyDtype } from './npy.js';
export { readNpz, parseNpz, getArray } from './npz.js';
export { loadMedmnist, loadMedmnistSplits, medmnistFromArrays, type MedmnistSplits, type MedmnistSplit } from './medmnist.js';
export { partitionIndices, subset, concatSets, type PartitionOptions, type PartitionScheme } from './partition.js';
export {
  loadSiteData,
  loadHeldOut,
  parseShard,
  formatShard,
  parsePartition,
  DEFAULT_SYNTHETIC_COUNT,
  DEFAULT_HELD_OUT_COUNT,
  DEFAULT_HELD_OUT_SITES,
  type DataSpec,
  type HeldOutSpec,
} from './site-data.js';
