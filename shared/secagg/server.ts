import { sodiumNow } from '../crypto/sodium.js';
import { pairwiseSeed, pairwiseSign } from './agreement.js';
import { SecAggAbortError, SecAggProtocolError } from './errors.js';
import type { AdvertisedKeys, EncryptedShare, RevealedShare, UnmaskRequest } from './messages.js';
import { checkContext, checkParams, type SecAggContext, type SecAggParams } from './params.js';
import { CommunicationGraph } from './graph.js';
import { applyMasksOpenSSL, type MaskSpec } from './prg.js';
import { checkRosterSize, compareSites, KEY_BYTES, orderRoster, verifyAdvertisement } from './roster.js';
import { NONCE_BYTES, SHARE_BYTES } from './share-box.js';
import { combineShares, type SecretShare } from './shamir.js';

export interface SecAggServerOptions {
  context: SecAggContext;
  params: SecAggParams;
  /** The enrolled Ed25519 public key of a site, or undefined for a site not in the federation. */
  identityKeyOf: (site: string) => Uint8Array | undefined;
}

/** Smallest valid ciphertext: nonce, one byte x, two shares, Poly1305 tag. */
const MIN_CIPHERTEXT_BYTES = NONCE_BYTES + 1 + 2 * SHARE_BYTES + 16;

interface Reveal {
  self: Map<string, SecretShare>;
  pairwise: Map<string, SecretShare>;
}

/**
 * The coordinator's side of one secure-aggregation round. It relays keys and encrypted shares
 * along the round's communication graph (graph.ts: SecAgg+'s sparse Harary graph, or the full
 * one), tracks who is still in (U1 roster -> U2 share holders -> U3 survivors), and at the end
 * removes the masks from the sum of the survivors' masked inputs. It never sees an individual update: it
 * learns each survivor's self-mask seed and each dropped site's pairwise key, never both for one
 * site (each site reveals for one request only and refuses one that lists a site both ways).
 *
 * Each stage closes the one before it, so every party works from the same sets:
 *  - the first `roster()` closes advertisements (that is the list the sites share to);
 *  - the first `inboxFor()` closes share collection (U2 is what the inboxes contain);
 *  - the first `unmaskRequest()` closes masked inputs (U3 is what the coordinator summed).
 *
 * Signature checks and key reconstruction use libsodium: `await loadSodium()` before the first call.
 */
export class SecAggServer {
  readonly context: SecAggContext;
  readonly params: SecAggParams;
  private readonly identityKeyOf: (site: string) => Uint8Array | undefined;

  private readonly advertisements = new Map<string, AdvertisedKeys>();
  private frozenRoster?: { entries: AdvertisedKeys[]; xOf: Map<string, number> };
  private frozenGraph?: CommunicationGraph;
  private readonly sharesFrom = new Map<string, EncryptedShare[]>();
  private frozenShareHolders?: string[];
  private readonly maskedInputs = new Set<string>();
  private request?: UnmaskRequest;
  private readonly reveals = new Map<string, Reveal>();
  private unmasked = false;

  constructor(options: SecAggServerOptions) {
    checkContext(options.context);
    checkParams(options.params);
    this.context = { ...options.context };
    this.params = { ...options.params };
    this.identityKeyOf = options.identityKeyOf;
  }

  addAdvertisement(keys: AdvertisedKeys): void {
    if (this.frozenRoster) throw new SecAggProtocolError(`advertised keys of site ${keys.site} arrived after the roster was sent out`);
    verifyAdvertisement(keys, this.context, this.identityKeyOf);
    if (this.advertisements.has(keys.site)) throw new SecAggProtocolError(`site ${keys.site} already advertised keys for this round`);
    checkRosterSize(this.advertisements.size + 1);
    this.advertisements.set(keys.site, { ...keys });
  }

  /** The advertised keys sorted by site: what every site gets. The first call closes advertisements. */
  roster(): AdvertisedKeys[] {
    if (!this.frozenRoster) {
      if (this.advertisements.size < this.params.threshold) {
        throw new SecAggAbortError(`only ${this.advertisements.size} sites advertised keys, but secure aggregation needs at least the threshold of ${this.params.threshold}`);
      }
      this.frozenRoster = orderRoster([...this.advertisements.values()]);
      this.frozenGraph = CommunicationGraph.forRoster(this.context, this.frozenRoster.entries, this.params);
    }
    return [...this.frozenRoster.entries];
  }

