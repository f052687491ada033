import { createHash } from 'node:crypto';
import type { TensorSpec } from '../wire/index.js';
import { sign, verify, type Identity } from './keys.js';
import { transcript } from './transcript.js';

/** What a model download claims; the coordinator signs it, the agent checks before training. */
export interface ModelClaim {
  federation: string;
  version: number;
  sha256: string;
  totalBytes: number;
  topologyJson: string;
  specJson: string;
  tensors: readonly TensorSpec[];
}

function claimTranscript(c: ModelClaim): Uint8Array {
  const text = (s: string) => new Uint8Array(createHash('sha256').update(s, 'utf8').digest());
  const layout = c.tensors.flatMap((t) => [t.name, t.dtype, t.shape.join('x'), t.offset, t.byteLength]);
  return transcript('medley-model-v1', [c.federation, c.version, c.sha256, c.totalBytes, text(c.topologyJson), text(c.specJson), c.tensors.length, ...layout]);
}

export function signModel(coordinator: Identity, claim: ModelClaim): Uint8Array {
  return sign(coordinator, claimTranscript(claim));
}

export function verifyModel(coordinatorPublicKey: Uint8Array, claim: ModelClaim, signature: Uint8Array): boolean {
  return verify(coordinatorPublicKey, claimTranscript(claim), signature);
}
