import { secureAggregationConflict, type AggregationStrategy, type RoundAggregate, type StrategyContext, type ValidatedUpdate } from '../strategy.js';
import { BlockReader, WORKING_BYTES } from './block-reader.js';
import { UpdateStore } from './update-store.js';

/**
 * What distinguishes one robust strategy from another: which of the round's updates it draws on,
 * and how it combines their values at each coordinate.
 */
export interface CohortRule {
  /** Why the rule cannot combine `updates` updates (Krum with too few for its f), or null. */
  problem(updates: number): string | null;
  /** The updates (indices in site order) the rule combines; asked once, after the last accept. */
  select(store: UpdateStore, workingBytes: number): Promise<readonly number[]>;
  /**
   * Writes into `out` the new global values base + combined delta: `rows[r][k]` is the delta of
   * the r-th selected update at the block's k-th coordinate.
   */
  combine(rows: readonly Float32Array[], base: Float32Array, out: Float32Array): void;
}

/** A round aggregate that keeps every update (see UpdateStore) and combines them by a rule. */
export class CohortAggregate implements RoundAggregate {
  private reader: Promise<BlockReader> | null = null;

  constructor(
    private readonly strategy: string,
    private readonly store: UpdateStore,
    private readonly rule: CohortRule,
    private readonly workingBytes = WORKING_BYTES,
  ) {}

  get updates(): number {
    return this.store.updates;
  }

  get totalWeight(): number {
    return this.store.totalWeight;
  }

  accept(update: ValidatedUpdate): Promise<void> {
    return this.store.accept(update);
  }

  problem(): string | null {
    if (this.store.updates === 0) return `no updates arrived; ${this.strategy} needs at least one to combine`;
    return this.rule.problem(this.store.updates);
  }

  async finishSegment(offset: number, base: Float32Array): Promise<Float32Array> {
    const problem = this.problem();
    if (problem) throw new Error(`${this.strategy} cannot finish the round: ${problem}`);
    if (!Number.isInteger(offset) || offset < 0 || offset + base.length > this.store.elements) {
      throw new RangeError(`segment at ${offset} of ${base.length} elements is outside a model of ${this.store.elements}`);
    }
    // The selection (Krum's scores need a pass over every update) is made once, on first use.
    this.reader ??= this.rule.select(this.store, this.workingBytes).then((chosen) => new BlockReader(this.store, chosen, this.workingBytes));
    const reader = await this.reader;
    const out = new Float32Array(base.length);
    for (let start = 0; start < base.length; start += reader.blockLength) {
      const end = Math.min(base.length, start + reader.blockLength);
      const rows = await reader.read(offset + start, end - start);
      this.rule.combine(rows, base.subarray(start, end), out.subarray(start, end));
    }
    return out;
  }

  dispose(): Promise<void> {
    return this.store.dispose();
  }
}

/** A robust strategy: each round gets a fresh store (memory budget, spill folder) and rule. */
export class CohortStrategy implements AggregationStrategy {
  readonly needsIndividualUpdates = true;

  constructor(
    readonly name: string,
    readonly parameters: Readonly<Record<string, number>>,
    private readonly makeRule: () => CohortRule,
    private readonly context: StrategyContext,
    private readonly workingBytes = WORKING_BYTES,
  ) {}

  begin(elements: number, mean?: RoundAggregate): RoundAggregate {
    if (mean) throw new Error(secureAggregationConflict(this) ?? `strategy ${this.name} cannot run on a masked sum`);
    return new CohortAggregate(this.name, new UpdateStore(elements, this.context), this.makeRule(), this.workingBytes);
  }
}
