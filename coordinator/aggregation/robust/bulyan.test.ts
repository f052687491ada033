import { describe, expect, it } from 'vitest';
import { aggregateCohort, cohortArrays, expectClose, makeCohort, reusedSegments, scalar, type CohortShape } from '../../../test/helpers/cohort.js';
import { runNumpy } from '../../../test/helpers/numpy.js';
import { bulyanRule, meanClosestToMedian } from './bulyan.js';
import { CohortStrategy } from './cohort-aggregate.js';

const context = { spillDir: '/nonexistent/never-spills', memoryBudgetBytes: 2 ** 30, log: () => undefined };

// El Mhamdi et al. 2018 written out: Krum (on the remaining updates, scores recomputed each time)
// picks theta = n - 2f updates; at each coordinate the beta = theta - 2f picked values nearest
// the median are averaged. Ties: equal Krum scores go to the earlier update in site order
// (argmin), equal distances to the median to the lower value (lexsort: distance, then value).
const REFERENCE = `
U = IN['U']; base = IN['base']; n = U.shape[0]; f = int(IN['f'][0])
dist = ((U[:, None, :] - U[None, :, :]) ** 2).sum(axis=2)
remaining = list(range(n)); picked = []
while len(picked) < n - 2 * f:
    # Krum's n - f - 2 neighbours, but never fewer than one (the last picks have few left).
    k = min(len(remaining) - 1, max(1, len(remaining) - f - 2))
    scores = [np.sort([dist[i, j] for j in remaining if j != i])[:k].sum() for i in remaining]
    best = remaining[int(np.argmin(scores))]
    picked.append(best); remaining.remove(best)
S = U[sorted(picked)]
med = np.median(S, axis=0)
beta = len(picked) - 2 * f
nearest = np.lexsort((S, np.abs(S - med)), axis=0)[:beta]
OUT['bulyan'] = base + np.take_along_axis(S, nearest, axis=0).mean(axis=0)
OUT['picked'] = np.sort(picked)
`;

const CASES: (CohortShape & { name: string; seed: number; f: number })[] = [
  { name: '7 updates, f = 1, one scaled', seed: 41, sites: 7, elements: 1009, outliers: 1, f: 1 },
  { name: '6 updates, f = 0 (plain mean)', seed: 42, sites: 6, elements: 300, f: 0 },
  { name: '10 integer updates in +/- pairs (equal scores, equidistant values), f = 1', seed: 43, sites: 10, elements: 1009, integers: true, f: 1 },
  { name: '11 updates, f = 2, sign-flipped and huge', seed: 44, sites: 11, elements: 777, outliers: 2, f: 2 },
  { name: '12 integer updates in +/- pairs, f = 2', seed: 45, sites: 12, elements: 503, integers: true, f: 2 },
  { name: '15 updates, f = 3, all attacks', seed: 46, sites: 15, elements: 613, outliers: 3, f: 3 },
];

function bulyan(f: number, workingBytes?: number): CohortStrategy {
  return new CohortStrategy('bulyan', { f }, () => bulyanRule(f), context, workingBytes);
}

describe('bulyan against NumPy', () => {
  it.each(CASES)('$name', async (shape) => {
    const cohort = makeCohort(shape.seed, shape);
    const reference = await runNumpy(REFERENCE, { ...cohortArrays(cohort), f: scalar(shape.f) });
    expect(reference.picked!.data.length).toBe(shape.sites - 2 * shape.f);
    expectClose(await aggregateCohort(bulyan(shape.f, 500), cohort, { seed: shape.seed }), reference.bulyan!.data);
    expectClose(await aggregateCohort(bulyan(shape.f), cohort, { seed: shape.seed + 1, finishSegments: [1009] }), reference.bulyan!.data);
  });

  it('bounds every coordinate when f attackers push one coordinate far out', async () => {
    const cohort = makeCohort(47, { sites: 11, elements: 200, outliers: 2 });
    // Both attacks become copies of an honest update with one coordinate at 1e6: close to everyone
    // in L2 terms, so Krum alone could pick them; Bulyan's second stage must still cut the spike.
    const honest = cohort.updates.find((u) => Math.max(...u.map(Math.abs)) < 10)!;
    const attacks = cohort.updates.flatMap((u, i) => (Math.max(...u.map(Math.abs)) >= 10 ? [i] : []));
    for (const i of attacks) {
      cohort.updates[i] = honest.slice();
      cohort.updates[i]![17] = 1e6;
    }
    const result = await aggregateCohort(bulyan(2), cohort);
    expect(Math.abs(result[17]! - cohort.base[17]!)).toBeLessThan(1);
  });
});

describe('meanClosestToMedian', () => {
  it('takes the lower of two values equally far from the median', () => {
    // median 2; 1 and 3 are equally far: the lower one joins 2.
    expect(meanClosestToMedian(Float64Array.from([0, 1, 2, 3, 4]), 2)).toBe(1.5);
    // even count: median 1.5 from the two middle values, which are nearest.
    expect(meanClosestToMedian(Float64Array.from([-9, 1, 2, 9]), 2)).toBe(1.5);
    expect(meanClosestToMedian(Float64Array.from([5, 5, 5, 100]), 3)).toBe(5);
  });
});

describe('bulyan problems', () => {
  it('says how many updates f needs', async () => {
    expect(bulyanRule(1).problem(6)).toBe('bulyan with f = 1 needs at least 7 updates (n >= 4f + 3) and the round has 6; lower f or wait for more sites');
    expect(bulyanRule(2).problem(11)).toBeNull();
    const aggregate = bulyan(1).begin(3);
    expect(aggregate.problem?.()).toMatch(/no updates arrived; bulyan needs at least one/);
    await aggregate.accept({ site: 'a', weight: 1, segments: reusedSegments(new Float32Array(3), [3]) });
    expect(aggregate.problem?.()).toMatch(/needs at least 7 updates .* the round has 1/);
    await aggregate.dispose?.();
  });
});
