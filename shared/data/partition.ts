/**
 * Splits one dataset across simulated sites. Every process that derives a split from the same
 * labels, options and seed gets the same result, so agents can each load "their" shard of a
 * shared file without talking to each other.
 */
import { hashSeed, permutation, Random } from './random.js';
import type { DenseTargets, ImageSet } from './types.js';

/**
 * How examples are divided among sites, in the form people type after `--partition`:
 * - `iid`: a shuffled split into near-equal parts;
 * - `dirichlet:ALPHA`: label skew, each class divided among the sites by proportions drawn from a
 *   symmetric Dirichlet(ALPHA) (0.1: most sites see mostly one class; 100: nearly IID);
 * - `label-skew`: the older name of `dirichlet:0.5`, still accepted;
 * - `by-label`: site i holds only class (i mod classes); each class is split evenly among its sites.
 * A string rather than an object because the scheme travels on command lines (the demo passes it
 * to every agent process) and in logs, where it must read the way it was typed.
 */
export type PartitionScheme = 'iid' | 'label-skew' | 'by-label' | `dirichlet:${number}`;

/** What `label-skew` has always meant. */
export const LABEL_SKEW_ALPHA = 0.5;

/** A scheme once its text is understood. */
export type PartitionPlan = { kind: 'iid' } | { kind: 'dirichlet'; alpha: number } | { kind: 'by-label' };

const PARTITION_HELP = "use 'iid', 'dirichlet:ALPHA' (ALPHA > 0, e.g. dirichlet:0.5), 'by-label', or 'label-skew' (= dirichlet:0.5)";

/** Checks a `--partition` value and returns it in canonical form (`label-skew` stays accepted). */
export function parsePartition(text: string): PartitionScheme {
  const value = text.trim();
  if (value === 'iid' || value === 'by-label' || value === 'label-skew') return value;
  const m = /^dirichlet:(.*)$/.exec(value);
  if (m) {
    const alpha = m[1]!.trim() === '' ? Number.NaN : Number(m[1]);
    if (!Number.isFinite(alpha) || alpha <= 0) {
      throw new Error(`partition '${text}': the Dirichlet concentration must be a number above 0 (for example dirichlet:0.5; smaller is more skewed)`);
    }
    return `dirichlet:${alpha}`;
  }
  throw new Error(`partition '${text}' is not known; ${PARTITION_HELP}`);
}

/**
 * The plan behind a scheme. `alphaOverride` is the concentration a caller of `label-skew` may still
 * set directly (PartitionOptions.alpha); a `dirichlet:ALPHA` scheme carries its own.
 */
export function partitionPlan(scheme: PartitionScheme, alphaOverride?: number): PartitionPlan {
  if (scheme === 'iid' || scheme === 'by-label') return { kind: scheme };
  let alpha: number | undefined;
  if (scheme === 'label-skew') alpha = alphaOverride ?? LABEL_SKEW_ALPHA;
  else if (typeof scheme === 'string' && scheme.startsWith('dirichlet:')) alpha = Number(scheme.slice('dirichlet:'.length));
  if (alpha !== undefined) {
    if (!(alpha > 0) || !Number.isFinite(alpha)) throw new Error(`partition: alpha must be > 0, got ${alpha}`);
    return { kind: 'dirichlet', alpha };
  }
  throw new Error(`partition: unknown scheme '${String(scheme)}'; ${PARTITION_HELP}`);
}

export interface PartitionOptions {
  sites: number;
  scheme: PartitionScheme;
  seed: number;
  /** Dirichlet concentration for the `label-skew` scheme (default 0.5); `dirichlet:ALPHA` names its own. */
  alpha?: number;
}

/**
 * Disjoint index sets, one per site, covering every example; each set is sorted ascending.
 * IID: a shuffled split into near-equal parts. Dirichlet: for each class, the class's examples
 * are divided among sites by proportions drawn from Dirichlet(alpha), redrawn a bounded number
 * of times until every site has a minimum number of examples (then topped up from the largest
 * sites), so no site is ever empty. By-label: each site holds one class only.
 */
export function partitionIndices(labels: Int32Array, classes: number, opts: PartitionOptions): Int32Array[] {
  const { sites, seed } = opts;
  const n = labels.length;
  const plan = partitionPlan(opts.scheme, opts.alpha);
  if (!Number.isInteger(sites) || sites < 1) throw new Error(`partition: sites must be an integer >= 1, got ${sites}`);
  if (n < sites) throw new Error(`partition: cannot split ${n} examples across ${sites} sites; use fewer sites or more data`);
  const rng = new Random(hashSeed(seed, 0x9a47, sites));
  let parts: number[][];
  if (plan.kind === 'iid') parts = iid(n, sites, rng);
  else if (plan.kind === 'dirichlet') parts = labelSkew(labels, classes, sites, plan.alpha, rng);
  else parts = byLabel(labels, classes, sites, rng);
  return parts.map((p) => Int32Array.from(p).sort());
}

function iid(n: number, sites: number, rng: Random): number[][] {
  const perm = permutation(n, rng);
  const parts: number[][] = [];
  for (let s = 0; s < sites; s++) {
    const start = Math.floor((s * n) / sites);
    const end = Math.floor(((s + 1) * n) / sites);
    parts.push(Array.from(perm.subarray(start, end)));
  }
  return parts;
}

/** Example indices grouped by class, each group shuffled. */
function classMembers(labels: Int32Array, classes: number, rng: Random): number[][] {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y < 0 || y >= classes) throw new Error(`partition: label ${y} at index ${i} is outside 0..${classes - 1}`);
    byClass[y].push(i);
  }
  for (const members of byClass) rng.shuffle(members);
  return byClass;
}

