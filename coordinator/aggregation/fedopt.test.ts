import { describe, expect, it } from 'vitest';
import { Random } from '../../shared/data/index.js';
import { runNumpy } from '../../test/helpers/numpy.js';
import { expectClose, finishRound, makeRound, roundInputs, type SiteDelta } from '../../test/helpers/federated-rounds.js';
import { createStrategy } from './registry.js';
import type { RoundAggregate, ValidatedUpdate } from './strategy.js';

/**
 * The published update rules, written from the papers (Hsu et al. 2019 for FedAvgM; Reddi et al.
 * 2021, Algorithm 2, for FedAdagrad, FedAdam and FedYogi) in float64. The optimiser keeps m, v and
 * the model in float32 between rounds by design, so the reference rounds them the same way after
 * each round; within a round everything is float64.
 */
const REFERENCE = `
eta, beta1, beta2, tau, momentum = IN['hp']
store = lambda a: a.astype(np.float32).astype(np.float64)
x = IN['x0']
m = np.zeros_like(x)
v = store(np.full_like(x, tau * tau))
for t in range(int(IN['rounds'][0])):
    w, d = IN['w%d' % t], IN['d%d' % t]
    delta = (w[:, None] * d).sum(axis=0) / w.sum()
    if RULE == 'fedavgm':
        m = momentum * m + delta
        step = eta * m
    else:
        m = beta1 * m + (1 - beta1) * delta
        if RULE == 'fedadagrad':
            v = v + delta ** 2
        elif RULE == 'fedadam':
            v = beta2 * v + (1 - beta2) * delta ** 2
        elif RULE == 'fedyogi':
            v = v - (1 - beta2) * delta ** 2 * np.sign(v - delta ** 2)
        else:
            raise ValueError(RULE)
        step = eta * m / (np.sqrt(v) + tau)
    # How large the terms of x + step are: the comparison's scale (see expectClose).
    OUT['scale%d' % (t + 1)] = np.maximum(np.abs(x), np.abs(step))
    x = x + step
    m, v, x = store(m), store(v), store(x)
    OUT['x%d' % (t + 1)] = x
`;

const context = { spillDir: '/nonexistent', memoryBudgetBytes: 0, log: () => {} };

/** Runs the reference for `rule` over the given rounds from x0 with hyperparameters `hp`. */
async function reference(
  rule: string,
  hp: Record<string, number>,
  x0: Float32Array,
  rounds: SiteDelta[][],
): Promise<{ x: Float64Array; scale: Float64Array }[]> {
  const inputs = {
    x0: { shape: [x0.length], data: x0 },
    rounds: { shape: [1], data: [rounds.length] },
    hp: { shape: [5], data: [hp.eta ?? 0, hp.beta1 ?? 0, hp.beta2 ?? 0, hp.tau ?? 0, hp.momentum ?? 0] },
    ...Object.assign({}, ...rounds.map((round, t) => roundInputs(t, round))),
  };
  const out = await runNumpy(`RULE = ${JSON.stringify(rule)}\n${REFERENCE}`, inputs);
  return rounds.map((_, t) => ({ x: out[`x${t + 1}`]!.data, scale: out[`scale${t + 1}`]!.data }));
}

function randomModel(seed: number, elements: number): Float32Array {
  const random = new Random(seed);
  return Float32Array.from({ length: elements }, () => random.uniform(-1, 1));
}

/** 1241 weights: a multiple of no chunk or segment length used here. */
const ELEMENTS = 1241;
const SEGMENTS = [509, 3, 617, 111, 1];
const SITES_PER_ROUND = [5, 7, 4];

const cases: { rule: string; params: Record<string, number> }[] = [
  { rule: 'fedavgm', params: {} },
  { rule: 'fedavgm', params: { eta: 0.7, momentum: 0.5 } },
  { rule: 'fedadagrad', params: {} },
  { rule: 'fedadagrad', params: { eta: 0.1, beta1: 0.5, tau: 0.02 } },
  { rule: 'fedadam', params: {} },
  { rule: 'fedadam', params: { eta: 0.1, beta1: 0.8, beta2: 0.9, tau: 0.02 } },
  { rule: 'fedyogi', params: {} },
  { rule: 'fedyogi', params: { eta: 0.1, beta1: 0.8, beta2: 0.9, tau: 0.02 } },
];

describe('server optimisers against a NumPy reference of their published definitions', () => {
  it.each(cases)('$rule $params matches over 3 rounds of 4-7 sites, carrying its state', async ({ rule, params }) => {
    const strategy = createStrategy(rule, params, context);
    const x0 = randomModel(11, ELEMENTS);
    const rounds = SITES_PER_ROUND.map((sites, t) => makeRound(100 + t, ELEMENTS, sites));
    const expected = await reference(rule, strategy.parameters!, x0, rounds);
    let base = x0;
    for (const [t, round] of rounds.entries()) {
      const next = await finishRound(strategy.begin(ELEMENTS), round, base, SEGMENTS);
      expectClose(next, expected[t]!.x, `${rule} round ${t + 1}`, expected[t]!.scale);
      base = next;
    }
    // The model must actually move, or matching the reference would prove little.
    expect(base.some((value, i) => Math.abs(value - x0[i]!) > 1e-3)).toBe(true);
  });
});

/**
 * Stands in for the secure-aggregation mean: whatever updates it is given, it answers base + a
 * mean fixed in advance, and answers asynchronously as a strategy reading from disk would.
 */
class KnownMean implements RoundAggregate {
  updates = 0;
  totalWeight = 0;
  disposed = false;

  constructor(private readonly mean: Float32Array) {}

  async accept(update: ValidatedUpdate): Promise<void> {
    for await (const segment of update.segments) void segment;
    this.updates++;
    this.totalWeight += update.weight;
  }

  async finishSegment(offset: number, base: Float32Array): Promise<Float32Array> {
    return base.map((value, i) => value + this.mean[offset + i]!);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

describe('a server optimiser on a mean it did not compute', () => {
  it('steps from the mean aggregate it is handed, not from the updates it relays', async () => {
    const strategy = createStrategy('fedyogi', { eta: 0.05 }, context);
    const x0 = randomModel(21, ELEMENTS);
    const rounds = [0, 1].map((t) => makeRound(200 + t, ELEMENTS, 4));
    // The mean the stand-in answers: one site's delta, so the reference sees it as a round of one.
    const means = [0, 1].map((t) => makeRound(300 + t, ELEMENTS, 4)[3]!.delta);
    const expected = await reference('fedyogi', strategy.parameters!, x0, means.map((delta) => [{ site: 'mean', weight: 1, delta, chunk: 1 }]));
    let base = x0;
    for (const t of [0, 1]) {
      const inner = new KnownMean(means[t]!);
      const aggregate = strategy.begin(ELEMENTS, inner);
      const next = await finishRound(aggregate, rounds[t]!, base, SEGMENTS);
      expect(aggregate.updates).toBe(4);
      expect(aggregate.totalWeight).toBe(rounds[t]!.reduce((sum, u) => sum + u.weight, 0));
      await aggregate.dispose?.();
      expect(inner.disposed).toBe(true);
      expectClose(next, expected[t]!.x, `fedyogi over a given mean, round ${t + 1}`, expected[t]!.scale);
      base = next;
    }
  });
});
