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
const PROBE_SCALAR = new Uint8Array(KEY_BYTES).fill(0x42);

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
  // X25519 with any (clamped, so cofactor-multiple) scalar sends exactly those points to zero.
  for (const key of [keys.cPublicKey, keys.sPublicKey]) {
    try {
      sodiumNow().crypto_scalarmult(PROBE_SCALAR, key);
    } catch {
      throw new SecAggProtocolError(`advertised keys of site ${keys.site} include an unusable (low-order) X25519 key`);
    }
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
