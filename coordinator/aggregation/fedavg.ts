import type { AggregationStrategy, RoundAggregate, ValidatedUpdate } from './strategy.js';
import { allocateSum, finishInPlace, scaledAddInto } from './scaled-add.js';

/**
 * Weighted FedAvg over deltas (McMahan et al. 2017): new = base + sum_i(n_i * d_i) / sum_i(n_i).
 * The sum is kept as one running float32 array of the model's size, updated as each update
 * streams in, so memory does not grow with the number of sites. The sum lives where the SIMD
 * kernel of scaled-add.ts can reach it.
 */
export class FedAvg implements AggregationStrategy {
  readonly name = 'fedavg';
  readonly needsIndividualUpdates = false;

  begin(elements: number): RoundAggregate {
    return new FedAvgAggregate(elements);
  }
}

class FedAvgAggregate implements RoundAggregate {
  private readonly sum: Float32Array;
  private count = 0;
  private weightSum = 0;

  constructor(elements: number) {
    this.sum = allocateSum(elements);
  }

  get updates(): number {
    return this.count;
  }

  get totalWeight(): number {
    return this.weightSum;
  }

  async accept(update: ValidatedUpdate): Promise<void> {
    if (!(update.weight > 0) || !Number.isFinite(update.weight)) {
      throw new RangeError(`update from ${update.site} has weight ${update.weight}; FedAvg needs a positive example count`);
    }
    for await (const segment of update.segments) {
      scaledAddInto(this.sum, segment.offset, segment.values, update.weight);
    }
    this.count++;
    this.weightSum += update.weight;
  }

  finishSegment(offset: number, base: Float32Array): Float32Array {
    if (this.count === 0) throw new Error('FedAvg cannot finish a round without updates');
    // Each segment is finished once, after the last accept: its part of the sum becomes the result.
    return finishInPlace(this.sum, offset, base, this.weightSum);
  }
}
