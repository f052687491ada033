import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/storage/index.js';
import type { BlobRef } from '../../shared/distill/index.js';

/** The last distillation round's aggregate, and the transfer set it labels. */
export interface LatestAggregate extends BlobRef {
  round: number;
  transferSha256: string;
}

/**
 * The blobs federated distillation serves (STATE/distill/): the transfer set's images and each
 * round's aggregated soft labels, content-addressed by SHA-256 so an agent can cache them and a
 * restarted coordinator serves the same bytes under the same name.
 */
export class DistillBlobs {
  private readonly kinds = new Map<string, { kind: string; bytes: number }>();

  private constructor(readonly dir: string) {}

  static async open(stateDir: string): Promise<DistillBlobs> {
    const blobs = new DistillBlobs(join(stateDir, 'distill'));
    await mkdir(blobs.dir, { recursive: true });
    return blobs;
  }

  private path(sha256: string): string {
    return join(this.dir, `${sha256}.bin`);
  }

  /** Stores `bytes` under their SHA-256 (idempotent) and remembers what kind of blob they are. */
  async put(kind: string, bytes: Uint8Array): Promise<BlobRef> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const existing = await stat(this.path(sha256)).catch(() => null);
    if (!existing || existing.size !== bytes.byteLength) await writeFileAtomic(this.path(sha256), bytes);
    await writeFileAtomic(join(this.dir, `${sha256}.kind`), kind);
    this.kinds.set(sha256, { kind, bytes: bytes.byteLength });
    return { sha256, bytes: bytes.byteLength };
  }

  /** What a blob is and its size, or undefined when this coordinator holds no blob of that name. */
  async describe(sha256: string): Promise<{ kind: string; bytes: number } | undefined> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    const known = this.kinds.get(sha256);
    if (known) return known;
    const [kind, info] = await Promise.all([readFile(join(this.dir, `${sha256}.kind`), 'utf8').catch(() => null), stat(this.path(sha256)).catch(() => null)]);
    if (kind === null || !info) return undefined;
    const found = { kind, bytes: info.size };
    this.kinds.set(sha256, found);
    return found;
  }

  async read(sha256: string): Promise<Uint8Array> {
    return new Uint8Array(await readFile(this.path(sha256)));
  }

  /** The blob's bytes from `offset`, in chunks of at most `chunk` bytes. */
  async *stream(sha256: string, offset: number, chunk: number): AsyncGenerator<Uint8Array> {
    const handle = await open(this.path(sha256), 'r');
    try {
      const size = (await handle.stat()).size;
      for (let at = offset; at < size; at += chunk) {
        const buffer = Buffer.alloc(Math.min(chunk, size - at));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, at);
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  async latestAggregate(): Promise<LatestAggregate | null> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'latest-aggregate.json'), 'utf8')) as LatestAggregate;
    } catch {
      return null;
    }
  }

  async setLatestAggregate(latest: LatestAggregate): Promise<void> {
    await writeFileAtomic(join(this.dir, 'latest-aggregate.json'), JSON.stringify(latest));
  }
}
