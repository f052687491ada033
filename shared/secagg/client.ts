import { loadSodium, sodiumNow } from '../crypto/sodium.js';
import { agree, pairwiseSeed, pairwiseSign } from './agreement.js';
import { SecAggAbortError, SecAggProtocolError } from './errors.js';
import type { AdvertisedKeys, EncryptedShare, RevealedShare, UnmaskRequest } from './messages.js';
import { checkContext, checkParams, type SecAggContext, type SecAggParams } from './params.js';
import { applyMasks, SEED_BYTES, type MaskSpec } from './prg.js';
import { applyMasksOffThread } from './mask-thread.js';
import { CommunicationGraph } from './graph.js';
import { advertisementDigest, checkRosterSize, orderRoster, verifyAdvertisement } from './roster.js';
import { openShares, sealShares, type SharePair } from './share-box.js';
import { splitSecretAt } from './shamir.js';

export interface SecAggClientOptions {
  site: string;
  /** The site's long-term Ed25519 secret key (64 bytes), which signs its per-round keys. */
  identitySecretKey: Uint8Array;
  context: SecAggContext;
  params: SecAggParams;
}

type Phase = 'advertised' | 'shared' | 'masked' | 'revealed';

interface KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/**
 * One site's side of one secure-aggregation round. Every method is one protocol step and may be
 * called once, in order: advertise -> shareKeys -> maskInput -> reveal. A new round needs a new
 * client: keys, self-mask seed and shares are single-use by design.
 */
export class SecAggClient {
  private phase: Phase = 'advertised';
  private readonly advertisement: AdvertisedKeys;
  /** Roster sorted by site, and each site's x coordinate; set by shareKeys. */
  private roster = new Map<string, AdvertisedKeys>();
  private xOf = new Map<string, number>();
  /** Who masks with whom this round (graph.ts); set by shareKeys. */
  private graph?: CommunicationGraph;
  /** Shares this site holds of each U2 site's secrets, its own included. */
  private readonly held = new Map<string, SharePair>();
  /** U2: the sites whose shares this site holds (itself included), i.e. whose masks it applied. */
  private shareHolders = new Set<string>();
  /** X25519 of this site's c key with each other roster site's, from shareKeys to maskInput (see share-box.ts). */
  private readonly cShared = new Map<string, Uint8Array>();

  private constructor(
    readonly site: string,
    readonly context: SecAggContext,
    readonly params: SecAggParams,
    private readonly cKeys: KeyPair,
    private readonly sKeys: KeyPair,
    private readonly selfSeed: Uint8Array,
    identitySecretKey: Uint8Array,
  ) {
    const signature = sodiumNow().crypto_sign_detached(advertisementDigest(context, site, cKeys.publicKey, sKeys.publicKey), identitySecretKey);
    this.advertisement = { site, cPublicKey: cKeys.publicKey, sPublicKey: sKeys.publicKey, signature };
  }

  static async create(options: SecAggClientOptions): Promise<SecAggClient> {
    const sodium = await loadSodium();
    checkContext(options.context);
    checkParams(options.params);
    if (typeof options.site !== 'string' || options.site.length === 0) throw new RangeError('secure aggregation client needs a site name');
    if (options.identitySecretKey?.length !== 64) throw new RangeError(`identity secret key of site ${options.site} must be a 64-byte Ed25519 secret key`);
    const cKeys = sodium.crypto_box_keypair();
    const sKeys = sodium.crypto_box_keypair();
    const selfSeed = sodium.randombytes_buf(SEED_BYTES);
    return new SecAggClient(options.site, { ...options.context }, { ...options.params }, cKeys, sKeys, selfSeed, options.identitySecretKey);
  }

  /** This round's public keys, signed by the site's identity: the first message to the coordinator. */
  advertise(): AdvertisedKeys {
    const a = this.advertisement;
    return { site: a.site, cPublicKey: a.cPublicKey.slice(), sPublicKey: a.sPublicKey.slice(), signature: a.signature.slice() };
  }

