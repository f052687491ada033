/**
 * The protocol's messages as plain data, for the transport to map to protobuf. The coordinator
 * relays all of them; none carries anything it can use to read a site's update.
 */

/** Round 0, site -> coordinator -> all: a site's fresh per-round public keys, signed by its identity. */
export interface AdvertisedKeys {
  site: string;
  /** X25519 public key that shares sent to this site are encrypted to. */
  cPublicKey: Uint8Array;
  /** X25519 public key from which pairwise mask seeds are agreed. */
  sPublicKey: Uint8Array;
  /** Ed25519, by the site's long-term identity key, over (federation, round, site, cPublicKey, sPublicKey). */
  signature: Uint8Array;
}

/**
 * Round 1, site -> coordinator -> `to`: `from`'s Shamir shares of its s secret key and of its
 * self-mask seed, at `to`'s x coordinate, readable by `to` alone.
 */
export interface EncryptedShare {
  from: string;
  to: string;
  /** 24-byte random nonce, then XChaCha20-Poly1305 ciphertext and tag. */
  ciphertext: Uint8Array;
}

/**
 * Round 3, coordinator -> survivors: whose masked inputs were summed (survivors) and which sites
 * sent shares but no masked input (dropped).
 */
export interface UnmaskRequest {
  survivors: string[];
  dropped: string[];
}

/**
 * Round 3, survivor -> coordinator: the share it holds of `of`'s self-mask seed (`of` survived)
 * or of `of`'s s secret key (`of` dropped), never both for one site.
 */
export interface RevealedShare {
  of: string;
  kind: 'self' | 'pairwise';
  /** The revealing site's x coordinate. */
  x: number;
  y: Uint8Array;
}
