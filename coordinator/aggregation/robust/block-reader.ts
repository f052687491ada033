import type { UpdateStore } from './update-store.js';

/**
 * Bytes of update values one block read may bring into memory. Reading a block of every chosen
 * update at once lets a strategy work coordinate by coordinate across the cohort; sizing the
 * block to this limit keeps that working memory flat however many sites the round has.
 */
export const WORKING_BYTES = 32 * 2 ** 20;

/**
 * Reads the same element range of several stored updates (indices in site order) into one
 * reusable buffer. Only spilled updates take room in the buffer; in-memory ones answer with views.
 */
export class BlockReader {
  /** Elements per block: block x updates x 4 bytes stays within the working limit. */
  readonly blockLength: number;
  private readonly scratch: Float32Array;
  private readonly slots: number[];

  constructor(
    private readonly store: UpdateStore,
    readonly indices: readonly number[],
    workingBytes = WORKING_BYTES,
  ) {
    if (indices.length === 0) throw new RangeError('a block reader needs at least one update to read');
    this.blockLength = Math.max(1, Math.min(store.elements, Math.floor(workingBytes / (indices.length * 4))));
    let spilled = 0;
    this.slots = indices.map((i) => (store.isSpilled(i) ? spilled++ : -1));
    this.scratch = new Float32Array(spilled * this.blockLength);
  }

  /** Elements [start, start + length) of every chosen update, in the order of `indices`. */
  async read(start: number, length: number): Promise<Float32Array[]> {
    if (length > this.blockLength) throw new RangeError(`a block read of ${length} elements exceeds the block length ${this.blockLength}`);
    return Promise.all(
      this.indices.map((index, r) => {
        const slot = this.slots[r]!;
        const into = slot < 0 ? this.scratch.subarray(0, 0) : this.scratch.subarray(slot * this.blockLength, slot * this.blockLength + length);
        return this.store.read(index, start, length, into);
      }),
    );
  }
}
