import { createDecipheriv, createHash, type Hash } from 'node:crypto';

/*
 * The chunk layer of a sealed update, on its own so the coordinator's ingest worker can load it
 * without the wire definitions and libsodium: those put 12.8 MB of objects on the worker's heap
 * (3.8 MB with node:crypto alone), and the worker runs a full garbage collection every ten or so
 * 1 MiB chunks because each decrypted chunk is a fresh external buffer. Marking that heap was a
 * quarter of the worker's time in the `ingest` benchmark.
 */

export const TAG_BYTES = 16;

/**
 * The 96-bit ChaCha20-Poly1305 nonce of chunk `index`. The key is fresh for every update, so a
 * counter is a safe nonce; the flag marks the last chunk, which makes a cut-short stream fail.
 */
export function chunkNonce(index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(BigInt(index), 0);
  nonce.writeUInt32LE(final ? 1 : 0, 8);
  return nonce;
}

/** A chunk stream that is not a valid update; callers that have a richer error class pass their own. */
export class ChunkRefusedError extends Error {
  override name = 'ChunkRefusedError';
}

/**
 * Decrypts one update's chunks in order under its key and binding digest, and keeps the chain of
 * their tags for the final signature. Plain data, so it can run in a worker thread
 * (coordinator/ingest/decrypt-worker.ts) while the event loop keeps reading the network.
 */
export class ChunkDecryptor {
  private index = 0;
  private finished = false;
  private readonly tags: Hash = createHash('sha256');
  private readonly key: Buffer;

  constructor(
    key: Uint8Array,
    private readonly digest: Uint8Array,
    private readonly who: string,
    private readonly refuse: (message: string) => Error = (message) => new ChunkRefusedError(message),
  ) {
    this.key = Buffer.from(key);
  }

  get chunksOpened(): number {
    return this.index;
  }

  /** Decrypts the next chunk; a chunk moved, dropped, altered or from another update fails here. */
  open(ciphertext: Uint8Array, final: boolean): Buffer {
    if (this.finished) throw this.refuse(`${this.who} has data after its final chunk`);
    if (ciphertext.byteLength < TAG_BYTES) throw this.refuse(`${this.who} has chunk ${this.index} shorter than its authentication tag`);
    const position = this.index++;
    const body = ciphertext.subarray(0, ciphertext.byteLength - TAG_BYTES);
    const tag = ciphertext.subarray(ciphertext.byteLength - TAG_BYTES);
    const decipher = createDecipheriv('chacha20-poly1305', this.key, chunkNonce(position, final), { authTagLength: TAG_BYTES });
    decipher.setAAD(this.digest, { plaintextLength: body.byteLength });
    decipher.setAuthTag(tag);
    const plain = decipher.update(body);
    try {
      decipher.final();
    } catch {
      throw this.refuse(
        `${this.who}: ${final ? 'the final chunk' : `chunk ${position}`} fails authentication (altered, reordered, cut short, or from another update); it was refused and nothing of it was used`,
      );
    }
    this.tags.update(tag);
    if (final) {
      this.finished = true;
      this.key.fill(0);
    }
    return plain;
  }

  /** SHA-256 over every chunk's tag in order; only after the final chunk. */
  tagChain(): Uint8Array {
    if (!this.finished) throw new Error('the tag chain is known only after the final chunk');
    return new Uint8Array(this.tags.digest());
  }
}
