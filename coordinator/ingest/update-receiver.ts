import { SEALING_SCHEME, TAG_BYTES, UpdateOpener, type Identity } from '../../shared/crypto/index.js';
import {
  BusyError,
  InvalidUpdateError,
  TENSOR_FORMAT_VERSION,
  TruncatedStreamError,
  UnknownSiteError,
  describeMismatch,
  type TensorSpec,
  type UpdateChunk,
  type UpdateHeader,
  type UpdateReport,
  type UploadReceipt,
} from '../../shared/wire/index.js';
import type { UpdateSegment } from '../aggregation/index.js';
import { DecryptJob, type DecryptedUpload } from './decrypt-pipeline.js';
import { SpoolFile } from './spool.js';
import { STAGING_SEGMENT_BYTES, StagingPool, type StagedUpdate } from './staging.js';

/** An update that passed every check at the edge, ready to be folded into a round. */
export interface VerifiedUpdate {
  header: UpdateHeader;
  /** The site's report on its training, from the sealed final chunk. */
  report: UpdateReport;
  bytes: number;
  l2Norm: number;
  segments: () => AsyncIterable<UpdateSegment>;
}

/** What the round in progress says about an upload it agreed to receive. */
export interface AdmittedUpload {
  /** The layout the update must have: that of the round's base model. */
  expected: readonly TensorSpec[];
  /** Largest L2 norm accepted for an update, or null for no bound. */
  maxNorm: number | null;
  /** "delta" (float32 weights difference), "masked" (secure aggregation input, uint32) or "soft-labels" (distillation: class probabilities on the transfer set). */
  kind: 'delta' | 'masked' | 'soft-labels';
  accept(update: VerifiedUpdate): Promise<void>;
  /** The upload failed before acceptance; the site may try again while the round is open. */
  release(reason: string): void;
}

export interface UploadGate {
  admit(header: UpdateHeader): AdmittedUpload;
}

/** The keys an upload is checked with: the coordinator's own, and each site's enrolled key. */
export interface IngestKeys {
  coordinator: Identity;
  siteKey(site: string): Uint8Array | undefined;
}

const MAX_EXAMPLES = 1e12;

function checkHeader(header: UpdateHeader, admitted: AdmittedUpload): void {
  const who = `update from site ${header.site} for round ${header.round}`;
  if (header.formatVersion !== TENSOR_FORMAT_VERSION) {
    throw new InvalidUpdateError(`${who} uses tensor format ${header.formatVersion}; this coordinator reads format ${TENSOR_FORMAT_VERSION}. Upgrade the agent or the coordinator so they match`);
  }
  if (header.kind !== admitted.kind) {
    throw new InvalidUpdateError(`${who} is of kind "${header.kind}"; this round takes "${admitted.kind}" updates${admitted.kind === 'masked' ? ' (secure aggregation is on)' : ''}`);
  }
  if (!Number.isInteger(header.numExamples) || header.numExamples < 1 || header.numExamples > MAX_EXAMPLES) {
    throw new InvalidUpdateError(`${who} claims ${header.numExamples} training examples; it must be a positive whole number`);
  }
  const mismatch = describeMismatch(admitted.expected, header.tensors);
  if (mismatch) throw new InvalidUpdateError(`${who} does not match the round's model: ${mismatch}`);
  const expectedBytes = admitted.expected.reduce((n, t) => n + t.byteLength, 0);
  if (header.totalBytes !== expectedBytes) {
    throw new InvalidUpdateError(`${who} announces ${header.totalBytes} bytes; the model has ${expectedBytes}`);
  }
}

/**
 * How many uploads are read at once. Each upload being read holds gRPC's buffered messages (up to
 * 16 MiB); one waiting for a slot has not been read at all, so grpc-js holds only its first
 * message and one flow-control window. Measured before this limit: ~3 MiB of coordinator RSS per
 * concurrent upload, 563 MiB peak for 100 sites x 100 MB. The coordinator is CPU-bound long
 * before 8 streams, so the limit costs no throughput; a site on a slow link holds its slot longer.
 */
export const DEFAULT_UPLOAD_SLOTS = 8;

/**
 * How many uploads may wait for a slot. An agent sends its header, then waits for the slot's
 * go-ahead (UPLOAD_GO_METADATA) before its chunks, so a waiting upload costs little. Before that,
 * HTTP/2 let every sender fill a 16 MiB stream window at once: 500 sites uploading a 4 MiB model
 * together held 2.2 GB in the coordinator (`npm run bench -- --only scale`). The line is still
 * bounded for clients that do not wait: beyond it an upload is turned away unread (UNAVAILABLE,
 * which agents retry with backoff and jitter).
 */
