import { FedAvg } from './fedavg.js';
import type { AggregationStrategy, RoundAggregate, ValidatedUpdate } from './strategy.js';

/**
 * The update rule of a server optimiser (FedAvgM, FedAdagrad, FedAdam, FedYogi): it treats the
 * round's mean delta as a pseudo-gradient and owns the state (momentum, second moment) that
 * carries from one round to the next.
 */
export interface ServerStep {
  /** Sets the state for a model of `elements` to its value before the first round. */
  reset(elements: number): void;
  /**
   * Advances the state of elements [offset, offset + delta.length) by this round's mean delta
   * and returns the new global weights for that slice in a fresh array.
   */
  apply(offset: number, base: Float32Array, delta: Float32Array): Float32Array;
  /** The state arrays (live: copy before keeping them). */
  state(): Float32Array[];
  /** Replaces the state with `arrays`, as many and as long as state() gives. */
  load(arrays: Float32Array[]): void;
}

/**
 * A server optimiser on top of any aggregate that yields the round's mean (FedAvg, or under secure
 * aggregation the unmasked modular sum). Its state lives in this object, and the run controller
 * makes one strategy object per run, so the state carries across that run's rounds. After each
 * round the run controller writes snapshot() next to the new model version, and a run resumed after
 * a crash restore()s it (coordinator/store/strategy-state-file.ts).
 */
export class ServerOptimizer implements AggregationStrategy {
  readonly needsIndividualUpdates = false;
  private readonly fedavg = new FedAvg();
  private elements: number | null = null;
  private current: ServerOptimizerAggregate | null = null;

  constructor(
    readonly name: string,
    readonly parameters: Readonly<Record<string, number>>,
    private readonly step: ServerStep,
    private readonly log: (message: string) => void = () => {},
  ) {}

  begin(elements: number, mean?: RoundAggregate): RoundAggregate {
    if (this.elements === null) {
      this.step.reset(elements);
      this.elements = elements;
    } else if (elements !== this.elements) {
      throw new Error(
        `strategy ${this.name}: this round's model has ${elements} weights but the optimiser state of this run was built for ${this.elements}; ` +
          'server-optimiser state belongs to one model shape, so start a new run (medley round start) for the new model',
      );
    } else if (this.current?.partlyFinished()) {
      // Some slices of m and v moved on for a round whose model was never completed: the state no
      // longer matches any model version, so start it over rather than carry a torn state forward.
      this.step.reset(elements);
      this.log(`strategy ${this.name}: the previous round stopped while its model was being written; the optimiser state starts afresh`);
    }
    this.current = new ServerOptimizerAggregate(this.name, elements, mean ?? this.fedavg.begin(elements), this.step);
    return this.current;
  }

  snapshot(): Float32Array[] | null {
    // Only whole rounds: a state some slices of which moved on matches no model version.
    if (this.elements === null || !this.current || !this.current.finished()) return null;
    return this.step.state().map((a) => a.slice());
  }

  restore(arrays: Float32Array[], elements: number): void {
    const expected = this.step.state().length;
    this.step.reset(elements);
    const shapes = this.step.state().map((a) => a.length);
    if (arrays.length !== expected || arrays.some((a, i) => a.length !== shapes[i])) {
      this.elements = null;
      throw new Error(
        `strategy ${this.name}: the saved state has ${arrays.length} array(s) of ${arrays.map((a) => a.length).join(', ')} values; a model of ${elements} weights needs ${shapes.length} of ${elements}`,
      );
    }
    this.step.load(arrays.map((a) => a.slice()));
    this.elements = elements;
    this.current = null;
  }
}

class ServerOptimizerAggregate implements RoundAggregate {
  /** The element the next finishSegment must start at; slices are finished once, in order. */
  private nextOffset = 0;

  constructor(
    private readonly name: string,
    private readonly elements: number,
    private readonly inner: RoundAggregate,
    private readonly step: ServerStep,
  ) {}

  get updates(): number {
    return this.inner.updates;
  }

  get totalWeight(): number {
    return this.inner.totalWeight;
  }

  partlyFinished(): boolean {
    return this.nextOffset > 0 && this.nextOffset < this.elements;
  }

  finished(): boolean {
    return this.nextOffset === this.elements;
  }

  accept(update: ValidatedUpdate): Promise<void> {
    return this.inner.accept(update);
  }

  problem(): string | null {
    return this.inner.problem?.() ?? null;
  }

  async dispose(): Promise<void> {
    await this.inner.dispose?.();
  }

  finishSegment(offset: number, base: Float32Array): Float32Array | Promise<Float32Array> {
    if (offset !== this.nextOffset) {
      // Applying a slice twice, or skipping one, would advance the momentum wrongly for good.
      throw new Error(`strategy ${this.name}: segment at element ${offset} finished out of order; the next segment starts at ${this.nextOffset}`);
    }
    if (offset + base.length > this.elements) {
      throw new Error(`strategy ${this.name}: segment ${offset}..${offset + base.length} lies outside a model of ${this.elements} weights`);
    }
    // Every mean aggregate answers base + mean delta. Asking it with a zero base gives the mean
    // delta itself at full float32 precision; subtracting the real base from base + delta would
    // lose the delta's low bits wherever the weights are much larger than the update.
    const delta = this.inner.finishSegment(offset, new Float32Array(base.length));
    return delta instanceof Float32Array ? this.advance(offset, base, delta) : delta.then((d) => this.advance(offset, base, d));
  }

  private advance(offset: number, base: Float32Array, delta: Float32Array): Float32Array {
    if (delta.length !== base.length) {
      throw new Error(`strategy ${this.name}: the mean aggregate answered ${delta.length} values for a segment of ${base.length}`);
    }
    const next = this.step.apply(offset, base, delta);
    this.nextOffset = offset + base.length;
    return next;
  }
}
