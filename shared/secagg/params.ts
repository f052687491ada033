/** Which round a message belongs to: every signature, key and mask seed is bound to it. */
export interface SecAggContext {
  federation: string;
  round: number;
}

export interface SecAggParams {
  /**
   * The least number of survivors (sites whose masked input is summed and who answer the unmask
   * request) for the round to succeed. In the full graph it is also the Shamir threshold; in a
   * sparse graph each neighbourhood has its own, smaller one (graph-params.ts).
   */
  threshold: number;
  /** c: every update value is clipped to [-c, c] before quantization. */
  clipRange: number;
  /** W: an upper bound on the sum of the weights (example counts) of the round's sites. */
  weightBound: number;
  /**
   * The communication graph: 'sparse' (default) is SecAgg+'s Harary graph with the degree and
   * neighbourhood threshold of graph-params.ts, which is the full graph anyway where no sparser
   * one is safe; 'full' forces every site to mask with every other (Bonawitz et al. 2017). Client
   * and coordinator must agree: the wire carries no choice, so the coordinator uses the default.
   */
  graph?: 'sparse' | 'full';
}

export function checkContext(context: SecAggContext): void {
  if (typeof context.federation !== 'string' || context.federation.length === 0) throw new RangeError('secure aggregation context needs a federation name');
  if (!Number.isSafeInteger(context.round) || context.round < 0) throw new RangeError(`secure aggregation round must be a non-negative integer, got ${context.round}`);
}

export function checkParams(params: SecAggParams): void {
  if (!Number.isInteger(params.threshold) || params.threshold < 1) throw new RangeError(`secure aggregation threshold must be a positive integer, got ${params.threshold}`);
  if (!(Number.isFinite(params.clipRange) && params.clipRange > 0)) throw new RangeError(`secure aggregation clipRange must be a positive number, got ${params.clipRange}`);
  if (!Number.isSafeInteger(params.weightBound) || params.weightBound < 1) throw new RangeError(`secure aggregation weightBound must be a positive integer, got ${params.weightBound}`);
  if (params.graph !== undefined && params.graph !== 'sparse' && params.graph !== 'full') throw new RangeError(`secure aggregation graph must be 'sparse' or 'full', got ${String(params.graph)}`);
}