  /**
   * Checks the roster the coordinator relayed, derives the round's communication graph from it,
   * then splits this site's s secret key and self-mask seed into one share per holder (itself and
   * its neighbours; any graph.shareThreshold of them recover the secrets) and encrypts each
   * neighbour's pair to it. Its own pair stays here.
   */
  shareKeys(roster: AdvertisedKeys[], identityKeyOf: (site: string) => Uint8Array | undefined): EncryptedShare[] {
    this.expect('advertised', 'shareKeys');
    checkRosterSize(roster.length);
    for (const entry of roster) verifyAdvertisement(entry, this.context, identityKeyOf);
    const { entries, xOf } = orderRoster(roster);
    if (entries.length < this.params.threshold) {
      throw new SecAggAbortError(`the roster has ${entries.length} sites, fewer than the threshold of ${this.params.threshold}: the round cannot succeed`);
    }
    const mine = entries.find((entry) => entry.site === this.site);
    if (!mine) throw new SecAggProtocolError(`the roster does not include this site (${this.site})`);
    // A coordinator that swapped in other keys for this site could decrypt the shares sent to it.
    if (!equalBytes(mine.cPublicKey, this.advertisement.cPublicKey) || !equalBytes(mine.sPublicKey, this.advertisement.sPublicKey)) {
      throw new SecAggProtocolError(`the roster carries keys for this site (${this.site}) other than the ones it advertised`);
    }
    this.roster = new Map(entries.map((entry) => [entry.site, entry]));
    this.xOf = xOf;
    const graph = CommunicationGraph.forRoster(this.context, entries, this.params);
    this.graph = graph;

    const holders = graph.holders(this.site).map((site) => this.roster.get(site)!);
    const xs = holders.map((entry) => xOf.get(entry.site)!);
    const sKeyShares = splitSecretAt(this.sKeys.privateKey, xs, graph.shareThreshold);
    const selfSeedShares = splitSecretAt(this.selfSeed, xs, graph.shareThreshold);
    const out: EncryptedShare[] = [];
    holders.forEach((entry, index) => {
      const pair: SharePair = { x: xs[index], sKeyShare: sKeyShares[index].y, selfSeedShare: selfSeedShares[index].y };
      if (entry.site === this.site) {
        this.held.set(this.site, pair);
        return;
      }
      const shared = agree(this.cKeys.privateKey, entry.cPublicKey, entry.site);
      this.cShared.set(entry.site, shared);
      const ciphertext = sealShares(this.context, this.advertisement, shared, entry, pair);
      out.push({ from: this.site, to: entry.site, ciphertext });
    });
    this.phase = 'shared';
    return out;
  }

  /**
   * Decrypts the shares its neighbours sent here (those senders, with this site, are its part of
   * U2) and returns y = q + PRG(b) + sum over those neighbours u of sign(me, u) * PRG(seed(me, u))
   * mod 2^32. The pairwise masks cancel across survivors; PRG(b) hides y even from that
   * cancellation. `quantized` is left untouched.
   */
  maskInput(quantized: Uint32Array, inbox: EncryptedShare[]): Uint32Array {
    const masks = this.beginMasking(inbox);
    try {
      // All masks in one pass over the vector (see applyMasks), written straight into a new array.
      const masked = new Uint32Array(quantized.length);
      applyMasks(masked, masks, quantized);
      return masked;
    } finally {
      this.wipe(masks);
    }
  }

  /** maskInput, with the masks applied on the masking thread (mask-thread.ts): what agents use. */
  async maskInputOffThread(quantized: Uint32Array, inbox: EncryptedShare[]): Promise<Uint32Array> {
    const masks = this.beginMasking(inbox);
    try {
      return await applyMasksOffThread(masks, quantized);
    } finally {
      this.wipe(masks);
    }
  }

  /** Opens the inbox and derives the masks to apply: the self mask, then one per neighbour heard from. */
  private beginMasking(inbox: EncryptedShare[]): MaskSpec[] {
    this.expect('shared', 'maskInput');
    const myX = this.xOf.get(this.site)!;
    const received = this.openInbox(inbox, myX);
    const needed = this.graph!.shareThreshold;
    if (received.size + 1 < needed) {
      throw new SecAggAbortError(`only ${received.size + 1} sites (this one included) hold shares of this site's secrets, fewer than the ${needed} needed to recover them`);
    }
    for (const [site, pair] of received) this.held.set(site, pair);
    this.shareHolders = new Set([this.site, ...received.keys()]);
    // Masking is under way: a second call must not mask again.
    this.phase = 'masked';
    const masks: MaskSpec[] = [{ seed: this.selfSeed, sign: 1 }];
    for (const other of received.keys()) {
      masks.push({ seed: pairwiseSeed(this.context, this.site, this.sKeys.privateKey, other, this.roster.get(other)!.sPublicKey), sign: pairwiseSign(this.site, other) });
    }
    return masks;
  }

