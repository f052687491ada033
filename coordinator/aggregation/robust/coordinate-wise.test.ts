import { describe, expect, it } from 'vitest';
import { aggregateCohort, cohortArrays, expectClose, makeCohort, type CohortShape } from '../../../test/helpers/cohort.js';
import { runNumpy } from '../../../test/helpers/numpy.js';
import { CohortStrategy } from './cohort-aggregate.js';
import { medianRule, trimmedMeanRule } from './coordinate-wise.js';

const context = { spillDir: '/nonexistent/never-spills', memoryBudgetBytes: 2 ** 30, log: () => undefined };

// NumPy's median (mean of the two middle values for an even count) and scipy.stats.trim_mean's
// definition written out: sort each coordinate, cut int(trim * n) from each end, average the rest.
const REFERENCE = `
U = IN['U']; base = IN['base']; n = U.shape[0]
OUT['median'] = base + np.median(U, axis=0)
S = np.sort(U, axis=0)
for t in IN['trims']:
    k = int(t * n)
    OUT['trim-' + repr(float(t))] = base + S[k:n - k].mean(axis=0)
`;

const TRIMS = [0, 0.1, 0.2, 0.25, 0.3, 0.45];

const CASES: (CohortShape & { name: string; seed: number })[] = [
  { name: '5 updates, 1 scaled', seed: 1, sites: 5, elements: 1009, outliers: 1 },
  { name: '6 updates (even), sign-flipped and scaled', seed: 2, sites: 6, elements: 777, outliers: 2 },
  { name: '9 small-integer updates (ties everywhere)', seed: 3, sites: 9, elements: 1009, integers: true },
  { name: '12 updates, 4 attacks incl. huge and spiked', seed: 4, sites: 12, elements: 1009, outliers: 4 },
  { name: '15 updates, 3 attacks', seed: 5, sites: 15, elements: 613, outliers: 3 },
];

function strategyOf(name: string, rule: () => ReturnType<typeof medianRule>, workingBytes?: number): CohortStrategy {
  return new CohortStrategy(name, {}, rule, context, workingBytes);
}

describe('fedmedian and trimmed mean against NumPy', () => {
  it.each(CASES)('$name', async (shape) => {
    const cohort = makeCohort(shape.seed, shape);
    const reference = await runNumpy(REFERENCE, { ...cohortArrays(cohort), trims: { shape: [TRIMS.length], data: TRIMS } });
    // A small working limit makes every finished segment span several blocks.
    expectClose(await aggregateCohort(strategyOf('fedmedian', medianRule, 256), cohort, { seed: shape.seed }), reference.median!.data);
    for (const trim of TRIMS) {
      const result = await aggregateCohort(strategyOf('trimmed-mean', () => trimmedMeanRule(trim)), cohort, { seed: shape.seed + 1 });
      const key = `trim-${Number.isInteger(trim) ? trim.toFixed(1) : String(trim)}`;
      expectClose(result, reference[key]!.data);
    }
  });

  it('ignores the sites\' example counts: the published definitions are unweighted', async () => {
    const cohort = makeCohort(6, { sites: 7, elements: 101 });
    const reference = await runNumpy(`OUT['median'] = IN['base'] + np.median(IN['U'], axis=0)`, cohortArrays(cohort));
    // aggregateCohort gives the sites weights 1..7; the median must not care.
    expectClose(await aggregateCohort(strategyOf('fedmedian', medianRule), cohort), reference.median!.data);
  });

  it('keeps a minority of huge updates from moving any coordinate beyond the honest range', async () => {
    const cohort = makeCohort(7, { sites: 11, elements: 500, outliers: 4 });
    for (const strategy of [strategyOf('fedmedian', medianRule), strategyOf('trimmed-mean', () => trimmedMeanRule(0.4))]) {
      const result = await aggregateCohort(strategy, cohort);
      const largest = Math.max(...result.map((v, k) => Math.abs(v - cohort.base[k]!)));
      expect(largest).toBeLessThan(1);
    }
  });
});

describe('their problems', () => {
  it('reports a round with no updates', async () => {
    const aggregate = strategyOf('fedmedian', medianRule).begin(10);
    expect(aggregate.problem?.()).toBe('no updates arrived; fedmedian needs at least one to combine');
    await expect(async () => aggregate.finishSegment(0, new Float32Array(10))).rejects.toThrow(/fedmedian cannot finish the round: no updates arrived/);
  });

  it('refuses a trim that would cut every update', () => {
    expect(() => trimmedMeanRule(0.5)).toThrow(/trim = 0.5 must be at least 0 and below 0.5/);
    expect(() => trimmedMeanRule(-0.1)).toThrow(/trim = -0.1/);
    expect(trimmedMeanRule(0.49).problem(3)).toBeNull();
  });

  it('refuses to run on a secure-aggregation sum', () => {
    const strategy = strategyOf('fedmedian', medianRule);
    expect(() => strategy.begin(10, strategy.begin(10))).toThrow(/fedmedian needs every site's update on its own/);
  });
});
