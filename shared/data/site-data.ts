/**
 * What a node agent (its own site's data) or the coordinator (held-out data no site trains on)
 * loads: the synthetic generator or a MedMNIST-style .npz file (synchronously, here), or any
 * source named as `--data` takes it (a DICOM, NIfTI or image folder, a PACS), read and decoded
 * by shared/data/sources and divided here the same way (the read* functions).
 */
import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { loadMedmnistSplits, type MedmnistSplit } from './medmnist.js';
import { concatSets, partitionIndices, partitionPlan, subset, type PartitionScheme } from './partition.js';
import { hashSeed, Random } from './random.js';
import { makeSyntheticSet } from './synthetic.js';
import { taskHeldOut, taskSiteData, taskValCount } from './task-site-data.js';
import { withTrainingFraction } from './fraction.js';
import type { ImageSet, SiteData } from './types.js';
import { DEFAULT_WINDOW, type WindowChoice } from './sources/model-input.js';
import { readLabelledExamples, type LabelledExamples } from './sources/labelled-examples.js';
import { isImageSource, type ImageSourceSpec } from './sources/open-source.js';
import { labelledHeldOut, labelledShards } from './sources/site-split.js';
import { formatSourceSpec, parseSourceSpec } from './sources/source-spec.js';

export interface DataSpec {
  /** As typed after --data: 'synthetic', PATH.npz, dicom:DIR, nifti:DIR, folder:DIR or dicomweb:URL (see parseSourceSpec). */
  source: 'synthetic' | string;
  /** This site's shard: 0-based index of count (use parseShard for the human "i/n" form). */
  shard: { index: number; count: number };
  partition: PartitionScheme;
  seed: number;
  /** Synthetic only: training images per site (default 400). */
  syntheticCount?: number;
  /** Share of each site's training split it trains on, in (0, 1] (default 1); drawn per class, seeded. */
  fraction?: number;
  /** Image side in pixels. Synthetic: any (default 28). .npz: must match the file if given. Decoded images are resized to it (default 28). */
  size?: number;
  /** Decoded sources: the labels CSV (default: labels.csv in the source's folder). */
  labels?: string;
  /** Decoded sources: how values become [0, 1] (default: per-image min-max). */
  window?: WindowChoice;
  /** Decoded sources: channels the model reads (default 1; colour becomes luma). */
  channels?: 1 | 3;
  /** Decoded sources: a folder the source may cache what it fetched in (a PACS). */
  cacheDir?: string;
}

