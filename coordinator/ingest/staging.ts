import type { UpdateSegment } from '../aggregation/index.js';

/**
 * Where an upload's plaintext waits, in memory, until every byte is in and verified: the ingest
 * worker writes each decrypted chunk straight into shared segments, and the fold reads them in
 * place. Before this every update went through a spool file, written by the worker (0.3-0.4 ms
 * per MiB) and read back by the event loop before the fold, on the upload's critical path.
 *
 * The memory is bounded: a fixed budget of pooled segments for all uploads together. An upload
 * that does not fit in what is free is spooled to disk as before (spool.ts), so memory does not
 * grow with the number of sites or uploads at once, only the budget is held once used. Segments
 * are SharedArrayBuffers: the worker writes them, and the aggregation's helper thread can read
 * them (see coordinator/aggregation/fold-helper.ts).
 */

/** Bytes per segment: what a fold reads at a time from a spool file too (readFloat32Segments). */
export const STAGING_SEGMENT_BYTES = 4 << 20;
/** The budget: one 100 MB model's update, or several small ones, at a time. */
export const DEFAULT_STAGING_BYTES = 128 << 20;

export class StagingPool {
  private readonly free: SharedArrayBuffer[] = [];
  private allocated = 0;

  constructor(private readonly budgetBytes = DEFAULT_STAGING_BYTES) {}

  /** Segments for an update of `bytes` bytes, or null when the budget cannot hold it now. */
  reserve(bytes: number): StagedUpdate | null {
    const count = Math.max(1, Math.ceil(bytes / STAGING_SEGMENT_BYTES));
    const fresh = Math.max(0, count - this.free.length);
    if (this.allocated + fresh * STAGING_SEGMENT_BYTES > this.budgetBytes) return null;
    const segments = this.free.splice(0, count - fresh);
    for (let i = 0; i < fresh; i++) segments.push(new SharedArrayBuffer(STAGING_SEGMENT_BYTES));
    this.allocated += fresh * STAGING_SEGMENT_BYTES;
    return new StagedUpdate(segments, bytes, (returned) => this.free.push(...returned));
  }

  /** Bytes of segments held, in use or free (for tests and logs). */
  get heldBytes(): number {
    return this.allocated;
  }
}

/** One upload's segments: filled by the ingest worker, read by the fold, then given back. */
export class StagedUpdate {
  private released = false;

  constructor(
    readonly segments: readonly SharedArrayBuffer[],
    readonly bytes: number,
    private readonly giveBack: (segments: readonly SharedArrayBuffer[]) => void,
  ) {}

  /** The update's float32 values, a segment at a time, read in place. */
  async *values(): AsyncGenerator<UpdateSegment> {
    if (this.released) throw new Error('a staged update was read after its segments were given back');
    let offset = 0;
    for (const segment of this.segments) {
      const values = Math.min(STAGING_SEGMENT_BYTES, this.bytes - offset * 4) / 4;
      if (values <= 0) break;
      yield { offset, values: new Float32Array(segment, 0, values) };
      offset += values;
    }
  }

  /** Gives the segments back to the pool; after this the update cannot be read. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.giveBack(this.segments);
  }
}
