import { FedAvg } from './fedavg.js';
import type { AggregationStrategy, RoundAggregate, StrategyDefinition, TaskParameters } from './strategy.js';

/**
 * FedProx (Li et al. 2020). Its difference from FedAvg is on the sites: each trainer adds the
 * proximal term mu/2 * ||w - w_global||^2 to its loss, which keeps sites with very different data
 * from drifting far from the global model. The coordinator's part is to send mu with every task;
 * the aggregation is FedAvg's weighted mean, unchanged.
 */
export class FedProx implements AggregationStrategy {
  readonly name = 'fedprox';
  readonly needsIndividualUpdates = false;
  readonly parameters: Readonly<Record<string, number>>;
  readonly taskParameters: TaskParameters;
  private readonly fedavg = new FedAvg();

  constructor(mu: number) {
    this.parameters = { mu };
    this.taskParameters = { proximalMu: mu };
  }

  begin(elements: number, mean?: RoundAggregate): RoundAggregate {
    return this.fedavg.begin(elements, mean);
  }
}

export const fedproxDefinition: StrategyDefinition = {
  name: 'fedprox',
  summary: 'FedAvg with a proximal term mu that the sites add to their loss (Li et al. 2020); streaming',
  parameters: { mu: { default: 0.01, min: 0, describe: 'proximal coefficient mu the sites add to their loss, in [0, inf)' } },
  create: (params) => new FedProx(params.mu),
};
