import { mkdir, mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { StrategyContext, UpdateSegment, ValidatedUpdate } from '../strategy.js';

/** Where one accepted update lives: a float32 array in memory, or a spill file read by position. */
interface StoredUpdate {
  readonly site: string;
  readonly weight: number;
  values: Float32Array | null;
  file: FileHandle | null;
  path: string | null;
}

const BYTES_PER_ELEMENT = 4;

/**
 * Uploads copied at once. Each one in progress holds its reader's buffer (4 MiB for a spooled
 * upload); when 50 uploads finish together, taking them all at once would hold 200 MB of buffers
 * on top of the budget. The rest wait their turn without starting their readers.
 */
const MAX_CONCURRENT_COPIES = 4;

/**
 * The round's individual updates, for strategies that must look at each one (median, Krum).
 * Updates stay in memory while the bytes held fit `memoryBudgetBytes`; every later update goes,
 * segment by segment as it arrives, to its own file in a private per-round folder under
 * `spillDir`, so a cohort larger than the budget costs disk, not memory. Whatever the arrival
 * order, updates are numbered by site name, so ties between them resolve the same way every run.
 */
export class UpdateStore {
  private readonly inFlight = new Set<string>();
  private readonly accepted: StoredUpdate[] = [];
  private ordered: StoredUpdate[] | null = null;
  private bytesInMemory = 0;
  private weightSum = 0;
  private folder: Promise<string> | null = null;
  private filesCreated = 0;
  private disposed = false;
  private copying = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly elements: number,
    private readonly context: Pick<StrategyContext, 'spillDir' | 'memoryBudgetBytes' | 'log'>,
  ) {
    if (!Number.isInteger(elements) || elements <= 0) throw new RangeError(`an update store needs a positive whole number of elements, got ${elements}`);
    if (!(context.memoryBudgetBytes >= 0)) throw new RangeError(`memory budget ${context.memoryBudgetBytes} bytes is not a non-negative number`);
  }

  get updates(): number {
    return this.accepted.length;
  }

  get totalWeight(): number {
    return this.weightSum;
  }

  /** Bytes of update values held in memory now (reserved for uploads still arriving, too). */
  get memoryBytes(): number {
    return this.bytesInMemory;
  }

  /** How many accepted updates live in spill files. */
  get spilledUpdates(): number {
    return this.accepted.filter((u) => u.file !== null).length;
  }

  /** The round's spill folder, or null while nothing has spilled. */
  async spillFolder(): Promise<string | null> {
    return this.folder ? this.folder : null;
  }

  /** Site names in the order updates are numbered for reading (ascending by name). */
  sites(): string[] {
    return this.inOrder().map((u) => u.site);
  }

  /** Whether update `index` (in site order) lives in a spill file rather than in memory. */
  isSpilled(index: number): boolean {
    return this.at(index).file !== null;
  }

  /** Stores one update, copying its segments (the producer may reuse their buffers). */
  async accept(update: ValidatedUpdate): Promise<void> {
    this.checkAccepting();
    const { site, weight } = update;
    if (!(weight > 0) || !Number.isFinite(weight)) {
      throw new RangeError(`update from ${site} has weight ${weight}; a site must report a positive example count`);
    }
    if (this.inFlight.has(site) || this.accepted.some((u) => u.site === site)) {
      throw new Error(`the round already holds an update from ${site}; a second one is refused`);
    }
    this.inFlight.add(site);
    if (this.copying >= MAX_CONCURRENT_COPIES) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.copying++;
    // Decide with no await in between, so uploads arriving together cannot all claim the same budget.
    const bytes = this.elements * BYTES_PER_ELEMENT;
    const inMemory = this.bytesInMemory + bytes <= this.context.memoryBudgetBytes;
    if (inMemory) this.bytesInMemory += bytes;
    const stored: StoredUpdate = { site, weight, values: null, file: null, path: null };
    try {
      this.checkAccepting();
      if (inMemory) stored.values = new Float32Array(this.elements);
      let covered = 0;
      if (stored.values) {
        for await (const segment of update.segments) {
          covered += this.checkSegment(site, segment);
          stored.values.set(segment.values, segment.offset);
        }
      } else {
        covered = await this.spill(update, stored);
      }
      if (covered !== this.elements) {
        throw new RangeError(`update from ${site} carried ${covered} elements for a model of ${this.elements}; it is incomplete or has overlapping segments`);
      }
      this.checkAccepting();
    } catch (err) {
      if (inMemory) this.bytesInMemory -= bytes;
      await discard(stored);
      throw err;
    } finally {
      this.inFlight.delete(site);
      this.copying--;
      this.waiting.shift()?.();
    }
    this.accepted.push(stored);
    this.weightSum += weight;
  }

  /**
   * Elements [start, start + length) of update `index` (site order). An in-memory update answers
   * with a view of its own array; a spilled one is read into `into` (length `length`), by position.
   */
  async read(index: number, start: number, length: number, into: Float32Array): Promise<Float32Array> {
    const stored = this.at(index);
    if (start < 0 || length < 0 || start + length > this.elements) {
      throw new RangeError(`elements ${start}..${start + length} are outside a model of ${this.elements}`);
    }
    if (stored.values) return stored.values.subarray(start, start + length);
    if (into.length !== length) throw new RangeError(`a read of ${length} elements needs a buffer of that length, got ${into.length}`);
    await readFully(stored.file!, new Uint8Array(into.buffer, into.byteOffset, into.byteLength), start * BYTES_PER_ELEMENT, stored.path!);
    return into;
  }

  /** Closes the spill files and removes the round's folder; the store refuses use afterwards. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const held = this.accepted.splice(0);
    this.ordered = null;
    this.bytesInMemory = 0;
    await Promise.all(held.map((u) => u.file?.close().catch(() => undefined)));
    const folder = this.folder ? await this.folder.catch(() => null) : null;
    if (folder) await rm(folder, { recursive: true, force: true });
  }

  private inOrder(): StoredUpdate[] {
    this.checkLive();
    if (this.inFlight.size > 0) throw new Error(`updates from ${[...this.inFlight].join(', ')} are still arriving; the round's updates can be read only after the last accept`);
    // Plain code-unit comparison: the order must not depend on the machine's locale.
    this.ordered ??= [...this.accepted].sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
    return this.ordered;
  }

  private at(index: number): StoredUpdate {
    const ordered = this.inOrder();
    const stored = ordered[index];
    if (!stored) throw new RangeError(`update ${index} does not exist; the round holds ${ordered.length}`);
    return stored;
  }

  private checkLive(): void {
    if (this.disposed) throw new Error("this round's update store was released; its updates are gone");
  }

  private checkAccepting(): void {
    this.checkLive();
    if (this.ordered) throw new Error("the round's updates are already being combined; no update can join now");
  }

  /** Writes the update to its own file as its segments arrive; answers how many elements came. */
  private async spill(update: ValidatedUpdate, stored: StoredUpdate): Promise<number> {
    let covered = 0;
    try {
      stored.path = await this.newSpillPath();
      stored.file = await open(stored.path, 'wx+', 0o600);
      for await (const segment of update.segments) {
        covered += this.checkSegment(update.site, segment);
        const v = segment.values;
        await writeFully(stored.file, new Uint8Array(v.buffer, v.byteOffset, v.byteLength), segment.offset * BYTES_PER_ELEMENT);
      }
    } catch (err) {
      if (!isSystemError(err)) throw err;
      throw new Error(
        `could not spill the update from ${update.site} to ${stored.path ?? this.context.spillDir}: ${err.message}; ` +
          'free disk space there or raise the memory budget for robust strategies (--strategy-memory)',
        { cause: err },
      );
    }
    return covered;
  }

  private checkSegment(site: string, segment: UpdateSegment): number {
    this.checkAccepting();
    const { offset, values } = segment;
    if (!Number.isInteger(offset) || offset < 0 || offset + values.length > this.elements) {
      throw new RangeError(`update from ${site} has a segment at ${offset} of ${values.length} elements, outside a model of ${this.elements}`);
    }
    return values.length;
  }

  private async newSpillPath(): Promise<string> {
    if (!this.folder) {
      const { spillDir, memoryBudgetBytes, log } = this.context;
      // A private folder per round: another round's dispose never touches this one's files.
      this.folder = mkdir(spillDir, { recursive: true, mode: 0o700 }).then(() => mkdtemp(join(spillDir, 'round-')));
      const folder = await this.folder;
      log(`robust aggregation: ${(memoryBudgetBytes / 2 ** 20).toFixed(1)} MiB memory budget for updates reached; spilling further updates to ${folder}`);
    }
    const folder = await this.folder;
    return join(folder, `update-${this.filesCreated++}.f32`);
  }
}

function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

async function discard(stored: StoredUpdate): Promise<void> {
  await stored.file?.close().catch(() => undefined);
  stored.file = null;
  if (stored.path) await rm(stored.path, { force: true });
}

async function writeFully(file: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

async function readFully(file: FileHandle, bytes: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesRead } = await file.read(bytes, done, bytes.length - done, position + done);
    if (bytesRead === 0) throw new Error(`spill file ${path} ended at byte ${position + done}; it was truncated while the round ran`);
    done += bytesRead;
  }
}
