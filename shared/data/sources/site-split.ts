/**
 * Labelled examples read from a folder or a PACS, divided the way a .npz's splits are: rows the
 * CSV marks `test` are held out (never trained on), rows marked `val` validate, and the rest
 * train. Without `val` rows each site keeps a seeded 20% of its share for validation, taken by
 * group (a DICOM study, a NIfTI volume) so images of one patient study never sit on both sides.
 */
import { partitionIndices, subset, type PartitionScheme } from '../partition.js';
import { hashSeed, permutation, Random } from '../random.js';
import type { ImageSet, SiteData } from '../types.js';
import type { LabelledExamples } from './labelled-examples.js';

export const VALIDATION_FRACTION = 0.2;

/** Seed stream for the train/validation split (site-data.ts uses 1 to 5). */
const SPLIT_STREAM = 6;

export interface LabelledShards {
  counts(index: number): { train: number; val: number };
  load(index: number): SiteData;
}

export function labelledShards(examples: LabelledExamples, options: { partition: PartitionScheme; seed: number }, sites: number): LabelledShards {
  const { splits, set, description } = examples;
  const all = Array.from({ length: set.count }, (_, i) => i);
  const trainPool = all.filter((i) => splits[i] !== 'test' && splits[i] !== 'val');
  const valPool = all.filter((i) => splits[i] === 'val');
  const divide = (pool: number[], scheme: PartitionScheme, seed: number): number[][] => {
    if (pool.length < sites) {
      throw new Error(`${description}: ${pool.length} labelled example(s) to divide among ${sites} site(s); every site needs at least one. Label more images or use fewer sites`);
    }
    const labels = Int32Array.from(pool, (i) => set.labels[i]!);
    return partitionIndices(labels, set.classes, { sites, scheme, seed }).map((part) => Array.from(part, (j) => pool[j]!));
  };
  let parts: { train: number[]; val: number[] }[];
  if (valPool.length > 0) {
    const valParts = divide(valPool, 'iid', hashSeed(options.seed, SPLIT_STREAM, 1));
    parts = divide(trainPool, options.partition, options.seed).map((train, s) => ({ train, val: valParts[s]! }));
  } else {
    parts = divide(trainPool, options.partition, options.seed).map((share, s) => groupedSplit(share, examples, hashSeed(options.seed, SPLIT_STREAM, s)));
  }
  return {
    counts: (index) => ({ train: parts[index]!.train.length, val: parts[index]!.val.length }),
    load: (index) => {
      const { train, val } = parts[index]!;
      return {
        train: pick(examples, train),
        val: pick(examples, val),
        source: `${description}, site ${index + 1}/${sites} (${options.partition}, seed ${options.seed}): ${train.length} train / ${val.length} val`,
      };
    },
  };
}

/** The examples no site trains on: the CSV's `test` rows, or every example when it marks none. */
export function labelledHeldOut(examples: LabelledExamples): ImageSet {
  const test = examples.splits.flatMap((s, i) => (s === 'test' ? [i] : []));
  if (test.length > 0) return pick(examples, test);
  if (examples.set.count === 0) throw new Error(`${examples.description}: no labelled example to evaluate on`);
  return examples.set;
}

function groupedSplit(share: number[], examples: LabelledExamples, seed: number): { train: number[]; val: number[] } {
  const n = share.length;
  if (n < 2) {
    throw new Error(`${examples.description}: a site has ${n} labelled example(s); it needs at least 2 (one to train on, one to validate)`);
  }
  const members = new Map<string, number[]>();
  for (const i of share) {
    const g = examples.groups[i]!;
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  }
  // One group (one study) cannot be split by group; then each image stands alone.
  const units = members.size > 1 ? [...members.values()] : share.map((i) => [i]);
  const order = permutation(units.length, new Random(seed));
  const target = Math.max(1, Math.round(n * VALIDATION_FRACTION));
  const val: number[] = [];
  for (const u of order) {
    if (val.length >= target) break;
    const unit = units[u]!;
    if (val.length + unit.length >= n) continue;
    val.push(...unit);
  }
  const inVal = new Set(val);
  return { train: share.filter((i) => !inVal.has(i)), val: val.sort((a, b) => a - b) };
}

/** `subset` that keeps the subgroup columns in step with the examples. */
function pick(examples: LabelledExamples, indices: readonly number[]): ImageSet {
  const base = subset(examples.set, indices);
  const columns = examples.set.subgroups;
  if (!columns) return base;
  return { ...base, subgroups: Object.fromEntries(Object.entries(columns).map(([c, values]) => [c, indices.map((i) => values[i]!)])) };
}
