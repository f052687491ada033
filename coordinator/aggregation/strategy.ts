import type { DeclaredParameter } from '../../shared/config/index.js';
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
   * per segment, in ascending order, after the last `accept`. Streaming strategies answer at once;
   * strategies that keep the cohort's updates (median, Krum) may read spilled updates from disk.
   */
  finishSegment(offset: number, base: Float32Array): Float32Array | Promise<Float32Array>;
  /**
   * Why this aggregate cannot produce a model from what it holds (Krum with too few updates for
   * its f), or null. Asked after the last accept; a reason fails the round and keeps the model.
   */
  problem?(): string | null;
  /** Releases what the round held (spill files, buffers); called once the round ends, success or not. */
  dispose?(): Promise<void>;
}

/** What a strategy asks of the sites' trainers (sent with each task). */
export interface TaskParameters {
  /** FedProx: the proximal coefficient mu; the trainer adds mu/2 * ||w - w_global||^2 to its loss. */
  proximalMu?: number;
}

export interface AggregationStrategy {
  readonly name: string;
  /** True for strategies that must see updates one by one (median, Krum): incompatible with secure aggregation. */
  readonly needsIndividualUpdates: boolean;
  /** The strategy's resolved numeric parameters (defaults filled in), for the round record and logs. */
  readonly parameters?: Readonly<Record<string, number>>;
  /** What each task carries for this strategy (FedProx's mu); absent = nothing. */
  readonly taskParameters?: TaskParameters;
  /**
   * Opens a round's aggregate. Under secure aggregation the run controller passes `mean`: the
   * aggregate that yields the weighted mean from the masked sum. Strategies that work on the mean
   * (FedAvg, FedProx, the server optimisers) build on it; those that need individual updates are
   * refused before any round starts and never get it.
   */
  begin(elements: number, mean?: RoundAggregate): RoundAggregate;
  /**
   * What the strategy carries from round to round (a server optimiser's moments) as it stands after
   * the last complete round, for the coordinator to keep on disk; null when it carries nothing yet.
   * Absent for strategies that keep nothing between rounds.
   */
  snapshot?(): Float32Array[] | null;
  /** Takes back a snapshot (a resumed run); throws an Error naming what does not fit this model. */
  restore?(arrays: Float32Array[], elements: number): void;
}

/** Where strategies that keep individual updates may spill them, and how much memory they may hold. */
export interface StrategyContext {
  /** A folder the strategy may create files in (removed between rounds by `dispose`). */
  spillDir: string;
  /** Bytes of updates a robust strategy keeps in memory before spilling to disk. */
  memoryBudgetBytes: number;
  log: (message: string) => void;
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

/** One numeric parameter a strategy takes (`--strategy-param NAME=VALUE`). */
export type StrategyParameter = DeclaredParameter;

/** A selectable strategy: its name, what it does, its parameters, and how to make one for a run. */
export interface StrategyDefinition {
  name: string;
  summary: string;
  parameters: Readonly<Record<string, StrategyParameter>>;
  /** `params` holds every declared parameter, defaults filled in and bounds checked. */
  create(params: Record<string, number>, context: StrategyContext): AggregationStrategy;
}
