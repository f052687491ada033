import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { AGGREGATE_KIND, decodeDistillPayload, TRANSFER_SET_KIND, type BlobRef } from '../../shared/distill/index.js';
import { isRetryable, type Task } from '../../shared/wire/index.js';
import { Backoff, sleep } from '../connection/backoff.js';
import type { CoordinatorClient, DownloadedModel } from '../connection/coordinator-client.js';
import type { SessionGate } from '../connection/session-gate.js';
import type { Trainer, TrainingOutcome, TrainingProgress } from '../trainer/trainer.js';

export const DISTILL_METHOD = 'distill';

export interface DistillTaskDeps {
  site: string;
  client: CoordinatorClient;
  trainer: Trainer;
  liveSession: SessionGate;
  /** Where downloaded blobs are kept by SHA-256 (the agent's state folder); absent: nothing is cached on disk. */
  cacheDir?: string;
  progress: (phase: string, fields: { bytes?: number; totalBytes?: number; message?: string }) => void;
  log: (message: string) => void;
  random: () => number;
}

/**
 * A distill task up to its outcome: read the round's payload, fetch the transfer set and the last
 * aggregate (from the cache when this site has them already), and have the trainer train the
 * site's own model and label the transfer set. The agent then seals and uploads the soft labels as
 * it does a weight update.
 */
export async function distillOutcome(task: Task, global: DownloadedModel, onProgress: (p: TrainingProgress) => void, signal: AbortSignal, deps: DistillTaskDeps): Promise<TrainingOutcome> {
  const distill = deps.trainer.distill;
  if (!distill) throw new Error(`this site's trainer (${deps.trainer.backend}) cannot run federated distillation`);
  const payload = decodeDistillPayload(task.methodPayload);
  const t = payload.transfer;
  const transferBytes = await fetchBlob(task, t, TRANSFER_SET_KIND, signal, deps);
  const aggregateBytes = payload.aggregate ? await fetchBlob(task, payload.aggregate, AGGREGATE_KIND, signal, deps) : null;
  const transfer = { images: floats(transferBytes), count: t.count, height: t.height, width: t.width, channels: t.channels };
  return distill.call(deps.trainer, { payload, transfer, aggregate: aggregateBytes ? floats(aggregateBytes) : null, global }, task, onProgress, signal);
}

function floats(bytes: Uint8Array): Float32Array {
  // A fresh copy is aligned whatever the download's buffer was.
  const copy = new Uint8Array(bytes);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

/** A blob by its SHA-256: from the cache when it is there and intact, else downloaded (resuming after a drop) and cached. */
async function fetchBlob(task: Task, ref: BlobRef, kind: string, signal: AbortSignal, deps: DistillTaskDeps): Promise<Uint8Array> {
  const cached = deps.cacheDir ? join(deps.cacheDir, `${ref.sha256}.bin`) : null;
  if (cached) {
    const bytes = await readFile(cached).catch(() => null);
    if (bytes && bytes.byteLength === ref.bytes && createHash('sha256').update(bytes).digest('hex') === ref.sha256) return new Uint8Array(bytes);
  }
  let resume: { sha256: string; bytes: Uint8Array; received: number } | undefined;
  const backoff = new Backoff(deps.random, 200, 5_000);
  for (;;) {
    signal.throwIfAborted();
    const sessionId = await deps.liveSession.wait(signal, task.deadlineUnixMs);
    try {
      const bytes = await deps.client.downloadBlob({ federation: task.federation, site: deps.site, sessionId, sha256: ref.sha256, kind }, (received, total) => {
        if (received === total || received % (16 << 20) < (1 << 20)) deps.progress('downloading', { bytes: received, totalBytes: total, message: kind });
      }, resume);
      if (bytes.byteLength !== ref.bytes) throw new Error(`${kind} ${ref.sha256} has ${bytes.byteLength} bytes; the task said ${ref.bytes}`);
      if (cached && deps.cacheDir) {
        await mkdir(deps.cacheDir, { recursive: true });
        const tmp = `${cached}.tmp-${process.pid}`;
        await writeFile(tmp, bytes);
        await rename(tmp, cached);
      }
      return bytes;
    } catch (err) {
      if ((!isRetryable(err) && !deps.liveSession.outlived(sessionId)) || Date.now() > task.deadlineUnixMs) throw err;
      resume = (err as { resume?: typeof resume }).resume ?? resume;
      deps.log(`${kind} download interrupted (${(err as Error).message}); resuming from byte ${resume?.received ?? 0}`);
      await sleep(backoff.nextDelayMs(), signal);
    }
  }
}
