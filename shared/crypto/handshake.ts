import { randomBytes } from 'node:crypto';
import { sign, verify, type Identity } from './keys.js';
import { transcript } from './transcript.js';

/**
 * Mutual challenge-response on every connection. Both nonces are fresh, and the transcript names
 * the federation, the site and the coordinator's key, so a recorded handshake proves nothing on a
 * new connection and a proof made for one coordinator is useless at another.
 */
export interface HandshakeTerms {
  federation: string;
  site: string;
  coordinatorPublicKey: Uint8Array;
  clientNonce: Uint8Array;
  serverNonce: Uint8Array;
}

export const NONCE_BYTES = 32;

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

function terms(role: 'coordinator' | 'site', t: HandshakeTerms): Uint8Array {
  return transcript(`medley-handshake-${role}-v1`, [t.federation, t.site, t.coordinatorPublicKey, t.clientNonce, t.serverNonce]);
}

/** The coordinator's half: proves to the agent that it holds the key the agent pinned. */
export function signAsCoordinator(coordinator: Identity, t: HandshakeTerms): Uint8Array {
  return sign(coordinator, terms('coordinator', t));
}

export function verifyCoordinator(t: HandshakeTerms, signature: Uint8Array): boolean {
  return verify(t.coordinatorPublicKey, terms('coordinator', t), signature);
}

/** The site's half: proves to the coordinator that it holds the enrolled site key. */
export function signAsSite(site: Identity, t: HandshakeTerms): Uint8Array {
  return sign(site, terms('site', t));
}

export function verifySite(sitePublicKey: Uint8Array, t: HandshakeTerms, signature: Uint8Array): boolean {
  return verify(sitePublicKey, terms('site', t), signature);
}
