import { describe, expect, it } from 'vitest';
import { Random } from '../../shared/data/index.js';
import { runNumpy } from '../../test/helpers/numpy.js';
import { expectClose, finishRound, makeRound, roundInputs } from '../../test/helpers/federated-rounds.js';
import { FedProx } from './fedprox.js';
import { createStrategy } from './registry.js';
import type { RoundAggregate } from './strategy.js';

/** FedProx's server side is FedAvg's (Li et al. 2020, Algorithm 2): x + sum_k n_k d_k / sum_k n_k. */
const REFERENCE = `
x = IN['x0']
for t in range(int(IN['rounds'][0])):
    w, d = IN['w%d' % t], IN['d%d' % t]
    delta = np.zeros_like(x)
    for k in range(len(w)):
        delta += w[k] * d[k]
    delta /= np.sum(w)
    OUT['scale%d' % (t + 1)] = np.maximum(np.abs(x), np.abs(delta))
    x = (x + delta).astype(np.float32).astype(np.float64)
    OUT['x%d' % (t + 1)] = x
`;

const context = { spillDir: '/nonexistent', memoryBudgetBytes: 0, log: () => {} };

describe('FedProx', () => {
  it('sends mu to the sites with every task and records it', () => {
    const strategy = createStrategy('fedprox', { mu: 0.25 }, context);
    expect(strategy.taskParameters).toEqual({ proximalMu: 0.25 });
    expect(strategy.parameters).toEqual({ mu: 0.25 });
    expect(createStrategy('fedprox', {}, context).taskParameters).toEqual({ proximalMu: 0.01 });
    expect(strategy.needsIndividualUpdates).toBe(false);
  });

  it('aggregates like weighted FedAvg, matching a NumPy reference over 3 rounds of 4-7 sites', async () => {
    const elements = 1013;
    const segments = [333, 7, 511, 161, 1];
    const random = new Random(5);
    const x0 = Float32Array.from({ length: elements }, () => random.uniform(-1, 1));
    const rounds = [6, 4, 7].map((sites, t) => makeRound(40 + t, elements, sites));
    const out = await runNumpy(REFERENCE, {
      x0: { shape: [elements], data: x0 },
      rounds: { shape: [1], data: [rounds.length] },
      ...Object.assign({}, ...rounds.map((round, t) => roundInputs(t, round))),
    });
    const strategy = new FedProx(0.1);
    let base: Float32Array = x0;
    for (const [t, round] of rounds.entries()) {
      base = await finishRound(strategy.begin(elements), round, base, segments);
      expectClose(base, out[`x${t + 1}`]!.data, `fedprox round ${t + 1}`, out[`scale${t + 1}`]!.data);
    }
  });

  it('hands back the secure-aggregation mean it is given', () => {
    const mean: RoundAggregate = { updates: 0, totalWeight: 0, accept: async () => {}, finishSegment: (_, base) => base };
    expect(new FedProx(0.1).begin(3, mean)).toBe(mean);
  });
});