  /** The round's communication graph, fixed with the roster (every site derives the same one from it). */
  graph(): CommunicationGraph {
    if (!this.frozenGraph) throw new SecAggProtocolError('the communication graph is fixed with the roster, which was not sent out yet');
    return this.frozenGraph;
  }

  /** One site's encrypted shares: exactly one for each of its neighbours. */
  addShares(from: string, shares: EncryptedShare[]): void {
    const roster = this.frozenRoster;
    if (!roster) throw new SecAggProtocolError(`key shares from site ${from} arrived before the roster was sent out`);
    if (!roster.xOf.has(from)) throw new SecAggProtocolError(`site ${from} sent key shares but is not in this round's roster`);
    if (this.frozenShareHolders) throw new SecAggProtocolError(`key shares from site ${from} arrived after share collection closed`);
    if (this.sharesFrom.has(from)) throw new SecAggProtocolError(`site ${from} already sent its key shares`);
    const recipients = new Set<string>();
    for (const share of shares) {
      if (share.from !== from) throw new SecAggProtocolError(`site ${from} sent a key share labelled as from site ${share.from}`);
      if (!roster.xOf.has(share.to) || share.to === from) throw new SecAggProtocolError(`site ${from} sent a key share to ${share.to}, which is not another roster site`);
      if (!this.frozenGraph!.areNeighbours(from, share.to)) throw new SecAggProtocolError(`site ${from} sent a key share to ${share.to}, which is not its neighbour in this round's graph`);
      if (recipients.has(share.to)) throw new SecAggProtocolError(`site ${from} sent two key shares to site ${share.to}`);
      if (!(share.ciphertext instanceof Uint8Array) || share.ciphertext.length < MIN_CIPHERTEXT_BYTES) {
        throw new SecAggProtocolError(`site ${from} sent a malformed key share to site ${share.to}`);
      }
      recipients.add(share.to);
    }
    const missing = [...this.frozenGraph!.neighbours(from)].filter((site) => !recipients.has(site));
    if (missing.length > 0) throw new SecAggProtocolError(`site ${from} sent no key share to ${missing.join(', ')}`);
    this.sharesFrom.set(from, shares.map((share) => ({ ...share })));
  }

  /**
   * The shares addressed to `site` from its neighbours that sent theirs. The first call closes
   * share collection: U2 is then fixed, and aborts the round if it is below the threshold.
   */
  inboxFor(site: string): EncryptedShare[] {
    const holders = this.closeShareCollection();
    if (!holders.includes(site)) throw new SecAggProtocolError(`site ${site} did not send key shares, so it takes no further part in this round`);
    const neighbours = this.frozenGraph!.neighbours(site);
    const inbox: EncryptedShare[] = [];
    for (const from of holders) {
      if (neighbours.has(from)) inbox.push({ ...this.sharesFrom.get(from)!.find((share) => share.to === site)! });
    }
    return inbox;
  }

  /** U2: the sites whose key shares were received, sorted. */
  shareHolders(): string[] {
    return this.frozenShareHolders ? [...this.frozenShareHolders] : [...this.sharesFrom.keys()].sort(compareSites);
  }

  /** Records that `site`'s masked input reached the sum (the caller folds it in with addModular). */
  noteMaskedInput(site: string): void {
    if (!this.frozenShareHolders) throw new SecAggProtocolError(`a masked input from site ${site} arrived before the share inboxes were sent out`);
    if (!this.frozenShareHolders.includes(site)) throw new SecAggProtocolError(`site ${site} sent a masked input but did not share keys this round`);
    if (this.request) throw new SecAggProtocolError(`the masked input of site ${site} arrived after the unmask request was sent out`);
    if (this.maskedInputs.has(site)) throw new SecAggProtocolError(`site ${site} already sent its masked input`);
    this.maskedInputs.add(site);
  }

