import { describe, expect, it } from 'vitest';
import { FedAvg } from './fedavg.js';
import { secureAggregationConflict } from './strategy.js';

describe('strategies under secure aggregation', () => {
  it('FedAvg works on sums, so it runs with secure aggregation', () => {
    expect(secureAggregationConflict(new FedAvg())).toBeNull();
  });

  it('a strategy that needs each update on its own is refused, with the reason', () => {
    const message = secureAggregationConflict({ name: 'median', needsIndividualUpdates: true });
    expect(message).toMatch(/median needs every site's update on its own/);
    expect(message).toMatch(/secure aggregation by design lets the coordinator see only their sum/);
  });
});
