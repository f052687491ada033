/**
 * What a distillation round's task carries in Task.method_payload (JSON): where the transfer set
 * and the previous aggregate are (content addresses the agent downloads with DownloadBlob and
 * caches by SHA-256), and the layout of the soft labels the site must send back.
 */
export interface BlobRef {
  sha256: string;
  bytes: number;
}

/** The transfer set: public, unlabelled images, float32 NHWC in [0, 1]. */
export interface TransferRef extends BlobRef {
  count: number;
  height: number;
  width: number;
  channels: number;
}

export interface DistillPayload {
  format: 1;
  transfer: TransferRef;
  /** The last distillation round's aggregated soft labels (rows x classes float32); null in the first. */
  aggregate: (BlobRef & { round: number }) | null;
  /** What the soft labels are of: class probabilities per image, or per-pixel foreground probabilities. */
  task: DistillTask;
  /** Soft-label rows the site sends: images (classification) or images x pixels (segmentation). */
  rows: number;
  /** Columns of each row (the class count; 2 for a segmentation mask: background, foreground). */
  classes: number;
}

export type DistillTask = 'classification' | 'segmentation';

export const TRANSFER_SET_KIND = 'transfer-set';
export const AGGREGATE_KIND = 'soft-label-aggregate';
/** The one tensor of a soft-label update. */
export const SOFT_LABEL_TENSOR = 'soft_labels';

export function encodeDistillPayload(payload: DistillPayload): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(payload), 'utf8'));
}

/** Parses and checks a task's distillation payload; throws an Error naming what is wrong. */
export function decodeDistillPayload(bytes: Uint8Array | undefined): DistillPayload {
  if (!bytes || bytes.byteLength === 0) throw new Error('a distill task must carry its method payload (transfer set and soft-label layout); the coordinator sent none');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new Error('the distill task\'s method payload is not JSON; upgrade the agent or the coordinator so they match');
  }
  const p = value as Partial<DistillPayload> | null;
  const whole = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
  const ref = (r: unknown) => !!r && typeof (r as BlobRef).sha256 === 'string' && /^[0-9a-f]{64}$/.test((r as BlobRef).sha256) && whole((r as BlobRef).bytes);
  const t = p?.transfer;
  if (!p || p.format !== 1 || !ref(t) || !whole(t!.count) || !whole(t!.height) || !whole(t!.width) || !whole(t!.channels)) {
    throw new Error('the distill task\'s payload lacks a valid transfer set reference (format 1: sha256, bytes, count, height, width, channels)');
  }
  if (t!.bytes !== t!.count * t!.height * t!.width * t!.channels * 4) throw new Error(`the transfer set reference says ${t!.bytes} bytes, not ${t!.count} float32 images of ${t!.height}x${t!.width}x${t!.channels}`);
  if (p.task !== 'classification' && p.task !== 'segmentation') throw new Error(`the distill task's payload names task ${String(p.task)}; distillation takes classification or segmentation`);
  if (!whole(p.rows) || !whole(p.classes)) throw new Error('the distill task\'s payload lacks the soft-label layout (rows, classes)');
  if (p.aggregate !== null && (!ref(p.aggregate) || !Number.isSafeInteger(p.aggregate!.round) || p.aggregate!.bytes !== p.rows! * p.classes! * 4)) {
    throw new Error('the distill task\'s payload has an aggregate reference that does not match its soft-label layout');
  }
  return p as DistillPayload;
}
