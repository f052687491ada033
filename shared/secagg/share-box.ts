import { sodiumNow } from '../crypto/sodium.js';
import { transcript } from '../crypto/transcript.js';
import { SecAggProtocolError } from './errors.js';
import type { SecAggContext } from './params.js';

/**
 * Encryption of one site's pair of Shamir shares to another site, so the coordinator that relays
 * them learns nothing. The key comes from X25519 between the sender's and recipient's c keys,
 * hashed with both public keys (sender first); the associated data binds the round and both
 * names, so a share cannot be replayed to another round or passed off as from another site.
 *
 * Both functions take that X25519 value (`agree(own c secret key, peer's c public key)`) rather
 * than the secret key: a site seals to and opens from the same peers, so it computes each value
 * once per round instead of twice (each is ~0.3 ms of WebAssembly). The caller wipes it.
 */

export const NONCE_BYTES = 24;
export const SHARE_BYTES = 32;
const PLAINTEXT_BYTES = 1 + 2 * SHARE_BYTES;

/** What `to` holds of `from`'s secrets: shares at `to`'s x coordinate. */
export interface SharePair {
  x: number;
  /** Share of `from`'s s secret key: revealed only if `from` drops. */
  sKeyShare: Uint8Array;
  /** Share of `from`'s self-mask seed: revealed only if `from` survives. */
  selfSeedShare: Uint8Array;
}

interface Party {
  site: string;
  cPublicKey: Uint8Array;
}

function shareKey(shared: Uint8Array, from: Party, to: Party): Uint8Array {
  return transcript('medley/secagg/v1/share-key', [shared, from.cPublicKey, to.cPublicKey]);
}

function associatedData(context: SecAggContext, from: string, to: string): Uint8Array {
  return transcript('medley/secagg/v1/share-ad', [context.federation, context.round, from, to]);
}

export function sealShares(context: SecAggContext, from: Party, shared: Uint8Array, to: Party, pair: SharePair): Uint8Array {
  const sodium = sodiumNow();
  const key = shareKey(shared, from, to);
  const plaintext = new Uint8Array(PLAINTEXT_BYTES);
  plaintext[0] = pair.x;
  plaintext.set(pair.sKeyShare, 1);
  plaintext.set(pair.selfSeedShare, 1 + SHARE_BYTES);
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, associatedData(context, from.site, to.site), null, nonce, key);
  plaintext.fill(0);
  key.fill(0);
  const out = new Uint8Array(NONCE_BYTES + sealed.length);
  out.set(nonce);
  out.set(sealed, NONCE_BYTES);
  return out;
}

/** Decrypts a share pair from `from`; throws naming the sender if it was tampered with or misaddressed. */
export function openShares(context: SecAggContext, from: Party, to: Party, shared: Uint8Array, ciphertext: Uint8Array): SharePair {
  const sodium = sodiumNow();
  const key = shareKey(shared, from, to);
  let plaintext: Uint8Array;
  try {
    if (!(ciphertext instanceof Uint8Array) || ciphertext.length < NONCE_BYTES) throw new Error('too short');
    plaintext = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      ciphertext.subarray(NONCE_BYTES),
      associatedData(context, from.site, to.site),
      ciphertext.subarray(0, NONCE_BYTES),
      key,
    );
  } catch {
    throw new SecAggProtocolError(`the key share from site ${from.site} to site ${to.site} does not decrypt: it was altered in transit or not encrypted for this round`);
  } finally {
    key.fill(0);
  }
  if (plaintext.length !== PLAINTEXT_BYTES) throw new SecAggProtocolError(`the key share from site ${from.site} has ${plaintext.length} bytes, expected ${PLAINTEXT_BYTES}`);
  return {
    x: plaintext[0],
    sKeyShare: plaintext.slice(1, 1 + SHARE_BYTES),
    selfSeedShare: plaintext.slice(1 + SHARE_BYTES),
  };
}
