import { transcript } from '../crypto/transcript.js';
import type { AdvertisedKeys } from './messages.js';
import type { SecAggContext, SecAggParams } from './params.js';
import { graphParameters, type GraphParameters } from './graph-params.js';
import { expandMask } from './prg.js';

/**
 * The round's communication graph: who masks with whom and who holds shares of whose secrets.
 * Sparse (SecAgg+): a Harary graph H(k, n) over the roster in an order drawn from public
 * randomness, so each site agrees masks and shares with k neighbours instead of n - 1. Full
 * (Bonawitz et al. 2017): every site with every other.
 *
 * The randomness is a hash of the whole signed roster (every site's fresh per-round keys, which
 * the coordinator relays but cannot forge), so every site derives the same graph without a new
 * message, and the coordinator cannot choose it without dropping sites from the roster.
 */
export class CommunicationGraph {
  private readonly neighbourSets = new Map<string, Set<string>>();

  private constructor(
    readonly parameters: GraphParameters,
    /** The sites in ring order (for a sparse graph) or roster order (full). */
    readonly ring: readonly string[],
  ) {
    const n = ring.length;
    const half = parameters.full ? 0 : parameters.degree / 2;
    ring.forEach((site, position) => {
      const set = new Set<string>();
      if (parameters.full) for (const other of ring) if (other !== site) set.add(other);
      for (let step = 1; step <= half; step++) {
        set.add(ring[(position + step) % n]);
        set.add(ring[(position - step + n) % n]);
      }
      this.neighbourSets.set(site, set);
    });
  }

  /** The graph for a roster sorted by site (orderRoster), as client and coordinator both build it. */
  static forRoster(context: SecAggContext, entries: readonly AdvertisedKeys[], params: SecAggParams): CommunicationGraph {
    const parameters = graphParameters(entries.length, params.threshold, { full: params.graph === 'full' });
    const sites = entries.map((entry) => entry.site);
    if (parameters.full) return new CommunicationGraph(parameters, sites);
    return new CommunicationGraph(parameters, permute(sites, graphSeed(context, entries, parameters)));
  }

  get degree(): number {
    return this.parameters.degree;
  }

  get shareThreshold(): number {
    return this.parameters.shareThreshold;
  }

  get full(): boolean {
    return this.parameters.full;
  }

  has(site: string): boolean {
    return this.neighbourSets.has(site);
  }

  /** The sites `site` masks with and sends shares to. */
  neighbours(site: string): ReadonlySet<string> {
    const set = this.neighbourSets.get(site);
    if (!set) throw new RangeError(`site ${site} is not in this round's communication graph`);
    return set;
  }

  areNeighbours(a: string, b: string): boolean {
    return this.neighbourSets.get(a)?.has(b) ?? false;
  }

  /** Who holds shares of `site`'s secrets: the site itself and its neighbours. */
  holders(site: string): string[] {
    return [site, ...this.neighbours(site)];
  }
}

/** The public randomness of the round's graph: every roster entry, in roster order, plus the graph's size and degree. */
export function graphSeed(context: SecAggContext, entries: readonly AdvertisedKeys[], parameters: GraphParameters): Uint8Array {
  const fields = entries.flatMap((entry) => [entry.site, entry.cPublicKey, entry.sPublicKey]);
  return transcript('medley/secagg/v1/harary-graph', [context.federation, context.round, parameters.sites, parameters.degree, ...fields]);
}

/**
 * Fisher-Yates shuffle driven by the ChaCha20 stream of `seed` (the mask PRG), drawing each index
 * by rejection so every order is exactly equally likely. The stream is long enough that running
 * out is astronomically unlikely; it is extended if it ever does.
 */
export function permute<T>(items: readonly T[], seed: Uint8Array): T[] {
  const out = [...items];
  let words = expandMask(seed, 4 * out.length + 64);
  let next = 0;
  const draw = (bound: number): number => {
    // Largest multiple of `bound` that fits in 2^32: values at or above it would favour small indices.
    const limit = 2 ** 32 - (2 ** 32 % bound);
    for (;;) {
      if (next === words.length) words = expandMask(seed, words.length * 2);
      const value = words[next++];
      if (value < limit) return value % bound;
    }
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = draw(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
