import { beforeAll, describe, expect, it } from 'vitest';
import { NONCE_BYTES, newNonce, signAsCoordinator, signAsSite, verifyCoordinator, verifySite, type HandshakeTerms } from './handshake.js';
import { generateIdentity, type Identity } from './keys.js';
import { loadSodium } from './sodium.js';

let coordinator: Identity;
let otherCoordinator: Identity;
let site: Identity;
let otherSite: Identity;
let terms: HandshakeTerms;

beforeAll(async () => {
  await loadSodium();
  coordinator = await generateIdentity('coordinator');
  otherCoordinator = await generateIdentity('coordinator-2');
  site = await generateIdentity('site-a');
  otherSite = await generateIdentity('site-b');
  terms = {
    federation: 'fed-chest-xray',
    site: 'site-a',
    coordinatorPublicKey: coordinator.signPublicKey,
    clientNonce: newNonce(),
    serverNonce: newNonce(),
  };
});

/** Every way a recorded proof could be presented on other terms. */
function variants(t: HandshakeTerms): [string, HandshakeTerms][] {
  return [
    ['a new client nonce', { ...t, clientNonce: newNonce() }],
    ['a new server nonce', { ...t, serverNonce: newNonce() }],
    ['the nonces swapped', { ...t, clientNonce: t.serverNonce, serverNonce: t.clientNonce }],
    ['another site name', { ...t, site: 'site-b' }],
    ['another coordinator key', { ...t, coordinatorPublicKey: otherCoordinator.signPublicKey }],
    ['another federation', { ...t, federation: 'fed-ct' }],
  ];
}

describe('handshake', () => {
  it('makes fresh 32-byte nonces', () => {
    const a = newNonce();
    const b = newNonce();
    expect(a.byteLength).toBe(NONCE_BYTES);
    expect(NONCE_BYTES).toBe(32);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it('verifies the coordinator and the site signatures on the terms they were made for', () => {
    expect(verifyCoordinator(terms, signAsCoordinator(coordinator, terms))).toBe(true);
    expect(verifySite(site.signPublicKey, terms, signAsSite(site, terms))).toBe(true);
  });

  it('refuses a recorded coordinator proof replayed on other terms', () => {
    const proof = signAsCoordinator(coordinator, terms);
    for (const [what, other] of variants(terms)) {
      expect(verifyCoordinator(other, proof), what).toBe(false);
    }
  });

  it('refuses a recorded site proof replayed on other terms', () => {
    const proof = signAsSite(site, terms);
    for (const [what, other] of variants(terms)) {
      expect(verifySite(site.signPublicKey, other, proof), what).toBe(false);
    }
  });

  it('refuses a proof made with another key than the one pinned or enrolled', () => {
    // A different coordinator signing terms that name the pinned key.
    expect(verifyCoordinator(terms, signAsCoordinator(otherCoordinator, terms))).toBe(false);
    // Another site's key signing this site's terms, or this site's proof checked against another key.
    expect(verifySite(site.signPublicKey, terms, signAsSite(otherSite, terms))).toBe(false);
    expect(verifySite(otherSite.signPublicKey, terms, signAsSite(site, terms))).toBe(false);
  });

  it('keeps the two roles apart: a site proof is no coordinator proof, and back', () => {
    // Same key on both sides (the worst case): the domain alone must separate the roles.
    const selfTerms = { ...terms, coordinatorPublicKey: site.signPublicKey };
    expect(verifyCoordinator(selfTerms, signAsSite(site, selfTerms))).toBe(false);
    expect(verifySite(site.signPublicKey, selfTerms, signAsCoordinator(site, selfTerms))).toBe(false);
  });

  it('refuses a damaged signature', () => {
    const proof = signAsSite(site, terms);
    const bad = new Uint8Array(proof);
    bad[10] ^= 1;
    expect(verifySite(site.signPublicKey, terms, bad)).toBe(false);
    expect(verifySite(site.signPublicKey, terms, proof.subarray(0, 63))).toBe(false);
    expect(verifySite(site.signPublicKey, terms, new Uint8Array(64))).toBe(false);
  });
});