  /**
   * Survivors (U3, masked input received) and dropped sites (U2 \ U3). The first call closes masked
   * inputs; the sum must hold exactly the survivors' inputs.
   */
  unmaskRequest(): UnmaskRequest {
    if (!this.request) {
      const holders = this.closeShareCollection();
      const survivors = holders.filter((site) => this.maskedInputs.has(site));
      if (survivors.length < this.params.threshold) {
        throw new SecAggAbortError(
          `secure aggregation aborted: only ${survivors.length} of ${holders.length} sites sent masked inputs, but at least ${this.params.threshold} must survive to unmask the sum`,
        );
      }
      const request = { survivors, dropped: holders.filter((site) => !this.maskedInputs.has(site)) };
      const short = this.unrecoverable(request, new Set(survivors));
      if (short) throw new SecAggAbortError(`secure aggregation aborted: ${short}`);
      this.request = request;
    }
    return { survivors: [...this.request.survivors], dropped: [...this.request.dropped] };
  }

  /**
   * Why some secret cannot be rebuilt from the shares `answering` sites hold, or null if every one
   * can: each survivor's self-mask seed (held by it and its neighbours) and each dropped site's key
   * (held by its neighbours) need graph.shareThreshold answering holders.
   */
  private unrecoverable(request: UnmaskRequest, answering: ReadonlySet<string>): string | null {
    const graph = this.frozenGraph!;
    const shareHolders = new Set(this.frozenShareHolders);
    const t = graph.shareThreshold;
    for (const [sites, kind] of [[request.survivors, 'self-mask seed'], [request.dropped, 'mask key']] as const) {
      for (const site of sites) {
        const count = graph.holders(site).filter((holder) => answering.has(holder) && shareHolders.has(holder)).length;
        if (count < t) return `the ${kind} of site ${site} is held by only ${count} answering sites of its neighbourhood, but ${t} are needed to rebuild it`;
      }
    }
    return null;
  }

  /** A survivor's answer: a self share of every survivor and an s key share of every dropped site among its share holders. */
  addReveal(from: string, shares: RevealedShare[]): void {
    const request = this.request;
    if (!request) throw new SecAggProtocolError(`site ${from} revealed shares before the unmask request was sent out`);
    if (!request.survivors.includes(from)) throw new SecAggProtocolError(`refusing revealed shares from site ${from}: it is not a survivor of this round`);
    if (this.reveals.has(from)) throw new SecAggProtocolError(`site ${from} already revealed its shares`);
    if (this.unmasked) throw new SecAggProtocolError(`revealed shares from site ${from} arrived after the sum was unmasked`);
    const x = this.frozenRoster!.xOf.get(from)!;
    const graph = this.frozenGraph!;
    const holdsSharesOf = (site: string) => site === from || graph.areNeighbours(from, site);
    const reveal: Reveal = { self: new Map(), pairwise: new Map() };
    for (const share of shares) {
      const expected = request.survivors.includes(share.of) ? 'self' : request.dropped.includes(share.of) ? 'pairwise' : undefined;
      if (!expected) throw new SecAggProtocolError(`site ${from} revealed a share of ${share.of}, which is neither a survivor nor dropped`);
      if (!holdsSharesOf(share.of)) throw new SecAggProtocolError(`site ${from} revealed a share of ${share.of}, which is not its neighbour in this round's graph`);
      if (share.kind !== expected) throw new SecAggProtocolError(`site ${from} revealed a ${share.kind} share of ${share.of}, which needs a ${expected} share`);
      if (share.x !== x) throw new SecAggProtocolError(`site ${from} revealed a share at x = ${share.x}, but it holds x = ${x}`);
      if (!(share.y instanceof Uint8Array) || share.y.length !== SHARE_BYTES) throw new SecAggProtocolError(`site ${from} revealed a malformed share of ${share.of}`);
      const bucket = reveal[share.kind];
      if (bucket.has(share.of)) throw new SecAggProtocolError(`site ${from} revealed two shares of ${share.of}`);
      bucket.set(share.of, { x: share.x, y: share.y.slice() });
    }
    const missing = [
      ...request.survivors.filter((site) => holdsSharesOf(site) && !reveal.self.has(site)),
      ...request.dropped.filter((site) => holdsSharesOf(site) && !reveal.pairwise.has(site)),
    ];
    if (missing.length > 0) throw new SecAggProtocolError(`site ${from} revealed no share of ${missing.join(', ')}`);
    this.reveals.set(from, reveal);
  }

