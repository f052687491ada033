import { sodiumNow } from '../crypto/sodium.js';
import { transcript } from '../crypto/transcript.js';
import { SecAggProtocolError } from './errors.js';
import type { SecAggContext } from './params.js';

/** X25519, with libsodium's refusal of low-order points turned into a protocol error naming the peer. */
export function agree(secretKey: Uint8Array, peerPublicKey: Uint8Array, peer: string): Uint8Array {
  try {
    return sodiumNow().crypto_scalarmult(secretKey, peerPublicKey);
  } catch (error) {
    throw new SecAggProtocolError(`key agreement with site ${peer} failed (${(error as Error).message}): its advertised key is unusable`);
  }
}

/**
 * The seed of the mask shared by sites a and b: both compute the same X25519 value from their own s
 * secret key and the other's s public key, and hash it with the round and the two names in sorted
 * order, so the seed is the same from both ends and never reused across rounds or pairs.
 */
export function pairwiseSeed(context: SecAggContext, me: string, sSecretKey: Uint8Array, other: string, otherSPublicKey: Uint8Array): Uint8Array {
  const shared = agree(sSecretKey, otherSPublicKey, other);
  const [low, high] = me < other ? [me, other] : [other, me];
  const seed = transcript('medley/secagg/v1/pairwise-mask', [context.federation, context.round, low, high, shared]);
  shared.fill(0);
  return seed;
}

/**
 * The sign with which `me` adds the mask it shares with `other`: the lower-named site adds it and
 * the higher-named one subtracts it, so the pair cancels in the sum when both survive.
 */
export function pairwiseSign(me: string, other: string): 1 | -1 {
  return me < other ? 1 : -1;
}
