import { describe, expect, it } from 'vitest';
import { aggregateCohort, cohortArrays, expectClose, makeCohort, reusedSegments, scalar, type CohortShape } from '../../../test/helpers/cohort.js';
import { runNumpy } from '../../../test/helpers/numpy.js';
import { CohortStrategy } from './cohort-aggregate.js';
import { krumRule, krumScores, multiKrumRule } from './krum.js';
import { pairwiseSquaredDistances } from './pairwise.js';
import { UpdateStore } from './update-store.js';

const context = { spillDir: '/nonexistent/never-spills', memoryBudgetBytes: 2 ** 30, log: () => undefined };

// Blanchard et al. 2017 written out: score(i) = sum of the n - f - 2 smallest squared distances
// from update i to the others; Krum takes the lowest score, Multi-Krum averages the m lowest
// (m = 0 meaning n - f). A stable sort gives equal scores to the update earlier in site order.
const REFERENCE = `
U = IN['U']; base = IN['base']; n = U.shape[0]; f = int(IN['f'][0])
dist = ((U[:, None, :] - U[None, :, :]) ** 2).sum(axis=2)
scores = np.array([np.sort(np.delete(dist[i], i))[:n - f - 2].sum() for i in range(n)])
order = np.argsort(scores, kind='stable')
OUT['scores'] = scores
OUT['krum'] = base + U[order[0]]
for m in IN['ms']:
    count = int(m) if m > 0 else n - f
    OUT['multi-' + str(int(m))] = base + U[order[:count]].mean(axis=0)
`;

const MS = [0, 1, 2, 3];

const CASES: (CohortShape & { name: string; seed: number; f: number })[] = [
  { name: '5 updates, f = 1, one scaled', seed: 21, sites: 5, elements: 1009, outliers: 1, f: 1 },
  { name: '6 updates, f = 0', seed: 22, sites: 6, elements: 500, f: 0 },
  { name: '7 updates, f = 2, scaled and sign-flipped', seed: 23, sites: 7, elements: 777, outliers: 2, f: 2 },
  { name: '8 integer updates in +/- pairs (equal scores), f = 1', seed: 24, sites: 8, elements: 1009, integers: true, f: 1 },
  { name: '10 integer updates in +/- pairs (equal scores), f = 2', seed: 25, sites: 10, elements: 401, integers: true, f: 2 },
  { name: '11 updates, f = 3, huge and spiked', seed: 26, sites: 11, elements: 1009, outliers: 3, f: 3 },
  { name: '15 updates, f = 4, all four attacks', seed: 27, sites: 15, elements: 613, outliers: 4, f: 4 },
];

function strategy(name: string, makeRule: () => ReturnType<typeof krumRule>, workingBytes?: number): CohortStrategy {
  return new CohortStrategy(name, {}, makeRule, context, workingBytes);
}

async function storeOf(cohort: ReturnType<typeof makeCohort>): Promise<UpdateStore> {
  const store = new UpdateStore(cohort.base.length, context);
  await Promise.all(cohort.sites.map((site, i) => store.accept({ site, weight: 1, segments: reusedSegments(cohort.updates[i]!, [64, 9]) })));
  return store;
}

describe('krum and multi-krum against NumPy', () => {
  it.each(CASES)('$name', async (shape) => {
    const cohort = makeCohort(shape.seed, shape);
    const reference = await runNumpy(REFERENCE, { ...cohortArrays(cohort), f: scalar(shape.f), ms: { shape: [MS.length], data: MS } });
    if (shape.integers) {
      // The case is here for its ties: the lowest score must be shared.
      const scores = [...reference.scores!.data].sort((a, b) => a - b);
      expect(scores[0]).toBe(scores[1]);
    }

    const store = await storeOf(cohort);
    const n = cohort.sites.length;
    // A working limit of a few hundred bytes makes the distance pass take many odd blocks.
    const scores = krumScores(await pairwiseSquaredDistances(store, 300), n, [...Array(n).keys()], shape.f);
    expectClose(scores, reference.scores!.data, 1e-9);
    await store.dispose();

    expectClose(await aggregateCohort(strategy('krum', () => krumRule(shape.f), 200), cohort, { seed: shape.seed }), reference.krum!.data);
    for (const m of MS) {
      const result = await aggregateCohort(strategy('multi-krum', () => multiKrumRule(shape.f, m)), cohort, { seed: shape.seed + m });
      expectClose(result, reference[`multi-${m}`]!.data);
    }
  });

  it('gives a tie in score to the site whose name sorts first, whatever the arrival order', async () => {
    // v and -v are equally close to the rest (w and -w, orthogonal to v): their scores tie exactly.
    const v = Float32Array.from({ length: 50 }, (_, k) => (k < 25 ? (k % 3) - 1 : 0));
    const w = Float32Array.from({ length: 50 }, (_, k) => (k >= 25 ? 5 * ((k % 2) * 2 - 1) : 0));
    const negate = (u: Float32Array) => u.map((x) => 0 - x);
    const cohort = { sites: ['alpha', 'beta', 'gamma', 'delta'], updates: [negate(v), v, w, negate(w)], base: new Float32Array(50) };
    for (const seed of [1, 2, 3, 4]) {
      expect(await aggregateCohort(strategy('krum', () => krumRule(0)), cohort, { seed })).toEqual(negate(v));
      const swapped = { ...cohort, updates: [v, negate(v), w, negate(w)] };
      expect(await aggregateCohort(strategy('krum', () => krumRule(0)), swapped, { seed })).toEqual(v);
    }
  });

  it('never picks an attack while attackers number at most f', async () => {
    for (const seed of [31, 32, 33]) {
      const cohort = makeCohort(seed, { sites: 9, elements: 300, outliers: 3 });
      const result = await aggregateCohort(strategy('krum', () => krumRule(3)), cohort);
      const honest = cohort.updates.filter((u) => Math.max(...u.map(Math.abs)) < 10);
      expect(honest.some((u) => u.every((v, k) => Math.fround(cohort.base[k]! + v) === result[k]))).toBe(true);
    }
  });
});

describe('krum problems', () => {
  it('says how many updates f needs', () => {
    expect(krumRule(2).problem(6)).toBe('krum with f = 2 needs at least 7 updates (n >= 2f + 3) and the round has 6; lower f or wait for more sites');
    expect(krumRule(2).problem(7)).toBeNull();
    expect(multiKrumRule(1, 0).problem(4)).toMatch(/multi-krum with f = 1 needs at least 5 updates/);
    expect(multiKrumRule(1, 6).problem(5)).toBe("multi-krum with m = 6 averages more updates than the round's 5; lower m (0 means n - f)");
  });

  it('fails a round with too few updates before reading any', async () => {
    const aggregate = strategy('krum', () => krumRule(1)).begin(4);
    for (const site of ['a', 'b', 'c']) await aggregate.accept({ site, weight: 1, segments: reusedSegments(new Float32Array(4), [4]) });
    expect(aggregate.problem?.()).toMatch(/krum with f = 1 needs at least 5 updates .* the round has 3/);
    await expect(async () => aggregate.finishSegment(0, new Float32Array(4))).rejects.toThrow(/krum cannot finish the round/);
    await aggregate.dispose?.();
  });
});