  /** At least the round's threshold of survivors answered, and they hold enough shares of every secret. */
  readyToUnmask(): boolean {
    return this.reveals.size >= this.params.threshold && this.request !== undefined && this.unrecoverable(this.request, new Set(this.reveals.keys())) === null;
  }

  /**
   * Removes every mask from `maskedSum`, the modular sum of exactly the survivors' masked inputs,
   * in place, and returns it: then it is exactly the modular sum of their quantized updates.
   * Each survivor's self mask comes off with its reconstructed seed; for each dropped site d its
   * reconstructed s key gives the seed it shared with each surviving neighbour v, and the mask v
   * added for the pair (sign(v, d)) is subtracted. Masks between two survivors cancelled already.
   */
  unmask(maskedSum: Uint32Array): Uint32Array {
    const request = this.request;
    if (!request) throw new SecAggProtocolError('cannot unmask before the unmask request was sent out');
    if (this.unmasked) throw new SecAggProtocolError('the sum of this round was already unmasked');
    if (this.reveals.size < this.params.threshold) {
      throw new SecAggAbortError(`secure aggregation aborted: only ${this.reveals.size} survivors revealed their shares, but ${this.params.threshold} are needed to unmask the sum`);
    }
    const short = this.unrecoverable(request, new Set(this.reveals.keys()));
    if (short) throw new SecAggAbortError(`secure aggregation aborted: ${short}`);
    const graph = this.frozenGraph!;
    const t = graph.shareThreshold;
    const revealers = [...this.reveals.values()];
    // The first t answering holders' shares (the same rule as before: extra shares are not consulted).
    const sharesOf = (site: string, kind: 'self' | 'pairwise') =>
      revealers
        .map((reveal) => reveal[kind].get(site))
        .filter((share): share is SecretShare => share !== undefined)
        .slice(0, t);
    const keysOf = new Map(this.frozenRoster!.entries.map((entry) => [entry.site, entry]));

    // Reconstruct and check every key first, so a bad reveal aborts before the sum is touched.
    const droppedKeys = request.dropped.map((site) => {
      const sSecretKey = combineShares(sharesOf(site, 'pairwise'), t);
      const publicKey = sodiumNow().crypto_scalarmult_base(sSecretKey);
      if (!equalKey(publicKey, keysOf.get(site)!.sPublicKey)) {
        throw new SecAggAbortError(`secure aggregation aborted: the revealed shares of dropped site ${site} do not reconstruct its advertised key (a survivor revealed a wrong share)`);
      }
      return { site, sSecretKey };
    });
    const selfSeeds = request.survivors.map((site) => combineShares(sharesOf(site, 'self'), t));

    this.unmasked = true;
    const masks: MaskSpec[] = selfSeeds.map((seed) => ({ seed, sign: -1 }));
    const surviving = new Set(request.survivors);
    for (const { site: dropped, sSecretKey } of droppedKeys) {
      for (const survivor of graph.neighbours(dropped)) {
        if (!surviving.has(survivor)) continue;
        const seed = pairwiseSeed(this.context, dropped, sSecretKey, survivor, keysOf.get(survivor)!.sPublicKey);
        // The survivor added sign(survivor, dropped) * PRG(seed); take exactly that off again.
        masks.push({ seed, sign: pairwiseSign(survivor, dropped) === 1 ? -1 : 1 });
      }
      sSecretKey.fill(0);
    }
    // Every mask comes off in one pass over the sum, on OpenSSL: here wall time counts (see applyMasksOpenSSL).
    try {
      applyMasksOpenSSL(maskedSum, masks);
    } finally {
      for (const mask of masks) mask.seed.fill(0);
    }
    return maskedSum;
  }

  private closeShareCollection(): string[] {
    if (!this.frozenShareHolders) {
      if (!this.frozenRoster) throw new SecAggProtocolError('share collection cannot close before the roster was sent out');
      const holders = [...this.sharesFrom.keys()].sort(compareSites);
      if (holders.length < this.params.threshold) {
        throw new SecAggAbortError(`secure aggregation aborted: only ${holders.length} sites shared keys, but at least ${this.params.threshold} are needed`);
      }
      this.frozenShareHolders = holders;
    }
    return this.frozenShareHolders;
  }
}

function equalKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === KEY_BYTES && b.length === KEY_BYTES && a.every((value, index) => value === b[index]);
}
