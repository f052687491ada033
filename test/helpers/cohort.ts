import { expect } from 'vitest';
import type { AggregationStrategy, RoundAggregate, UpdateSegment } from '../../coordinator/aggregation/index.js';
import { Random, permutation } from '../../shared/data/index.js';

/**
 * A round's worth of updates for strategy tests: deltas in site-name order (the order robust
 * strategies number them), and the base model they apply to.
 */
export interface Cohort {
  sites: string[];
  updates: Float32Array[];
  base: Float32Array;
}

export interface CohortShape {
  sites: number;
  elements: number;
  /** How many updates are attacks: scaled, sign-flipped, huge random, spiked (in turn). */
  outliers?: number;
  /**
   * Small whole numbers in +/- pairs (u and -u): squared distances are exact and the honest set is
   * symmetric, so Krum scores tie exactly.
   */
  integers?: boolean;
}

/**
 * Random updates around a common direction, with ties built in: a duplicated update, two updates
 * on a coarse grid (equal values at many coordinates), a tenth of coordinates where every honest
 * update has the same value. Names are random, so an update's place in site order is too.
 */
export function makeCohort(seed: number, shape: CohortShape): Cohort {
  const rng = new Random(seed);
  const { sites, elements } = shape;
  const outliers = shape.outliers ?? 0;
  const center = Float32Array.from({ length: elements }, () => rng.normal() * 0.1);
  const shared = Array.from({ length: elements }, () => rng.next() < 0.1);
  const honest: Float32Array[] = [];
  for (let i = 0; i < sites - outliers; i++) {
    const u = new Float32Array(elements);
    for (let k = 0; k < elements; k++) {
      if (shape.integers) u[k] = i % 2 === 1 ? -honest[i - 1]![k]! : rng.int(5) - 2;
      else if (shared[k]) u[k] = 0.125;
      else u[k] = center[k]! + rng.normal() * 0.05;
    }
    if (!shape.integers && i === 1) u.set(honest[0]!);
    if (!shape.integers && (i === 2 || i === 3)) for (let k = 0; k < elements; k++) u[k] = Math.round(u[k]! * 2) / 2;
    honest.push(u);
  }
  const attacks: Float32Array[] = [];
  for (let a = 0; a < outliers; a++) {
    const victim = honest[a % honest.length]!;
    const u = new Float32Array(elements);
    for (let k = 0; k < elements; k++) {
      switch (a % 4) {
        case 0: u[k] = victim[k]! * 50; break;
        case 1: u[k] = -5 * victim[k]!; break;
        case 2: u[k] = rng.uniform(-1e6, 1e6); break;
        default: u[k] = rng.next() < 0.05 ? 3e7 : victim[k]!;
      }
    }
    attacks.push(u);
  }
  const all = [...honest, ...attacks];
  const named = all.map((u, i) => ({ site: `hospital-${(rng.int(1e9) * 1000 + i).toString(36)}`, u }));
  named.sort((a, b) => (a.site < b.site ? -1 : 1));
  const base = Float32Array.from({ length: elements }, () => rng.uniform(-1, 1));
  return { sites: named.map((n) => n.site), updates: named.map((n) => n.u), base };
}

/**
 * Streams `values` in segments whose lengths cycle through `lengths`, through one buffer that is
 * overwritten for every segment, as the network reader does: a strategy must copy what it keeps.
 */
export async function* reusedSegments(values: Float32Array, lengths: readonly number[]): AsyncGenerator<UpdateSegment> {
  const buffer = new Float32Array(Math.max(...lengths));
  for (let offset = 0, i = 0; offset < values.length; i++) {
    const length = Math.min(lengths[i % lengths.length]!, values.length - offset);
    buffer.set(values.subarray(offset, offset + length));
    yield { offset, values: buffer.subarray(0, length) };
    buffer.fill(Number.NaN);
    offset += length;
    // Let concurrent uploads interleave their segments.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

export interface RoundPlan {
  /** Seed for the arrival order. */
  seed?: number;
  uploadSegments?: readonly number[];
  finishSegments?: readonly number[];
  /** Runs after the last segment is finished and before the aggregate is disposed. */
  beforeDispose?: (aggregate: RoundAggregate) => Promise<void>;
}

/**
 * Runs one round through a strategy the way the run controller does: every upload accepted
 * concurrently in a shuffled order, problem() asked, then the model finished segment by segment
 * in ascending order in odd lengths, then dispose().
 */
export async function aggregateCohort(strategy: AggregationStrategy, cohort: Cohort, plan: RoundPlan = {}): Promise<Float32Array> {
  const elements = cohort.base.length;
  const aggregate = strategy.begin(elements);
  try {
    const order = permutation(cohort.sites.length, new Random(plan.seed ?? 1));
    await Promise.all(
      Array.from(order, (i) =>
        aggregate.accept({ site: cohort.sites[i]!, weight: 1 + i, segments: reusedSegments(cohort.updates[i]!, plan.uploadSegments ?? [97, 211, 13]) }),
      ),
    );
    const problem = aggregate.problem?.() ?? null;
    if (problem) throw new Error(problem);
    const result = new Float32Array(elements);
    const lengths = plan.finishSegments ?? [101, 37, 300, 7];
    for (let offset = 0, i = 0; offset < elements; i++) {
      const length = Math.min(lengths[i % lengths.length]!, elements - offset);
      result.set(await aggregate.finishSegment(offset, cohort.base.slice(offset, offset + length)), offset);
      offset += length;
    }
    await plan.beforeDispose?.(aggregate);
    return result;
  } finally {
    await aggregate.dispose?.();
  }
}

/** The cohort as NumPy inputs: U (sites x elements, site order) and base. */
export function cohortArrays(cohort: Cohort): Record<string, { shape: number[]; data: ArrayLike<number> }> {
  const n = cohort.updates.length;
  const d = cohort.base.length;
  const U = new Float64Array(n * d);
  cohort.updates.forEach((u, i) => U.set(u, i * d));
  return { U: { shape: [n, d], data: U }, base: { shape: [d], data: cohort.base } };
}

export function scalar(value: number): { shape: number[]; data: number[] } {
  return { shape: [1], data: [value] };
}

/** Element-wise agreement within `tolerance`, relative for values beyond 1 in size. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1;
  let worstError = 0;
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!));
    if (!(error <= worstError)) {
      worst = i;
      worstError = error;
    }
  }
  const where = worst < 0 ? 'all agree' : `element ${worst}: ${actual[worst]} vs ${expected[worst]} (error ${worstError})`;
  expect(worstError <= tolerance ? 'within tolerance' : where).toBe('within tolerance');
}
