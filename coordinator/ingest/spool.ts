import { open, rm, mkdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { UpdateSegment } from '../aggregation/index.js';
import { readFloat32Segments } from '../store/float-segments.js';

/**
 * An incoming update is written to a spool file and only folded into the round's sum once every
 * byte has arrived and passed validation: a truncated, tampered or NaN-carrying upload is dropped
 * with its file and never touches the aggregate. The page cache makes this nearly free.
 */
export class SpoolFile {
  private position = 0;
  private readonly pending = new Set<Promise<unknown>>();
  private failed: Error | null = null;

  private constructor(readonly path: string, private handle: FileHandle | null) {}

  static async create(dir: string, label: string): Promise<SpoolFile> {
    const spool = await SpoolFile.reserve(dir, label);
    spool.handle = await open(spool.path, 'w', 0o600);
    return spool;
  }

  /** A spool name only: somebody else (the ingest worker) writes the file. */
  static async reserve(dir: string, label: string): Promise<SpoolFile> {
    await mkdir(dir, { recursive: true });
    return new SpoolFile(join(dir, `${label.replace(/[^A-Za-z0-9._-]/g, '_')}-${randomBytes(4).toString('hex')}.part`), null);
  }

  /**
   * Queues `bytes` at the next position and returns at once while fewer than `depth` writes are in
   * flight: the upload's next chunk is read and decrypted while this one reaches the page cache,
   * instead of waiting a thread-pool round trip per chunk. `bytes` must not be changed afterwards.
   */
  async write(bytes: Uint8Array, depth = 8): Promise<void> {
    if (!this.handle) throw new Error(`spool ${this.path} is closed`);
    if (this.failed) throw this.failed;
    const at = this.position;
    this.position += bytes.byteLength;
    const done = this.handle.write(bytes, 0, bytes.byteLength, at).then(
      () => undefined,
      (err: Error) => {
        this.failed ??= err;
      },
    );
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    while (this.pending.size >= depth) await Promise.race(this.pending);
    if (this.failed) throw this.failed;
  }

  /** Waits for every queued write; throws the first write error. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    if (this.failed) throw this.failed;
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    const h = this.handle;
    this.handle = null;
    await h?.close();
    if (this.failed) throw this.failed;
  }

  /** Reads the spooled float32 values back as segments (see readFloat32Segments). */
  segments(): AsyncGenerator<UpdateSegment> {
    return readFloat32Segments(this.path);
  }

  async discard(): Promise<void> {
    await this.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }
}

export async function clearSpool(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}
