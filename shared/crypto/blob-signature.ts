import { sign, verify, type Identity } from './keys.js';
import { transcript } from './transcript.js';

/**
 * What a blob download claims (federated distillation's transfer set, a round's aggregated soft
 * labels): the coordinator signs it, the agent checks it before using the bytes, as for a model.
 */
export interface BlobClaim {
  federation: string;
  kind: string;
  sha256: string;
  totalBytes: number;
}

function claimTranscript(c: BlobClaim): Uint8Array {
  return transcript('medley-blob-v1', [c.federation, c.kind, c.sha256, c.totalBytes]);
}

export function signBlob(coordinator: Identity, claim: BlobClaim): Uint8Array {
  return sign(coordinator, claimTranscript(claim));
}

export function verifyBlob(coordinatorPublicKey: Uint8Array, claim: BlobClaim, signature: Uint8Array): boolean {
  return verify(coordinatorPublicKey, claimTranscript(claim), signature);
}