/**
 * Sites c, c + C, c + 2C, ... hold class c (C classes) and share its examples evenly. Fewer sites
 * than classes would leave whole classes unheld, so that is refused rather than silently
 * dropping data: the split must still cover every example.
 */
function byLabel(labels: Int32Array, classes: number, sites: number, rng: Random): number[][] {
  if (sites < classes) {
    throw new Error(
      `partition by-label: ${sites} site(s) cannot hold ${classes} classes (site i holds only class i mod ${classes}); use at least ${classes} sites, or dirichlet:ALPHA for label skew with fewer sites`,
    );
  }
  const byClass = classMembers(labels, classes, rng);
  const parts: number[][] = Array.from({ length: sites }, () => []);
  byClass.forEach((members, c) => {
    const holders = Array.from({ length: Math.ceil((sites - c) / classes) }, (_, k) => c + k * classes);
    if (members.length < holders.length) {
      throw new Error(
        `partition by-label: class ${c} has ${members.length} example(s) but ${holders.length} sites hold it (sites ${holders[0]! + 1}, ${holders[0]! + 1 + classes}, ...); some would be empty: use fewer sites or more data`,
      );
    }
    holders.forEach((site, k) => {
      const start = Math.floor((k * members.length) / holders.length);
      const end = Math.floor(((k + 1) * members.length) / holders.length);
      parts[site] = members.slice(start, end);
    });
  });
  return parts;
}

function labelSkew(labels: Int32Array, classes: number, sites: number, alpha: number, rng: Random): number[][] {
  const n = labels.length;
  const byClass = classMembers(labels, classes, rng);
  // A site with a handful of examples cannot train or validate meaningfully.
  const minSize = Math.max(1, Math.min(10, Math.floor(n / (2 * sites))));
  let parts: number[][] = [];
  for (let attempt = 0; attempt < 100; attempt++) {
    parts = Array.from({ length: sites }, () => []);
    for (const members of byClass) {
      const p = rng.dirichlet(sites, alpha);
      let cumulative = 0;
      let start = 0;
      for (let s = 0; s < sites; s++) {
        cumulative += p[s];
        const end = s === sites - 1 ? members.length : Math.min(members.length, Math.round(cumulative * members.length));
        for (let i = start; i < end; i++) parts[s].push(members[i]);
        start = Math.max(start, end);
      }
    }
    if (parts.every((p) => p.length >= minSize)) return parts;
  }
  // Very small alpha with many sites can keep failing; move random examples from the largest
  // sites so that the guarantee holds regardless.
  for (const part of parts) rng.shuffle(part);
  for (const part of parts) {
    while (part.length < minSize) {
      const largest = parts.reduce((a, b) => (b.length > a.length ? b : a));
      part.push(largest.pop() as number);
    }
  }
  return parts;
}

/** The examples at `indices` (in that order) as a new ImageSet with its own buffers. */
export function subset(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const stride = set.height * set.width * set.channels;
  const images = new Float32Array(indices.length * stride);
  const labels = new Int32Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    if (!Number.isInteger(i) || i < 0 || i >= set.count) throw new Error(`subset: index ${i} is outside 0..${set.count - 1}`);
    images.set(set.images.subarray(i * stride, (i + 1) * stride), j * stride);
    labels[j] = set.labels[i];
  }
  const out = { images, labels, count: indices.length, height: set.height, width: set.width, channels: set.channels, classes: set.classes };
  if (!set.targets) return out;
  // Dense targets (masks, clean images, label vectors) follow their images.
  const per = targetSize(set.targets);
  const targets = new Float32Array(indices.length * per);
  for (let j = 0; j < indices.length; j++) targets.set(set.targets.data.subarray(indices[j]! * per, (indices[j]! + 1) * per), j * per);
  return { ...out, targets: { data: targets, shape: set.targets.shape } };
}

/** Concatenates sets of the same image shape (e.g. a held-out mixture over sites). */
export function concatSets(sets: readonly ImageSet[]): ImageSet {
  if (sets.length === 0) throw new Error('concatSets: nothing to concatenate');
  const [first] = sets;
  for (const s of sets) {
    if (s.height !== first.height || s.width !== first.width || s.channels !== first.channels) {
      throw new Error(`concatSets: image shapes differ (${first.height}x${first.width}x${first.channels} vs ${s.height}x${s.width}x${s.channels})`);
    }
  }
  const count = sets.reduce((a, s) => a + s.count, 0);
  const images = new Float32Array(sets.reduce((a, s) => a + s.images.length, 0));
  const labels = new Int32Array(count);
  let offImg = 0;
  let offLab = 0;
  for (const s of sets) {
    images.set(s.images, offImg);
    labels.set(s.labels, offLab);
    offImg += s.images.length;
    offLab += s.count;
  }
  const classes = Math.max(...sets.map((s) => s.classes));
  const out = { images, labels, count, height: first.height, width: first.width, channels: first.channels, classes };
  if (!sets.some((s) => s.targets)) return out;
  const shape = first.targets?.shape;
  if (!shape || sets.some((s) => !s.targets || s.targets.shape.join('x') !== shape.join('x'))) {
    throw new Error('concatSets: every set needs dense targets of the same shape, or none has any');
  }
  const targets = new Float32Array(sets.reduce((a, s) => a + s.targets!.data.length, 0));
  let off = 0;
  for (const s of sets) {
    targets.set(s.targets!.data, off);
    off += s.targets!.data.length;
  }
  return { ...out, targets: { data: targets, shape } };
}

/** Values in one example's dense target. */
export function targetSize(targets: DenseTargets): number {
  return targets.shape.reduce((a, b) => a * b, 1);
}