/** How long reads report and stop. */
export interface ReadOptions {
  /** One line per skipped input, unlabelled image, and a summary. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** The input size decoded images are resized to when the spec names none: the zoo's default input. */
export const DEFAULT_INPUT_SIZE = 28;

export interface HeldOutSpec extends Omit<DataSpec, 'shard' | 'partition'> {
  /** Synthetic only: number of held-out images (default 500). .npz uses the whole test split. */
  count?: number;
  /** Synthetic only: the held-out mixture spans site shifts 0..sites-1 (default 4). */
  sites?: number;
}

export const DEFAULT_SYNTHETIC_COUNT = 400;
export const DEFAULT_HELD_OUT_COUNT = 500;
export const DEFAULT_HELD_OUT_SITES = 4;

/** Separate seed streams: training, validation and held-out data never share images. */
const STREAM = { train: 1, val: 2, heldOut: 3, valPartition: 4, classMix: 5 } as const;

/** A site's data from any source (decoded sources are read and decoded here, hence async). */
export async function readSiteData(spec: DataSpec, options: ReadOptions = {}): Promise<SiteData> {
  checkShard(spec.shard);
  return (await readSiteShards(spec, spec.shard.count, options)).load(spec.shard.index);
}

/** Every site's share of any source; see openSiteShards. */
export async function readSiteShards(spec: Omit<DataSpec, 'shard'>, sites: number, options: ReadOptions = {}): Promise<SiteShards> {
  const parsed = parseSourceSpec(spec.source);
  if (!isImageSource(parsed)) return openSiteShards(spec, sites);
  if (!Number.isInteger(sites) || sites < 1) throw new Error(`the number of sites must be an integer >= 1, got ${sites}`);
  const shards = labelledShards(await readExamples(parsed, spec, options), spec, sites);
  return {
    sites,
    counts: (index) => shards.counts(checkShard({ index, count: sites })),
    load: (index) => shards.load(checkShard({ index, count: sites })),
  };
}

/** Held-out data from any source: a decoded source's `test` rows, or all of it when none is marked. */
export async function readHeldOut(spec: HeldOutSpec, options: ReadOptions = {}): Promise<ImageSet> {
  const parsed = parseSourceSpec(spec.source);
  if (!isImageSource(parsed)) return loadHeldOut(spec);
  return labelledHeldOut(await readExamples(parsed, spec, options));
}

function readExamples(source: ImageSourceSpec, spec: Omit<DataSpec, 'shard' | 'partition'>, options: ReadOptions): Promise<LabelledExamples> {
  const side = spec.size ?? DEFAULT_INPUT_SIZE;
  return readLabelledExamples(source, {
    labels: spec.labels,
    input: { height: side, width: side, channels: spec.channels ?? 1 },
    window: spec.window ?? DEFAULT_WINDOW,
    requireLabels: true,
    cacheDir: spec.cacheDir,
    log: options.log,
    signal: options.signal,
  });
}

/** Refuses, in the synchronous loaders, a source that must be read (and decoded) first. */
function checkSynchronous(source: string): void {
  const parsed = parseSourceSpec(source);
  if (isImageSource(parsed)) {
    throw new Error(`${formatSourceSpec(parsed)} is decoded asynchronously: load it with readSiteData, readSiteShards or readHeldOut`);
  }
}

export function loadSiteData(spec: DataSpec): SiteData {
  checkShard(spec.shard);
  return openSiteShards(spec, spec.shard.count).load(spec.shard.index);
}

/**
 * Every site's share of one source, for a process that hosts many sites (a simulation): the file
 * is read and partitioned once, and a site's images exist only while someone holds what `load`
 * returned, so memory follows the sites in training, not the number of sites.
 */
export interface SiteShards {
  readonly sites: number;
  /** Training and validation example counts of site `index` (0-based), without building its images. */
  counts(index: number): { train: number; val: number };
  /** Site `index`'s data: generated (synthetic) or copied out of the shared file (.npz) on each call. */
  load(index: number): SiteData;
}

export function openSiteShards(spec: Omit<DataSpec, 'shard'>, sites: number): SiteShards {
  if (!Number.isInteger(sites) || sites < 1) throw new Error(`the number of sites must be an integer >= 1, got ${sites}`);
  checkSynchronous(spec.source);
  const parsed = parseSourceSpec(spec.source);
  const whole =
    parsed.kind === 'synthetic' && parsed.form ? taskShards(spec, sites, parsed.form)
      : parsed.kind === 'synthetic' ? syntheticShards(spec, sites)
        : npzShards(spec, sites);
  const shards = spec.fraction === undefined ? whole : withTrainingFraction({ sites, ...whole }, spec.fraction, spec.seed);
  return {
    sites,
    counts: (index) => shards.counts(checkShard({ index, count: sites })),
    load: (index) => shards.load(checkShard({ index, count: sites })),
  };
}

export function loadHeldOut(spec: HeldOutSpec): ImageSet {
  checkSynchronous(spec.source);
  const parsed = parseSourceSpec(spec.source);
  if (parsed.kind === 'synthetic' && parsed.form) {
    const total = spec.count ?? DEFAULT_HELD_OUT_COUNT;
    if (!Number.isInteger(total) || total < 1) throw new Error(`held-out count must be an integer >= 1, got ${total}`);
    return taskHeldOut(parsed.form, spec, total);
  }
  if (spec.source === 'synthetic') {
    const total = spec.count ?? DEFAULT_HELD_OUT_COUNT;
    const sites = spec.sites ?? DEFAULT_HELD_OUT_SITES;
    if (!Number.isInteger(total) || total < 1) throw new Error(`held-out count must be an integer >= 1, got ${total}`);
    if (!Number.isInteger(sites) || sites < 1) throw new Error(`held-out sites must be an integer >= 1, got ${sites}`);
    // Balanced classes: the global metric should not depend on which sites' case mix dominates.
    const parts = Array.from({ length: sites }, (_, s) =>
      makeSyntheticSet({
        count: Math.floor(((s + 1) * total) / sites) - Math.floor((s * total) / sites),
        seed: hashSeed(spec.seed, STREAM.heldOut),
        site: s,
        size: spec.size,
        prevalence: 0.5,
      }),
    );
    return concatSets(parts);
  }
  const { test } = loadNpz(spec.source, ['test']);
  checkSize(test, spec.size, spec.source);
  return test;
}

function syntheticShards(spec: Omit<DataSpec, 'shard'>, sites: number): Omit<SiteShards, 'sites'> {
  const trainCount = spec.syntheticCount ?? DEFAULT_SYNTHETIC_COUNT;
  if (!Number.isInteger(trainCount) || trainCount < 1) throw new Error(`syntheticCount must be an integer >= 1, got ${trainCount}`);
  const valCount = Math.max(50, Math.round(trainCount / 4));
  const plan = partitionPlan(spec.partition);
  if (plan.kind === 'by-label' && sites < SYNTHETIC_CLASSES) {
    throw new Error(`partition by-label: ${sites} site(s) cannot hold ${SYNTHETIC_CLASSES} classes (site i holds only class i mod ${SYNTHETIC_CLASSES}); use at least ${SYNTHETIC_CLASSES} sites, or dirichlet:ALPHA for label skew with fewer sites`);
  }
  return {
    counts: () => ({ train: trainCount, val: valCount }),
    load: (index) => {
      // Sites always differ in acquisition (that is what a hospital is); the partition sets the case mix.
      const common = { site: index, size: spec.size, prevalence: syntheticPrevalence(spec.partition, spec.seed, index) };
      const train = makeSyntheticSet({ ...common, count: trainCount, seed: hashSeed(spec.seed, STREAM.train) });
      const val = makeSyntheticSet({ ...common, count: valCount, seed: hashSeed(spec.seed, STREAM.val) });
      return {
        train,
        val,
        source: `synthetic site ${index + 1}/${sites} (${spec.partition}, seed ${spec.seed}): ${train.count} train / ${val.count} val`,
      };
    },
  };
}

/** Segmentation and denoising generators: every site draws its own images (the partition does not apply). */
function taskShards(spec: Omit<DataSpec, 'shard'>, sites: number, form: 'blobs' | 'noise'): Omit<SiteShards, 'sites'> {
  const trainCount = spec.syntheticCount ?? DEFAULT_SYNTHETIC_COUNT;
  if (!Number.isInteger(trainCount) || trainCount < 1) throw new Error(`syntheticCount must be an integer >= 1, got ${trainCount}`);
  return {
    counts: () => ({ train: trainCount, val: taskValCount(trainCount) }),
    load: (index) => taskSiteData(form, spec, index, sites, trainCount),
  };
}

const SYNTHETIC_CLASSES = 2;

/**
 * Generated sites draw no examples from a shared pool, so label skew is the site's class mix
 * itself: Dirichlet(alpha) over the two classes (a Beta(alpha, alpha) share of class 1), or one
 * class only for by-label.
 */
function syntheticPrevalence(scheme: PartitionScheme, seed: number, index: number): number {
  const plan = partitionPlan(scheme);
  if (plan.kind === 'iid') return 0.5;
  if (plan.kind === 'by-label') return index % SYNTHETIC_CLASSES;
  const rng = new Random(hashSeed(seed, STREAM.classMix, index));
  return rng.dirichlet(SYNTHETIC_CLASSES, plan.alpha)[1]!;
}

function npzShards(spec: Omit<DataSpec, 'shard'>, sites: number): Omit<SiteShards, 'sites'> {
  const { train, val, name } = loadNpz(spec.source, ['train', 'val']);
  checkSize(train, spec.size, spec.source);
  const trainParts = partitionIndices(train.labels, train.classes, { sites, scheme: spec.partition, seed: spec.seed });
  // Local validation is an IID slice of the file's val split, so sites are judged on comparable data.
  if (val.count < sites) {
    throw new Error(`${spec.source}: its validation split has ${val.count} images, fewer than the ${sites} sites that each need some; use at most ${val.count} sites with this file, or synthetic data`);
  }
  const valParts = partitionIndices(val.labels, val.classes, { sites, scheme: 'iid', seed: hashSeed(spec.seed, STREAM.valPartition) });
  return {
    counts: (index) => ({ train: trainParts[index]!.length, val: valParts[index]!.length }),
    load: (index) => {
      const siteTrain = subset(train, trainParts[index]!);
      const siteVal = subset(val, valParts[index]!);
      return {
        train: siteTrain,
        val: siteVal,
        source: `${name} (${basename(spec.source)}) shard ${index + 1}/${sites} (${spec.partition}, seed ${spec.seed}): ${siteTrain.count} train / ${siteVal.count} val`,
      };
    },
  };
}

/**
 * A simulation runs several sites in one process; decoding the same archive for each of them
 * would dominate start-up, so the last file's splits are kept (keyed by path, size and mtime).
 */
let cached: { key: string; splits: Partial<Record<MedmnistSplit, ImageSet>>; name: string } | null = null;

function loadNpz<S extends MedmnistSplit>(path: string, wanted: S[]): Record<S, ImageSet> & { name: string } {
  let key: string;
  try {
    const st = statSync(path);
    key = `${resolve(path)}:${st.size}:${st.mtimeMs}`;
  } catch (err) {
    throw new Error(`data source ${path} cannot be read (${(err as Error).message}); pass 'synthetic' or the path of a MedMNIST .npz file`);
  }
  if (cached?.key !== key) cached = { key, splits: {}, name: '' };
  const entry = cached;
  const missing = wanted.filter((s) => entry.splits[s] === undefined);
  if (missing.length > 0) {
    const loaded = loadMedmnistSplits(path, missing);
    for (const s of missing) entry.splits[s] = loaded[s];
    entry.name = loaded.name;
  }
  const splits = {} as Record<S, ImageSet>;
  for (const s of wanted) splits[s] = entry.splits[s] as ImageSet;
  return { ...splits, name: entry.name };
}

function checkSize(set: ImageSet, size: number | undefined, path: string): void {
  if (size !== undefined && (set.height !== size || set.width !== size)) {
    throw new Error(`${path} holds ${set.height}x${set.width} images but size ${size} was requested; drop the size option or use the matching file`);
  }
}

function checkShard(shard: { index: number; count: number }): number {
  const { index, count } = shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new Error(`invalid shard index ${index} of ${count}: need 0 <= index < count`);
  }
  return index;
}

/**
 * Parses the human form "i/n" (1-based: "1/3", "2/3", "3/3") into a 0-based shard index.
 * 1-based because people number hospitals from one; everything internal is 0-based.
 */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new Error(`shard '${text}' is not of the form i/n (for example 2/3 = the second of three sites)`);
  const i = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1) throw new Error(`shard '${text}': the number of sites must be at least 1`);
  if (i < 1 || i > n) throw new Error(`shard '${text}': site number must be between 1 and ${n} (shards are numbered from 1)`);
  return { index: i - 1, count: n };
}

/** Formats a 0-based shard back into the 1-based "i/n" form parseShard accepts. */
export function formatShard(shard: { index: number; count: number }): string {
  return `${shard.index + 1}/${shard.count}`;
}

export { parsePartition } from './partition.js';
