import { ServerOptimizer, type ServerStep } from './server-optimizer.js';
import type { StrategyDefinition, StrategyParameter } from './strategy.js';

/**
 * Server optimisers on the round's mean delta Delta_t (a pseudo-gradient pointing downhill).
 * The state is kept in float32 (half the memory of float64 for a model-sized array) and every
 * element is computed in float64 before it is stored.
 */

/** FedAvgM (Hsu et al. 2019): m_t = momentum * m_{t-1} + Delta_t; x_{t+1} = x_t + eta * m_t. */
export class ServerMomentum implements ServerStep {
  private m: Float32Array = new Float32Array(0);

  constructor(
    private readonly eta: number,
    private readonly momentum: number,
  ) {}

  reset(elements: number): void {
    this.m = new Float32Array(elements);
  }

  state(): Float32Array[] {
    return [this.m];
  }

  load([m]: Float32Array[]): void {
    this.m = m!;
  }

  apply(offset: number, base: Float32Array, delta: Float32Array): Float32Array {
    const out = new Float32Array(base.length);
    const { m, eta, momentum } = this;
    for (let i = 0; i < base.length; i++) {
      const mi = momentum * m[offset + i] + delta[i];
      m[offset + i] = mi;
      out[i] = base[i] + eta * mi;
    }
    return out;
  }
}

export type AdaptiveRule = 'adagrad' | 'adam' | 'yogi';

export interface AdaptiveParameters {
  eta: number;
  beta1: number;
  /** Unused by Adagrad, whose second moment is a plain sum. */
  beta2: number;
  tau: number;
}

/**
 * FedAdagrad, FedAdam and FedYogi (Reddi et al. 2021, Algorithm 2), which differ only in how the
 * second moment v follows Delta^2. No bias correction, as in the paper.
 */
export class AdaptiveStep implements ServerStep {
  private m: Float32Array = new Float32Array(0);
  private v: Float32Array = new Float32Array(0);

  constructor(
    private readonly rule: AdaptiveRule,
    private readonly p: AdaptiveParameters,
  ) {}

  reset(elements: number): void {
    this.m = new Float32Array(elements);
    // The paper asks for v_{-1} >= tau^2 (m starts at 0); tau^2 is the smallest start it allows,
    // so the first rounds' steps are damped no more than the definition requires.
    this.v = new Float32Array(elements).fill(this.p.tau * this.p.tau);
  }

  state(): Float32Array[] {
    return [this.m, this.v];
  }

  load([m, v]: Float32Array[]): void {
    this.m = m!;
    this.v = v!;
  }

  apply(offset: number, base: Float32Array, delta: Float32Array): Float32Array {
    const out = new Float32Array(base.length);
    const { m, v, rule } = this;
    const { eta, beta1, beta2, tau } = this.p;
    for (let i = 0; i < base.length; i++) {
      const d = delta[i];
      const d2 = d * d;
      const mi = beta1 * m[offset + i] + (1 - beta1) * d;
      const previous = v[offset + i];
      let vi: number;
      if (rule === 'adagrad') vi = previous + d2;
      else if (rule === 'adam') vi = beta2 * previous + (1 - beta2) * d2;
      // Yogi moves v towards Delta^2 by (1 - beta2) * Delta^2, not by a fraction of the gap as
      // Adam does, so after a round of large updates v shrinks, and the step grows, only slowly.
      else vi = previous - (1 - beta2) * d2 * Math.sign(previous - d2);
      m[offset + i] = mi;
      v[offset + i] = vi;
      out[i] = base[i] + (eta * mi) / (Math.sqrt(vi) + tau);
    }
    return out;
  }
}

const eta = (fallback: number): StrategyParameter => ({ default: fallback, min: 0, exclusiveMin: true, describe: 'server learning rate eta' });
const decay = (fallback: number, what: string): StrategyParameter => ({ default: fallback, min: 0, max: 1, exclusiveMax: true, describe: what });

export const fedavgmDefinition: StrategyDefinition = {
  name: 'fedavgm',
  summary: 'FedAvg with server momentum on the mean update (Hsu et al. 2019); streaming',
  parameters: { eta: eta(1.0), momentum: decay(0.9, 'server momentum') },
  create(params, context) {
    return new ServerOptimizer('fedavgm', params, new ServerMomentum(params.eta, params.momentum), context.log);
  },
};

function adaptiveDefinition(rule: AdaptiveRule, summary: string): StrategyDefinition {
  const name = `fed${rule}`;
  const parameters: Record<string, StrategyParameter> = {
    eta: eta(0.01),
    beta1: decay(0.9, 'first-moment decay beta1'),
    ...(rule === 'adagrad' ? {} : { beta2: decay(0.99, 'second-moment decay beta2') }),
    tau: { default: 1e-3, min: 0, exclusiveMin: true, describe: 'adaptivity tau added to sqrt(v)' },
  };
  return {
    name,
    summary,
    parameters,
    create(params, context) {
      const step = new AdaptiveStep(rule, { eta: params.eta, beta1: params.beta1, beta2: params.beta2 ?? 0, tau: params.tau });
      return new ServerOptimizer(name, params, step, context.log);
    },
  };
}

export const fedadagradDefinition = adaptiveDefinition('adagrad', 'Adagrad server optimiser on the mean update (Reddi et al. 2021); streaming');
export const fedadamDefinition = adaptiveDefinition('adam', 'Adam server optimiser on the mean update (Reddi et al. 2021); streaming');
export const fedyogiDefinition = adaptiveDefinition('yogi', 'Yogi server optimiser on the mean update (Reddi et al. 2021); streaming');
