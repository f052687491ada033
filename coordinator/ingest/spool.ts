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
  private constructor(readonly path: string, private handle: FileHandle | null) {}

  static async create(dir: string, label: string): Promise<SpoolFile> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${label.replace(/[^A-Za-z0-9._-]/g, '_')}-${randomBytes(4).toString('hex')}.part`);
    return new SpoolFile(path, await open(path, 'w', 0o600));
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.handle) throw new Error(`spool ${this.path} is closed`);
    await this.handle.write(bytes);
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    await h?.close();
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
