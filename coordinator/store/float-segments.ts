import { open } from 'node:fs/promises';

export interface FloatSegment {
  /** Element index of values[0] in the whole file. */
  offset: number;
  /** Valid only until the generator is advanced: the buffer is reused. */
  values: Float32Array;
}

/**
 * Segment buffers are SharedArrayBuffers, so the aggregation's helper thread can read segments
 * too (coordinator/aggregation/fold-helper.ts), and they are pooled: a buffer handed to that
 * thread stays referenced there until its next garbage collection, which, allocating almost
 * nothing, it rarely has; fresh buffers per fold would pile up (4 MiB for each update folded).
 */
const pool: SharedArrayBuffer[] = [];
const POOL_LIMIT = 8;

function acquire(bytes: number): SharedArrayBuffer {
  const i = pool.findIndex((b) => b.byteLength === bytes);
  return i >= 0 ? pool.splice(i, 1)[0]! : new SharedArrayBuffer(bytes);
}

function release(buffer: SharedArrayBuffer): void {
  if (pool.length < POOL_LIMIT) pool.push(buffer);
}

/** Reads a file of little-endian float32 values as segments of at most `segmentBytes`. */
export async function* readFloat32Segments(path: string, segmentBytes = 4 << 20, reuseBuffer = true): AsyncGenerator<FloatSegment> {
  const reader = await open(path, 'r');
  // Without reuse every segment gets its own buffer, which the caller may keep: never pooled.
  const shared = reuseBuffer ? acquire(segmentBytes) : null;
  try {
    let buffer = new Float32Array(shared ?? new SharedArrayBuffer(segmentBytes));
    let offset = 0;
    for (;;) {
      if (!reuseBuffer && offset > 0) buffer = new Float32Array(new SharedArrayBuffer(segmentBytes));
      const bytes = new Uint8Array(buffer.buffer);
      const { bytesRead } = await reader.read(bytes, 0, bytes.length, offset * 4);
      if (bytesRead === 0) break;
      if (bytesRead % 4 !== 0) throw new Error(`${path} ends in the middle of a float32 value`);
      yield { offset, values: buffer.subarray(0, bytesRead / 4) };
      offset += bytesRead / 4;
    }
  } finally {
    await reader.close();
    if (shared) release(shared);
  }
}