export const DEFAULT_WAITING_UPLOADS = 64;

/** An upload that sends nothing for this long gives its slot up (the agent retries it). */
export const UPLOAD_STALL_MS = 30_000;

/** The next chunk, or a TruncatedStreamError when none comes within `ms`. */
async function nextWithin<T>(iterator: AsyncIterator<T>, ms: number, what: string): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TruncatedStreamError(`${what} sent nothing for ${ms / 1000}s; it was dropped, send it again`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A counting semaphore: `acquire` resolves with the function that gives the slot back. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(count: number) {
    this.free = Math.max(1, count);
  }

  /** Uploads queued for a slot right now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** True when an upload asking now would have to wait. */
  get full(): boolean {
    return this.free === 0;
  }

  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

/**
 * The edge for uploads: reads one UploadUpdate stream (header, data chunks, trailer), checks the
 * round binding, layout, byte count, checksum and that every value is finite, staging the bytes
 * in memory (staging.ts) or a spool file meanwhile. Only an update that passed all of that is
 * handed to the round.
 */
export class UpdateReceiver {
  private readonly slots: Slots;
  /** Uploads turned away because too many were waiting (for logs and tests). */
  turnedAway = 0;

  constructor(
    private readonly gate: UploadGate,
    private readonly keys: IngestKeys,
    private readonly spoolDir: string,
    uploadSlots = DEFAULT_UPLOAD_SLOTS,
    private readonly stallMs = UPLOAD_STALL_MS,
    private readonly waitingUploads = DEFAULT_WAITING_UPLOADS,
    private readonly staging = new StagingPool(),
  ) {
    this.slots = new Slots(uploadSlots);
    this.slotCount = Math.max(1, uploadSlots);
  }

  private readonly slotCount: number;

  /**
   * `onSlot` runs when the upload gets its slot: the service tells the agent to start sending its
   * chunks then (UPLOAD_GO_METADATA), so an upload waiting in line costs its header, not a window.
   */
  async receive(stream: AsyncIterable<UpdateChunk>, onBytes?: (n: number) => void, onSlot?: () => void): Promise<UploadReceipt> {
    if (this.slots.full && this.slots.queued >= this.waitingUploads) {
      this.turnedAway++;
      throw new BusyError(
        `the coordinator is reading ${this.slotCount} uploads and has ${this.slots.queued} more waiting; this one was turned away unread to keep its memory bounded — send it again in a moment (agents retry by themselves)`,
      );
    }
    // The slot is taken before the first read and given back once every byte is in and checked:
    // folding the spooled update into the round then needs no network buffers.
    const freeSlot = await this.slots.acquire();
    try {
      onSlot?.();
      return await this.receiveIn(stream, freeSlot, onBytes);
    } finally {
      freeSlot();
    }
  }

  private async receiveIn(stream: AsyncIterable<UpdateChunk>, freeSlot: () => void, onBytes?: (n: number) => void): Promise<UploadReceipt> {
    const iterator = stream[Symbol.asyncIterator]();
    const first = await nextWithin(iterator, this.stallMs, 'an update stream');
    if (first.done) throw new TruncatedStreamError('update stream ended before its header; nothing was received, send the update again');
    const firstChunk = first.value;
    if (firstChunk.body !== 'header' || !('header' in firstChunk) || !firstChunk.header) {
      throw new InvalidUpdateError(`update stream must start with a header, got "${firstChunk.body ?? 'an empty message'}"`);
    }
    const header = firstChunk.header;
    const who = `update from site ${header.site} for round ${header.round}`;
    if (header.scheme !== SEALING_SCHEME) {
      throw new InvalidUpdateError(`${who} is not sealed with ${SEALING_SCHEME} (it says "${header.scheme}"); every update must be encrypted and signed, upgrade the agent`);
    }
    const siteKey = this.keys.siteKey(header.site);
    if (!siteKey) throw new UnknownSiteError(`${who}: site ${header.site} has no enrolled key; nothing from it is accepted`);
    // The header signature is checked before the round hears of the upload, so a forger cannot
    // even hold the real site's upload slot.
    const opener = new UpdateOpener(this.keys.coordinator, siteKey, header, new Uint8Array(header.sealedKey), new Uint8Array(header.headerSignature));
    const admitted = this.gate.admit(header);
    let spool: SpoolFile | null = null;
    let staged: StagedUpdate | null = null;
    let job: DecryptJob | null = null;
    let accepted = false;
    try {
      checkHeader(header, admitted);
      // The plaintext waits in shared memory while the staging budget has room, else in a spool file.
      staged = header.totalBytes % 4 === 0 ? this.staging.reserve(header.totalBytes) : null;
      if (!staged) spool = await SpoolFile.reserve(this.spoolDir, `r${header.round}-${header.site}`);
      const target = staged ? { segments: [...staged.segments], segmentBytes: STAGING_SEGMENT_BYTES } : { path: spool!.path };
      // Decryption, the finite scan and staging run on the ingest worker; this loop only reads.
      job = new DecryptJob({ ...opener.secret, who, target, tensors: admitted.kind !== 'masked' ? admitted.expected : null });
      let received = 0;
      let chunks = 0;
      let result: DecryptedUpload | null = null;
      let report: UpdateReport | null = null;
      for (;;) {
        const next = await nextWithin(iterator, this.stallMs, who);
        if (next.done) break;
        const chunk = next.value;
        if (report) throw new InvalidUpdateError(`${who} has data after its trailer`);
        if (chunk.body === 'data' && 'data' in chunk) {
          if (chunk.data.length < TAG_BYTES) throw new InvalidUpdateError(`${who} has chunk ${chunks} shorter than its authentication tag`);
          if (received + chunk.data.length - TAG_BYTES > header.totalBytes) {
            throw new InvalidUpdateError(`${who} sends more than the ${header.totalBytes} bytes it announced`);
          }
          const length = chunk.data.length;
          await job.push(chunk.data); // may hand the chunk's buffer to the worker: not readable after
          chunks++;
          received += length - TAG_BYTES;
          onBytes?.(length);
        } else if (chunk.body === 'trailer' && 'trailer' in chunk) {
          if (received < header.totalBytes) {
            throw new TruncatedStreamError(`${who} ended after ${received} of ${header.totalBytes} bytes; it was discarded, send it again`);
          }
          const trailer = chunk.trailer;
          result = await job.finish(new Uint8Array(trailer.sealedFinal));
          opener.verifyFinal(result.tagChain, result.chunks, trailer.chunks, new Uint8Array(trailer.signature));
          report = parseReport(result.report, who);
        } else {
          throw new InvalidUpdateError(`${who} has a second header (or an empty message) after its start`);
        }
      }
      if (received < header.totalBytes) {
        throw new TruncatedStreamError(`${who} ended after ${received} of ${header.totalBytes} bytes; it was discarded, send it again`);
      }
      if (!report || !result) throw new TruncatedStreamError(`${who} ended without its signed trailer; it was discarded, send it again`);
      if (result.problem) throw new InvalidUpdateError(`${who} is not finite: ${result.problem}. Check the site's training (learning rate, data scaling)`);
      const l2Norm = result.l2Norm;
      if (admitted.kind === 'delta' && admitted.maxNorm !== null && l2Norm > admitted.maxNorm) {
        throw new InvalidUpdateError(`${who} has L2 norm ${l2Norm.toPrecision(4)}, above the federation's bound of ${admitted.maxNorm}`);
      }
      await spool?.close();
      freeSlot();
      const ready = staged ?? spool!;
      await admitted.accept({
        header,
        report,
        bytes: received,
        l2Norm,
        segments: () => ('values' in ready ? ready.values() : ready.segments()),
      });
      accepted = true;
      return { accepted: true, round: header.round, bytes: received, message: `update from ${header.site} accepted for round ${header.round}` };
    } catch (err) {
      if (!accepted) admitted.release(err instanceof Error ? err.message : String(err));
      throw err;
    } finally {
      job?.close();
      await spool?.discard();
      // Safe even if chunks of a failed upload are still queued in the worker: it takes messages
      // in order, so the next upload that gets these segments overwrites whatever they write.
      staged?.release();
    }
  }
}

/** The sealed final chunk: the site's report as JSON, checked field by field. */
function parseReport(plain: Uint8Array, who: string): UpdateReport {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(plain).toString('utf8'));
  } catch {
    throw new InvalidUpdateError(`${who} has a final chunk that is not the JSON report it should be`);
  }
  const r = value as Partial<UpdateReport> | null;
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  if (!r || typeof r !== 'object' || !finite(r.trainLoss) || !finite(r.epochs) || !finite(r.seconds) || typeof r.metrics !== 'object' || r.metrics === null) {
    throw new InvalidUpdateError(`${who} has a report without trainLoss, epochs, seconds and metrics as numbers`);
  }
  for (const [name, v] of Object.entries(r.metrics)) {
    if (typeof v !== 'number') throw new InvalidUpdateError(`${who} reports metric ${name} that is not a number`);
  }
  return { metrics: r.metrics, trainLoss: r.trainLoss!, epochs: r.epochs!, seconds: r.seconds! };
}
