import { open } from 'node:fs/promises';

export interface FloatSegment {
  /** Element index of values[0] in the whole file. */
  offset: number;
  /** Valid only until the generator is advanced: the buffer is reused. */
  values: Float32Array;
}

/** Reads a file of little-endian float32 values as segments of at most `segmentBytes`. */
export async function* readFloat32Segments(path: string, segmentBytes = 4 << 20, reuseBuffer = true): AsyncGenerator<FloatSegment> {
  const reader = await open(path, 'r');
  try {
    let buffer = new Float32Array(segmentBytes / 4);
    let offset = 0;
    for (;;) {
      if (!reuseBuffer && offset > 0) buffer = new Float32Array(segmentBytes / 4);
      const bytes = new Uint8Array(buffer.buffer);
      const { bytesRead } = await reader.read(bytes, 0, bytes.length, offset * 4);
      if (bytesRead === 0) break;
      if (bytesRead % 4 !== 0) throw new Error(`${path} ends in the middle of a float32 value`);
      yield { offset, values: buffer.subarray(0, bytesRead / 4) };
      offset += bytesRead / 4;
    }
  } finally {
    await reader.close();
  }
}
