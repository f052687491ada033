import { loadSodium } from '../crypto/sodium.js';
import { SecAggClient } from './client.js';
import type { CommunicationGraph } from './graph.js';
import type { EncryptedShare, RevealedShare } from './messages.js';
import type { SecAggContext, SecAggParams } from './params.js';
import { addModular, quantizeUpdate } from './quantize.js';
import { SecAggServer } from './server.js';

/**
 * An in-memory secure-aggregation round for tests and measurements, in the order the coordinator
 * and agents run it. It is also the reference for wiring: each block is one message exchange.
 */

export interface SimulatedSite {
  site: string;
  identityPublicKey: Uint8Array;
  identitySecretKey: Uint8Array;
  client: SecAggClient;
  update: Float32Array;
  weight: number;
  quantized: Uint32Array;
}

export interface RoundPlan {
  sites: number;
  length: number;
  params: SecAggParams;
  context?: SecAggContext;
  /** Sites (by index) that advertise keys and then vanish before sending shares. */
  dropBeforeShares?: number[];
  /** Sites that send their shares but never their masked input: the dropouts SecAgg recovers from. */
  dropAfterShares?: number[];
  /** Survivors that never answer the unmask request. */
  silentAtReveal?: number[];
  /** More sites that drop after sharing keys, picked once the round's graph is known (by index). */
  pickDropouts?: (graph: CommunicationGraph, sites: SimulatedSite[]) => number[];
  seed?: number;
}

export interface RoundResult {
  server: SecAggServer;
  sites: SimulatedSite[];
  survivors: SimulatedSite[];
  masked: Map<string, Uint32Array>;
  maskedSum: Uint32Array;
  inboxes: Map<string, EncryptedShare[]>;
  reveals: Map<string, RevealedShare[]>;
  /** Filled in by `finishRound`. */
  unmasked?: Uint32Array;
}

/** Deterministic uniform [0, 1) generator (mulberry32), so a failing test fails the same way again. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export async function makeSites(count: number, length: number, params: SecAggParams, context: SecAggContext, seed = 1): Promise<SimulatedSite[]> {
  const sodium = await loadSodium();
  const random = seededRandom(seed);
  const maxWeight = Math.max(1, Math.floor(params.weightBound / count));
  const sites: SimulatedSite[] = [];
  for (let i = 0; i < count; i++) {
    const site = `hospital-${String.fromCharCode(97 + ((i * 7) % 26))}${i}`;
    const identity = sodium.crypto_sign_keypair();
    const update = new Float32Array(length);
    for (let j = 0; j < length; j++) update[j] = random() * 2 - 1;
    const weight = 1 + Math.floor(random() * maxWeight);
    const client = await SecAggClient.create({ site, identitySecretKey: identity.privateKey, context, params });
    sites.push({ site, identityPublicKey: identity.publicKey, identitySecretKey: identity.privateKey, client, update, weight, quantized: quantizeUpdate(update, weight, params) });
  }
  return sites;
}

/** Runs a round up to the reveals (not the unmask), so tests can tamper with the last step. */
export async function runRound(plan: RoundPlan): Promise<RoundResult> {
  const context = plan.context ?? { federation: 'chest-xray', round: 7 };
  const sites = await makeSites(plan.sites, plan.length, plan.params, context, plan.seed);
  const identityKeys = new Map(sites.map((s) => [s.site, s.identityPublicKey]));
  const identityKeyOf = (site: string) => identityKeys.get(site);
  const server = new SecAggServer({ context, params: plan.params, identityKeyOf });
  const dropBeforeShares = new Set((plan.dropBeforeShares ?? []).map((i) => sites[i].site));
  const dropAfterShares = new Set((plan.dropAfterShares ?? []).map((i) => sites[i].site));
  const silentAtReveal = new Set((plan.silentAtReveal ?? []).map((i) => sites[i].site));

  // Round 0: advertise keys.
  for (const s of sites) server.addAdvertisement(s.client.advertise());
  const roster = server.roster();
  for (const i of plan.pickDropouts?.(server.graph(), sites) ?? []) dropAfterShares.add(sites[i].site);

  // Round 1: share keys.
  for (const s of sites) {
    if (dropBeforeShares.has(s.site)) continue;
    server.addShares(s.site, s.client.shareKeys(roster, identityKeyOf));
  }

  // Round 2: masked inputs, folded into the sum as they arrive.
  const maskedSum = new Uint32Array(plan.length);
  const masked = new Map<string, Uint32Array>();
  const inboxes = new Map<string, EncryptedShare[]>();
  for (const site of server.shareHolders()) inboxes.set(site, server.inboxFor(site));
  for (const s of sites) {
    if (!inboxes.has(s.site) || dropAfterShares.has(s.site)) continue;
    const y = s.client.maskInput(s.quantized, inboxes.get(s.site)!);
    masked.set(s.site, y);
    addModular(maskedSum, y);
    server.noteMaskedInput(s.site);
  }

  // Round 3: unmask request and reveals (this may throw SecAggAbortError below the threshold).
  const request = server.unmaskRequest();
  const reveals = new Map<string, RevealedShare[]>();
  const survivors = sites.filter((s) => request.survivors.includes(s.site));
  for (const s of survivors) {
    if (silentAtReveal.has(s.site)) continue;
    reveals.set(s.site, s.client.reveal(request));
  }
  return { server, sites, survivors, masked, maskedSum, inboxes, reveals };
}

/** Hands every reveal to the server and unmasks (a copy of) the sum. */
export function finishRound(result: RoundResult): Uint32Array {
  for (const [site, shares] of result.reveals) result.server.addReveal(site, shares);
  result.unmasked = result.server.unmask(result.maskedSum.slice());
  return result.unmasked;
}

/** The modular sum the unmasked result must equal, computed in the clear. */
export function plainSum(sites: SimulatedSite[], length: number): Uint32Array {
  const sum = new Uint32Array(length);
  for (const s of sites) addModular(sum, s.quantized);
  return sum;
}
