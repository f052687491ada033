/**
 * The round cannot complete: too few sites are left (or too few answered) to reach the threshold,
 * or the revealed shares do not reconstruct consistent keys. The coordinator fails the round; no
 * partial or unmasked result exists to salvage.
 */
export class SecAggAbortError extends Error {
  override readonly name = 'SecAggAbortError';
}

/**
 * A message broke the protocol: a bad signature, a share that does not decrypt, a request a site
 * must refuse. The message is rejected; whether the round can still finish depends on who is left.
 */
export class SecAggProtocolError extends Error {
  override readonly name = 'SecAggProtocolError';
}
