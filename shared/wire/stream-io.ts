import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * Writes one message and waits for the stream to drain when its buffer is full, so a sender of a
 * 500 MB model holds a few chunks in memory, not the whole model.
 */
export async function writeMessage(stream: Writable, message: unknown): Promise<void> {
  if (stream.destroyed || stream.writableEnded) throw new Error('stream closed before all data was sent');
  if (stream.write(message)) return;
  // The listeners of the losing events must go, or every full buffer leaves two behind.
  const settled = new AbortController();
  try {
    await Promise.race([
      once(stream, 'drain', { signal: settled.signal }),
      once(stream, 'close', { signal: settled.signal }).then(() => {
        throw new Error('stream closed before all data was sent');
      }),
      once(stream, 'error', { signal: settled.signal }).then(([err]) => {
        throw err;
      }),
    ]);
  } finally {
    settled.abort();
  }
}

/** Splits a buffer into chunk-size views (no copies). */
export function* chunksOf(bytes: Uint8Array, chunkBytes: number, start = 0): Generator<Buffer> {
  for (let offset = start; offset < bytes.byteLength; offset += chunkBytes) {
    const end = Math.min(bytes.byteLength, offset + chunkBytes);
    yield Buffer.from(bytes.buffer, bytes.byteOffset + offset, end - offset);
  }
}
