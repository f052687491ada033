/** Which round a message belongs to: every signature, key and mask seed is bound to it. */
export interface SecAggContext {
  federation: string;
  round: number;
}

export interface SecAggParams {
  /**
   * t: the least number of sites whose reveals recover a secret, and so the least number of
   * survivors (sites whose masked input is summed) for the round to succeed.
   */
  threshold: number;
  /** c: every update value is clipped to [-c, c] before quantization. */
  clipRange: number;
  /** W: an upper bound on the sum of the weights (example counts) of the round's sites. */
  weightBound: number;
}

export function checkContext(context: SecAggContext): void {
  if (typeof context.federation !== 'string' || context.federation.length === 0) throw new RangeError('secure aggregation context needs a federation name');
  if (!Number.isSafeInteger(context.round) || context.round < 0) throw new RangeError(`secure aggregation round must be a non-negative integer, got ${context.round}`);
}

export function checkParams(params: SecAggParams): void {
  if (!Number.isInteger(params.threshold) || params.threshold < 1) throw new RangeError(`secure aggregation threshold must be a positive integer, got ${params.threshold}`);
  if (!(Number.isFinite(params.clipRange) && params.clipRange > 0)) throw new RangeError(`secure aggregation clipRange must be a positive number, got ${params.clipRange}`);
  if (!Number.isSafeInteger(params.weightBound) || params.weightBound < 1) throw new RangeError(`secure aggregation weightBound must be a positive integer, got ${params.weightBound}`);
}
