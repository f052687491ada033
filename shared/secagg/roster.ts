import { transcript } from '../crypto/transcript.js';
import { sodiumNow } from '../crypto/sodium.js';
import { SecAggProtocolError } from './errors.js';
import type { AdvertisedKeys } from './messages.js';
import type { SecAggContext } from './params.js';
import { MAX_SHARES } from './shamir.js';

/**
 * The round's roster: the signed per-round keys of the sites taking part, and the Shamir x
 * coordinate each one holds. Client and coordinator derive both the same way from the same list.
 */

export const KEY_BYTES = 32;

/**
 * The encodings of the X25519 points of small order (1, 2, 4 or 8), compared with the top bit
 * cleared as X25519 ignores it: 0, 1, the two points of order 8, p - 1, p and p + 1. This is the
 * list libsodium's crypto_scalarmult checks before it multiplies, copied byte for byte (and
 * checked against it in roster.test.ts). Every other point has a large prime-order component, so
 * this is exactly the set on which a clamped (multiple-of-8) scalar gives zero: the same verdict
 * as probing each key with crypto_scalarmult, without two scalar multiplications (~0.3 ms each
 * in WebAssembly) per roster entry, per site.
 */
const LOW_ORDER_POINTS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((hex) => Buffer.from(hex, 'hex'));

/** Whether a 32-byte X25519 public key is a point of small order (so every agreement with it fails). */
export function isLowOrderKey(key: Uint8Array): boolean {
  return LOW_ORDER_POINTS.some((point) => {
    let diff = (key[31] & 0x7f) ^ point[31];
    for (let i = 0; i < 31; i++) diff |= key[i] ^ point[i];
    return diff === 0;
  });
}

/** Plain code-unit order, the same in every runtime (no locale), for x coordinates and mask signs. */
export function compareSites(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function advertisementDigest(context: SecAggContext, site: string, cPublicKey: Uint8Array, sPublicKey: Uint8Array): Uint8Array {
  return transcript('medley/secagg/v1/advertised-keys', [context.federation, context.round, site, cPublicKey, sPublicKey]);
}

/** Throws naming the site unless its keys are well formed and signed by its enrolled identity key. */
export function verifyAdvertisement(keys: AdvertisedKeys, context: SecAggContext, identityKeyOf: (site: string) => Uint8Array | undefined): void {
  if (typeof keys.site !== 'string' || keys.site.length === 0) throw new SecAggProtocolError('advertised keys name no site');
  if (keys.cPublicKey?.length !== KEY_BYTES || keys.sPublicKey?.length !== KEY_BYTES) {
    throw new SecAggProtocolError(`advertised keys of site ${keys.site} are not ${KEY_BYTES}-byte X25519 public keys`);
  }
  // A low-order point makes every agreement with the site fail; better refused now than mid-round.
  if (isLowOrderKey(keys.cPublicKey) || isLowOrderKey(keys.sPublicKey)) {
    throw new SecAggProtocolError(`advertised keys of site ${keys.site} include an unusable (low-order) X25519 key`);
  }
  const identityKey = identityKeyOf(keys.site);
  if (!identityKey || identityKey.length !== KEY_BYTES) throw new SecAggProtocolError(`no identity key is known for site ${keys.site}: it is not enrolled in federation ${context.federation}`);
  const digest = advertisementDigest(context, keys.site, keys.cPublicKey, keys.sPublicKey);
  let valid = false;
  try {
    valid = keys.signature?.length === 64 && sodiumNow().crypto_sign_verify_detached(keys.signature, digest, identityKey);
  } catch {
    valid = false;
  }
  if (!valid) throw new SecAggProtocolError(`advertised keys of site ${keys.site} do not carry a valid signature by its identity key for ${context.federation} round ${context.round}`);
}

export function checkRosterSize(count: number): void {
  if (count > MAX_SHARES) throw new SecAggProtocolError(`secure aggregation supports at most ${MAX_SHARES} sites per round, the roster has ${count}`);
}

/** Sorted by site, with x = 1..n in that order; throws on a repeated site. */
export function orderRoster(roster: readonly AdvertisedKeys[]): { entries: AdvertisedKeys[]; xOf: Map<string, number> } {
  const entries = [...roster].sort((a, b) => compareSites(a.site, b.site));
  const xOf = new Map<string, number>();
  entries.forEach((entry, index) => {
    if (xOf.has(entry.site)) throw new SecAggProtocolError(`site ${entry.site} appears more than once in the roster`);
    xOf.set(entry.site, index + 1);
  });
  return { entries, xOf };
}
