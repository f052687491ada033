import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelNotFoundError, StateCorruptError, TransferDigest, describeMismatch } from '../../shared/wire/index.js';
import { syncDir, writeFileAtomic } from '../../shared/storage/index.js';
import { modelManifestSchema, type ModelManifest } from './model-manifest.js';

const VERSION_DIR = /^v(\d{6,})$/;

function versionDirName(version: number): string {
  return `v${String(version).padStart(6, '0')}`;
}

export type NewVersion = Omit<ModelManifest, 'sha256' | 'version' | 'formatVersion' | 'createdAt'>;

/**
 * Global model versions on disk: `models/v000001/{manifest.json, weights.bin}`. A version appears
 * only by renaming a complete, fsynced temporary directory, so a crash never leaves a
 * half-written version; leftovers of an interrupted write are swept at open.
 */
/** Enough for the versions a round touches (base, new, a lagging site's) with room to spare. */
const MANIFESTS_KEPT = 8;

export class ModelStore {
  private latestVersion = 0;
  /**
   * Recently used manifests (topology included), most recent last. Bounded: a coordinator that runs
   * for months writes a version a round, and keeping every manifest grew its memory with each one.
   * Older versions are read from disk again when asked for.
   */
  private readonly manifests = new Map<number, ModelManifest>();

  private constructor(private readonly root: string) {}

  static async open(stateDir: string): Promise<ModelStore> {
    const store = new ModelStore(join(stateDir, 'models'));
    await mkdir(store.root, { recursive: true });
    for (const entry of await readdir(store.root)) {
      if (entry.startsWith('.')) {
        await rm(join(store.root, entry), { recursive: true, force: true });
        continue;
      }
      const match = VERSION_DIR.exec(entry);
      if (match) store.latestVersion = Math.max(store.latestVersion, Number(match[1]));
    }
    if (store.latestVersion > 0) await store.manifest(store.latestVersion);
    return store;
  }

  private remember(version: number, manifest: ModelManifest): void {
    this.manifests.delete(version);
    this.manifests.set(version, manifest);
    while (this.manifests.size > MANIFESTS_KEPT) this.manifests.delete(this.manifests.keys().next().value!);
  }

  get latest(): number {
    return this.latestVersion;
  }

  weightsPath(version: number): string {
    return join(this.root, versionDirName(version), 'weights.bin');
  }

  async manifest(version: number): Promise<ModelManifest> {
    const cached = this.manifests.get(version);
    if (cached) {
      this.remember(version, cached);
      return cached;
    }
    if (version < 1 || version > this.latestVersion) {
      throw new ModelNotFoundError(`model version ${version} does not exist; the latest is ${this.latestVersion}`);
    }
    const path = join(this.root, versionDirName(version), 'manifest.json');
    let parsed: ModelManifest;
    try {
      parsed = modelManifestSchema.parse(JSON.parse(await readFile(path, 'utf8'))) as ModelManifest;
    } catch (err) {
      throw new StateCorruptError(`model manifest ${path} is unreadable (${(err as Error).message}); restore it from a backup`, { cause: err });
    }
    const size = (await stat(this.weightsPath(version))).size;
    if (size !== parsed.totalBytes) {
      throw new StateCorruptError(`${this.weightsPath(version)} holds ${size} bytes but its manifest says ${parsed.totalBytes}; restore it from a backup`);
    }
    this.remember(version, parsed);
    return parsed;
  }

  /** Re-hashes a version's weights and compares with its manifest. */
  async verify(version: number): Promise<void> {
    const manifest = await this.manifest(version);
    const digest = new TransferDigest();
    for await (const chunk of createReadStream(this.weightsPath(version), { highWaterMark: 4 << 20 })) {
      digest.update(chunk as Buffer);
    }
    const actual = digest.hex();
    if (actual !== manifest.sha256) {
      throw new StateCorruptError(`weights of model version ${version} have sha256 ${actual}, manifest says ${manifest.sha256}; restore from a backup`);
    }
  }

  /** Streams weight bytes of a version from `offset`, in chunks of about `chunkBytes`. */
  readWeights(version: number, offset = 0, chunkBytes = 1 << 20): AsyncIterable<Buffer> {
    return createReadStream(this.weightsPath(version), { start: offset, highWaterMark: chunkBytes }) as AsyncIterable<Buffer>;
  }

  /**
   * Writes the next version from a stream of weight bytes. The bytes must add up to the layout in
   * `next.tensors`; the manifest's sha256 is computed here, never trusted from a caller.
   */
  async writeNext(
    next: NewVersion,
    weights: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: {
      /**
       * The new version is a different network on purpose (pruned, truncated): its layout is not
       * checked against the latest version's. Rounds always start from the latest version and send
       * its own topology, so later rounds train the new network.
       */
      newArchitecture?: boolean;
    } = {},
  ): Promise<ModelManifest> {
    const version = this.latestVersion + 1;
    if (this.latestVersion > 0 && !options.newArchitecture) {
      const previous = await this.manifest(this.latestVersion);
      const mismatch = describeMismatch(previous.tensors, next.tensors);
      if (mismatch) throw new StateCorruptError(`new model version does not match version ${previous.version}: ${mismatch}`);
    }
    const tmpDir = join(this.root, `.${versionDirName(version)}.tmp-${process.pid}`);
    await rm(tmpDir, { recursive: true, force: true });
    await mkdir(tmpDir, { recursive: true });
    try {
      const digest = new TransferDigest();
      const handle = await open(join(tmpDir, 'weights.bin'), 'w', 0o644);
      try {
        for await (const chunk of weights) {
          digest.update(chunk);
          await handle.write(chunk);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (digest.byteCount !== next.totalBytes) {
        throw new StateCorruptError(`model version ${version} got ${digest.byteCount} weight bytes, expected ${next.totalBytes}`);
      }
      const manifest: ModelManifest = {
        formatVersion: 1,
        version,
        createdAt: new Date().toISOString(),
        ...next,
        sha256: digest.hex(),
      };
      await writeFileAtomic(join(tmpDir, 'manifest.json'), JSON.stringify(manifest, null, 1));
      await rename(tmpDir, join(this.root, versionDirName(version)));
      await syncDir(this.root);
      this.remember(version, manifest);
      this.latestVersion = version;
      return manifest;
    } catch (err) {
      await rm(tmpDir, { recursive: true, force: true });
      throw err;
    }
  }
}
