/**
 * An evaluation summary leaves a site the way an update does: sealed to the coordinator's key,
 * signed with the site's, bound to (federation, round, task, site, session, model version). It
 * reuses the update's sealing with no data chunks, the body in the final sealed message and kind
 * "evaluation" in the signed binding, so neither can be passed off as the other.
 */
import { InvalidUpdateError, TENSOR_FORMAT_VERSION, type SealedEvaluation, type UpdateHeader } from '../wire/index.js';
import type { Identity } from './keys.js';
import { SEALING_SCHEME, UpdateOpener, UpdateSealer, type UpdateBinding } from './sealed-update.js';

export const EVALUATION_KIND = 'evaluation';

/** Largest sealed body accepted: a summary is tens of KiB; anything near this is not one. */
export const MAX_EVALUATION_BYTES = 4 * 1024 * 1024;

export interface EvaluationBinding {
  federation: string;
  round: number;
  taskId: string;
  site: string;
  sessionId: string;
  modelVersion: number;
  /** Validation images the summary covers. */
  examples: number;
}

function updateBinding(b: EvaluationBinding): UpdateBinding {
  return {
    federation: b.federation,
    round: b.round,
    taskId: b.taskId,
    site: b.site,
    sessionId: b.sessionId,
    baseVersion: b.modelVersion,
    numExamples: b.examples,
    tensors: [],
    totalBytes: 0,
    kind: EVALUATION_KIND,
    formatVersion: TENSOR_FORMAT_VERSION,
  };
}

/** Seals `body` for the coordinator; sha256 and bytes describe the sealed body, for the site's audit log. */
export function sealEvaluation(site: Identity, coordinatorPublicKey: Uint8Array, binding: EvaluationBinding, body: Uint8Array): { message: SealedEvaluation; sha256: string; bytes: number } {
  const plain = updateBinding(binding);
  const sealer = new UpdateSealer(site, coordinatorPublicKey, plain);
  const sealed = sealer.finish(body);
  const header: UpdateHeader = { ...plain, scheme: SEALING_SCHEME, sealedKey: sealer.sealedKey, headerSignature: sealer.headerSignature };
  return { message: { header, sealedBody: sealed.ciphertext, signature: sealed.signature }, sha256: sealed.sha256, bytes: sealed.bytes };
}

/**
 * Checks the site's signatures and opens the body. Throws AuthenticationError for a signature
 * that does not verify (an altered header, a forged site) and InvalidUpdateError for anything
 * malformed or altered in transit.
 */
export function openEvaluation(coordinator: Identity, sitePublicKey: Uint8Array, message: SealedEvaluation): { binding: EvaluationBinding; body: Uint8Array } {
  const h = message.header;
  if (!h) throw new InvalidUpdateError('an evaluation must carry its header');
  const who = `evaluation from site ${h.site} for round ${h.round}`;
  if (h.scheme !== SEALING_SCHEME) throw new InvalidUpdateError(`${who} is not sealed with ${SEALING_SCHEME}; upgrade the agent`);
  if (h.kind !== EVALUATION_KIND || (h.tensors ?? []).length > 0 || h.totalBytes !== 0) {
    throw new InvalidUpdateError(`${who} has a header of kind "${h.kind}" with ${(h.tensors ?? []).length} tensors; an evaluation has kind "${EVALUATION_KIND}" and no tensors`);
  }
  if (h.formatVersion !== TENSOR_FORMAT_VERSION) throw new InvalidUpdateError(`${who} uses format ${h.formatVersion}; this coordinator reads ${TENSOR_FORMAT_VERSION}`);
  if (!Number.isInteger(h.numExamples) || h.numExamples < 1) throw new InvalidUpdateError(`${who} claims ${h.numExamples} validation images; it must be a positive whole number`);
  const sealedBody = new Uint8Array(message.sealedBody ?? []);
  if (sealedBody.byteLength > MAX_EVALUATION_BYTES) throw new InvalidUpdateError(`${who} is ${sealedBody.byteLength} bytes, above the ${MAX_EVALUATION_BYTES} an evaluation summary may take`);
  const binding: EvaluationBinding = {
    federation: h.federation,
    round: h.round,
    taskId: h.taskId,
    site: h.site,
    sessionId: h.sessionId,
    modelVersion: h.baseVersion,
    examples: h.numExamples,
  };
  const opener = new UpdateOpener(coordinator, sitePublicKey, updateBinding(binding), new Uint8Array(h.sealedKey ?? []), new Uint8Array(h.headerSignature ?? []));
  const body = opener.finish(sealedBody, new Uint8Array(message.signature ?? []), 1);
  return { binding, body };
}
