/**
 * A segment of one validated update: `values` are the float32 elements starting at element
 * `offset` of the flattened model (manifest order).
 */
export interface UpdateSegment {
  offset: number;
  values: Float32Array;
}

/** One site's validated update as the strategy sees it: a weight and a stream of segments. */
export interface ValidatedUpdate {
  site: string;
  /** The example count the site trained on; FedAvg's weight. */
  weight: number;
  segments: AsyncIterable<UpdateSegment>;
}

/**
 * A round's aggregate under some strategy. It sees only validated updates, never gRPC, keys,
 * files or the clock, so it can be tested on plain arrays.
 */
export interface RoundAggregate {
  readonly updates: number;
  readonly totalWeight: number;
  /** Folds an update in. Resolves once every segment has been consumed. */
  accept(update: ValidatedUpdate): Promise<void>;
  /**
   * The new global values for the segment of `base` that starts at element `offset`. Called once
   * per segment, in any order, after the last `accept`.
   */
  finishSegment(offset: number, base: Float32Array): Float32Array;
}

export interface AggregationStrategy {
  readonly name: string;
  /** True for strategies that must see updates one by one (median, Krum): incompatible with secure aggregation. */
  readonly needsIndividualUpdates: boolean;
  begin(elements: number): RoundAggregate;
}

/**
 * Secure aggregation shows the coordinator only the sum of the round's updates. A strategy that
 * must look at each update on its own cannot work on that: say so instead of running it wrongly.
 */
export function secureAggregationConflict(strategy: Pick<AggregationStrategy, 'name' | 'needsIndividualUpdates'>): string | null {
  if (!strategy.needsIndividualUpdates) return null;
  return (
    `strategy ${strategy.name} needs every site's update on its own, and secure aggregation by design lets the coordinator see only their sum; ` +
    `run it without --secure-aggregation, or choose a strategy that works on sums (fedavg)`
  );
}
