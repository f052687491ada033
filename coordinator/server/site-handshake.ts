import { newNonce, signAsCoordinator, verifySite, type HandshakeTerms, type Identity } from '../../shared/crypto/index.js';
import { AuthenticationError, InvalidUpdateError, PROTOCOL_VERSION, UnknownSiteError, type CoordinatorMessage, type Hello } from '../../shared/wire/index.js';
import type { SiteRegistry } from '../store/index.js';

/**
 * The coordinator's half of the site handshake (hello -> challenge -> proof -> welcome), the same
 * on the gRPC session stream and over NATS request/reply.
 */
export interface PendingHandshake {
  terms: HandshakeTerms;
  siteKey: Uint8Array;
  hello: Hello;
}

/** How long an agent has to answer the challenge. */
export const PROOF_TIMEOUT_MS = 20_000;

export function notOnList(site: string): UnknownSiteError {
  return new UnknownSiteError(
    `site "${site}" is not on this federation's site list (or has no enrolled key); the coordinator's operator can add it with \`medley site add --dir STATE --name ${site} --public-key KEY\``,
  );
}

/** Checks a hello and answers with a challenge signed over both nonces; throws for a site that may not join. */
export function challengeHello(
  hello: Hello,
  deps: { federation: string; registry: SiteRegistry; identity: Identity },
): { pending: PendingHandshake; challenge: CoordinatorMessage } {
  if (hello.protocolVersion !== PROTOCOL_VERSION) {
    throw new InvalidUpdateError(`agent speaks protocol ${hello.protocolVersion}, this coordinator ${PROTOCOL_VERSION}; upgrade the older side`);
  }
  const siteKey = deps.registry.publicKeyOf(hello.site);
  if (!siteKey) throw notOnList(hello.site);
  if (hello.clientNonce.byteLength !== 32) throw new AuthenticationError('hello carries no 32-byte client nonce; upgrade the agent');
  const terms: HandshakeTerms = {
    federation: deps.federation,
    site: hello.site,
    coordinatorPublicKey: deps.identity.signPublicKey,
    clientNonce: new Uint8Array(hello.clientNonce),
    serverNonce: newNonce(),
  };
  return {
    pending: { terms, siteKey, hello },
    challenge: {
      challenge: {
        federation: deps.federation,
        serverNonce: terms.serverNonce,
        coordinatorPublicKey: deps.identity.signPublicKey,
        signature: signAsCoordinator(deps.identity, terms),
      },
    } as CoordinatorMessage,
  };
}

/** Throws unless the proof is the enrolled site key's signature over the pending terms. */
export function checkProof(pending: PendingHandshake, signature: Uint8Array): void {
  if (!verifySite(pending.siteKey, pending.terms, signature)) {
    throw new AuthenticationError(
      `site ${pending.terms.site} failed the challenge: its signature does not verify with the key enrolled for it (a different key, or a replayed handshake)`,
    );
  }
}