  /** Wipes the pairwise seeds and shared keys once the masks are applied (the self seed is kept for reveal). */
  private wipe(masks: MaskSpec[]): void {
    for (const mask of masks.slice(1)) mask.seed.fill(0);
    for (const shared of this.cShared.values()) shared.fill(0);
    this.cShared.clear();
  }

  /** Checks and decrypts the shares other sites sent here, by sender. */
  private openInbox(inbox: EncryptedShare[], myX: number): Map<string, SharePair> {
    const received = new Map<string, SharePair>();
    for (const share of inbox) {
      if (share.to !== this.site) throw new SecAggProtocolError(`a key share from site ${share.from} is addressed to ${share.to}, not to this site (${this.site})`);
      const sender = this.roster.get(share.from);
      if (!sender || share.from === this.site) throw new SecAggProtocolError(`a key share claims to come from site ${share.from}, which is not another site of this round's roster`);
      if (!this.graph!.areNeighbours(this.site, share.from)) throw new SecAggProtocolError(`a key share comes from site ${share.from}, which is not a neighbour of this site (${this.site}) in this round's graph`);
      if (received.has(share.from)) throw new SecAggProtocolError(`site ${share.from} sent more than one key share to this site`);
      const pair = openShares(this.context, sender, this.advertisement, this.cShared.get(share.from)!, share.ciphertext);
      if (pair.x !== myX) throw new SecAggProtocolError(`the key share from site ${share.from} is for x = ${pair.x}, but this site holds x = ${myX}`);
      received.set(share.from, pair);
    }
    return received;
  }

  /**
   * Answers the coordinator's unmask request: the self-mask seed share of each survivor and the s
   * key share of each dropped site. Revealing both for one site would let the coordinator strip
   * every mask off that site's input, so a request that lists a site as both, or a second request
   * (which could list it the other way), is refused.
   */
  reveal(request: UnmaskRequest): RevealedShare[] {
    this.expect('masked', 'reveal');
    const survivors = new Set(request.survivors);
    const dropped = new Set(request.dropped);
    if (survivors.size !== request.survivors.length || dropped.size !== request.dropped.length) {
      throw new SecAggProtocolError('refusing to reveal: the unmask request lists a site twice');
    }
    for (const site of survivors) {
      if (dropped.has(site)) throw new SecAggProtocolError(`refusing to reveal: site ${site} is listed both as a survivor and as dropped`);
    }
    if (survivors.size < this.params.threshold) {
      throw new SecAggProtocolError(`refusing to reveal: ${survivors.size} survivors are fewer than the threshold of ${this.params.threshold}`);
    }
    if (!survivors.has(this.site)) throw new SecAggProtocolError(`refusing to reveal: this site (${this.site}) is not listed as a survivor`);
    // Sites outside this one's neighbourhood are the business of their own neighbours; a
    // neighbour listed either way must have shared keys here (U2 is one set for everyone).
    const graph = this.graph!;
    for (const site of [...survivors, ...dropped]) {
      const mine = site === this.site || graph.areNeighbours(this.site, site);
      if (mine && !this.shareHolders.has(site)) throw new SecAggProtocolError(`refusing to reveal: site ${site} did not share keys with this site`);
      if (!mine && !graph.has(site)) throw new SecAggProtocolError(`refusing to reveal: site ${site} did not share keys with this site (it is not in this round's roster)`);
    }
    // An unlisted site would leave its masks in the sum: the request is inconsistent, not just partial.
    for (const site of this.shareHolders) {
      if (!survivors.has(site) && !dropped.has(site)) throw new SecAggProtocolError(`refusing to reveal: the unmask request does not say whether site ${site} survived`);
    }
    this.phase = 'revealed';
    const out: RevealedShare[] = [];
    for (const site of request.survivors) {
      const pair = this.held.get(site);
      if (pair) out.push({ of: site, kind: 'self', x: pair.x, y: pair.selfSeedShare.slice() });
    }
    for (const site of request.dropped) {
      const pair = this.held.get(site);
      if (pair) out.push({ of: site, kind: 'pairwise', x: pair.x, y: pair.sKeyShare.slice() });
    }
    return out;
  }

  private expect(phase: Phase, step: string): void {
    if (this.phase !== phase) {
      const done = { advertised: 'advertised its keys', shared: 'shared its keys', masked: 'masked its input', revealed: 'revealed its shares' }[this.phase];
      throw new SecAggProtocolError(`site ${this.site} cannot ${step} now: it has ${done} (each step runs once, in order)`);
    }
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
