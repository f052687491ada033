import type { AggregationStrategy, RoundAggregate, ValidatedUpdate } from './strategy.js';
import { allocateSum, finishInPlace, scaledAddInto } from './scaled-add.js';

/**
 * Weighted FedAvg over deltas (McMahan et al. 2017): new = base + sum_i(n_i * d_i) / sum_i(n_i).
 * The sum is kept as one running float32 array of the model's size, updated as each update
 * streams in, so memory does not grow with the number of sites. The sum lives where the SIMD
 * kernel of scaled-add.ts can reach it.
 *
 * Rounds run one after another, so when a round's aggregate has been finished completely, the
 * next `begin` reuses its sum instead of allocating (and page-faulting) a new one. The arrays the
 * finished aggregate returned are then overwritten, and the aggregate refuses further use.
 */
export class FedAvg implements AggregationStrategy {
  readonly name = 'fedavg';
  readonly needsIndividualUpdates = false;
  private previous: FedAvgAggregate | null = null;

  begin(elements: number, mean?: RoundAggregate): RoundAggregate {
    if (mean) return mean;
    const spare = this.previous?.retire() ?? null;
    this.previous = new FedAvgAggregate(elements, spare);
    return this.previous;
  }
}

const MAX_CONCURRENT_FOLDS = 4;

class FedAvgAggregate implements RoundAggregate {
  private readonly sum: Float32Array;
  private count = 0;
  private weightSum = 0;
  private finished = 0;
  private retired = false;
  /** Folds waiting for a turn (see MAX_CONCURRENT_FOLDS). */
  private readonly queue: (() => void)[] = [];
  private folding = 0;

  constructor(elements: number, spare: Float32Array | null) {
    this.sum = allocateSum(elements, spare);
  }

  get updates(): number {
    return this.count;
  }

  get totalWeight(): number {
    return this.weightSum;
  }

  /** Hands the sum over for reuse once every element has been finished; otherwise keeps it. */
  retire(): Float32Array | null {
    if (this.finished < this.sum.length) return null;
    this.retired = true;
    return this.sum;
  }

  private checkLive(): void {
    if (this.retired) throw new Error('this FedAvg round aggregate was finished and its memory reused by a later round');
  }

  async accept(update: ValidatedUpdate): Promise<void> {
    this.checkLive();
    if (!(update.weight > 0) || !Number.isFinite(update.weight)) {
      throw new RangeError(`update from ${update.site} has weight ${update.weight}; FedAvg needs a positive example count`);
    }
    // Each fold in progress holds its reader's buffer (4 MiB for a spooled update); when 50 uploads
    // finish together, unbounded folding would hold 200 MB at once. A few at a time still lets
    // their segments interleave, so the sum's segment stays in cache across updates.
    if (this.folding >= MAX_CONCURRENT_FOLDS) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.folding++;
    try {
      for await (const segment of update.segments) {
        this.checkLive();
        scaledAddInto(this.sum, segment.offset, segment.values, update.weight);
      }
    } finally {
      this.folding--;
      this.queue.shift()?.();
    }
    this.count++;
    this.weightSum += update.weight;
  }

  finishSegment(offset: number, base: Float32Array): Float32Array {
    this.checkLive();
    if (this.count === 0) throw new Error('FedAvg cannot finish a round without updates');
    // Each segment is finished once, after the last accept: its part of the sum becomes the result.
    const result = finishInPlace(this.sum, offset, base, this.weightSum);
    this.finished += base.length;
    return result;
  }
}
