import { expect } from 'vitest';
import type { RoundAggregate, UpdateSegment } from '../../coordinator/aggregation/index.js';
import { Random } from '../../shared/data/index.js';

/** One site's update in a test round: the delta it sends, its example count, and its chunk size on the wire. */
export interface SiteDelta {
  site: string;
  weight: number;
  delta: Float32Array;
  chunk: number;
}

/**
 * A round's updates with the cases that break careless numerics: a site that sends only zeros,
 * two sites that send the identical update, a stretch of repeated values, a stretch where every
 * site sends zero, and outliers 1e3 times larger than the rest. Each site's outliers sit on its
 * own elements (element % sites), so no element sums large values of opposite sign: the float32
 * running sum of FedAvg would lose the small remainder of such a cancellation, and that is the
 * sum's precision, not the strategy's.
 */
export function makeRound(seed: number, elements: number, sites: number): SiteDelta[] {
  if (sites < 4) throw new Error(`makeRound needs at least 4 sites for its cases, got ${sites}`);
  const random = new Random(seed);
  const repeated = [-0.25, 0, 0.125, 0.5];
  const tieEnd = Math.floor(elements / 8);
  const silentStart = Math.floor(elements / 2);
  const round: SiteDelta[] = [];
  for (let s = 0; s < sites; s++) {
    const delta = new Float32Array(elements);
    if (s === 2) {
      delta.set(round[1]!.delta);
    } else if (s !== 0) {
      for (let i = 0; i < elements; i++) {
        delta[i] = i < tieEnd ? repeated[Math.floor(random.next() * repeated.length)]! : random.uniform(-0.5, 0.5);
        if (i % sites === s && random.next() < 0.2) delta[i] *= 1e3;
      }
      delta.fill(0, silentStart, silentStart + 17);
    }
    // Distinct example counts from a handful to thousands, so a plain mean would be visibly wrong.
    const weight = 3 + s * 211 + Math.floor(random.next() * 200);
    round.push({ site: `site-${s}`, weight, delta, chunk: 61 + 2 * s });
  }
  return round;
}

async function* stream(values: Float32Array, chunk: number): AsyncGenerator<UpdateSegment> {
  for (let offset = 0; offset < values.length; offset += chunk) yield { offset, values: values.subarray(offset, offset + chunk) };
}

/**
 * Feeds a round's updates to an aggregate (all at once, as uploads arrive together) and finishes
 * it in segments of the given lengths, copying each answer out before the next is asked for.
 */
export async function finishRound(aggregate: RoundAggregate, round: SiteDelta[], base: Float32Array, segmentLengths: number[]): Promise<Float32Array> {
  await Promise.all(round.map((u) => aggregate.accept({ site: u.site, weight: u.weight, segments: stream(u.delta, u.chunk) })));
  const out = new Float32Array(base.length);
  let offset = 0;
  for (const length of segmentLengths) {
    out.set(await aggregate.finishSegment(offset, base.subarray(offset, offset + length)), offset);
    offset += length;
  }
  if (offset !== base.length) throw new Error(`segment lengths cover ${offset} of ${base.length} elements`);
  return out;
}

/** The round as NumPy inputs: `d{t}` (sites x elements) and `w{t}` (sites). */
export function roundInputs(t: number, round: SiteDelta[]): Record<string, { shape: number[]; data: ArrayLike<number> }> {
  const elements = round[0]!.delta.length;
  const deltas = new Float64Array(round.length * elements);
  round.forEach((u, s) => deltas.set(u.delta, s * elements));
  return {
    [`d${t}`]: { shape: [round.length, elements], data: deltas },
    [`w${t}`]: { shape: [round.length], data: round.map((u) => u.weight) },
  };
}

/**
 * Every element within 1e-6: absolute below magnitude 1, relative above it. The magnitude is the
 * larger of the reference value and, where given, `scale`: the size of the terms the value was
 * summed from. A float32 model or state that passed through large values (an outlier pulled a
 * weight to -44, the next round pulled it back to 6.5) carries an ulp of those values, and no
 * float32 implementation can do better than that.
 */
export function expectClose(actual: Float32Array, expected: Float64Array, label: string, scale?: ArrayLike<number>): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const magnitude = Math.max(1, Math.abs(expected[i]!), scale ? Math.abs(scale[i]!) : 0);
    const error = Math.abs(actual[i]! - expected[i]!) / magnitude;
    // NaN compares false with everything; count it as the worst possible error.
    if (Number.isNaN(error) || error > worst) {
      worst = Number.isNaN(error) ? Infinity : error;
      at = i;
    }
  }
  expect(worst, `${label}: element ${at} is ${actual[at]}, the reference says ${expected[at]}`).toBeLessThanOrEqual(1e-6);
}
