import { addModular, dequantizeMean, type SecAggParams } from '../../shared/secagg/index.js';
import type { RoundAggregate, ValidatedUpdate } from './strategy.js';

/**
 * A secure-aggregation round's aggregate: the masked inputs (uint32, wrapping) are summed as they
 * stream in, one running array of the model's size whatever the number of sites. The sum means
 * nothing until `unmask` removes the masks; only then is there a mean to finish segments with.
 */
export class ModularSumAggregate implements RoundAggregate {
  private readonly sum: Uint32Array;
  private count = 0;
  private weightSum = 0;
  private mean: Float32Array | null = null;

  constructor(elements: number, private readonly params: SecAggParams) {
    this.sum = new Uint32Array(elements);
  }

  get updates(): number {
    return this.count;
  }

  get totalWeight(): number {
    return this.weightSum;
  }

  /** The modular sum of the masked inputs folded in so far (for unmasking). */
  get maskedSum(): Uint32Array {
    return this.sum;
  }

  async accept(update: ValidatedUpdate): Promise<void> {
    if (!(update.weight > 0) || !Number.isSafeInteger(update.weight)) {
      throw new RangeError(`masked update from ${update.site} has weight ${update.weight}; it must be a positive example count`);
    }
    for await (const segment of update.segments) {
      const bits = new Uint32Array(segment.values.buffer, segment.values.byteOffset, segment.values.length);
      addModular(this.sum, bits, segment.offset);
    }
    this.count++;
    this.weightSum += update.weight;
  }

  /** Takes the unmasked sum (the survivors' quantized inputs) and turns it into the weighted mean. */
  setUnmasked(sum: Uint32Array): void {
    this.mean = dequantizeMean(sum, this.params, this.weightSum);
  }

  finishSegment(offset: number, base: Float32Array): Float32Array {
    if (!this.mean) throw new Error('secure aggregation round finished before its masks were removed');
    const out = new Float32Array(base.length);
    for (let i = 0; i < base.length; i++) out[i] = base[i] + this.mean[offset + i];
    return out;
  }
}
