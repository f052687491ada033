/**
 * How many neighbours each site masks with, and the Shamir threshold inside a neighbourhood, for
 * the sparse communication graph of SecAgg+ (Bell, Bonawitz, Gascón, Lepoint, Raykova: "Secure
 * Single-Server Aggregation with (Poly)Logarithmic Overhead", CCS 2020). The graph is a Harary
 * graph H(k, n) (a ring of the n sites in a random order, each joined to the k/2 sites on either
 * side) relabelled by a permutation every site derives from public randomness (graph.ts).
 *
 * Threat model: an honest-but-curious coordinator (it runs the protocol as written and tries to
 * learn from what it sees) colluding with up to ceil(ADVERSARIAL_RATE * n) sites, and up to
 * n - threshold sites dropping out. This is the paper's semi-honest setting, and the one Medley
 * can claim at all: a coordinator that breaks the protocol could invent sites for the roster
 * (README, security), which no choice of graph defends against. Sites still refuse an unmask
 * request that names a neighbour both ways or comes twice (client.ts).
 *
 * The search follows the paper's analysis, as Google's federated-compute applies it to Harary
 * graphs (fcp/secagg/server/graph_parameter_finder.cc; our own code): the smallest even k with
 *  - security (2^-40, split over two events): the honest surviving sites stay connected once the
 *    colluding and dropped ones are removed, so the coordinator learns no partial sum. A Harary
 *    graph of even degree k is k-connected (Harary 1962), so fewer than k removed sites can never
 *    split it; more must empty k/2 consecutive ring places at two spots (a union bound over those
 *    pairs). And no honest site has `shareThreshold` colluding neighbours (hypergeometric tail),
 *    who could otherwise rebuild both of its secrets;
 *  - correctness (failure below 2^-20): every site keeps at least `shareThreshold` surviving
 *    neighbours, so each dropped site's key and each survivor's self-mask seed can be rebuilt.
 *    With more dropouts than planned in one neighbourhood the round aborts cleanly.
 * At n = 20 with the default threshold (14, so 6 may drop) and 2 colluding sites: k = 10, t = 3.
 * When no even k below n - 1 meets both (small rounds), the graph is the full one of Bonawitz et
 * al. 2017 with the round's threshold, exactly as before the sparse graph existed.
 *
 * Both ends run this same function on the same inputs (roster size and the task's threshold), so
 * the coordinator cannot hand sites a weaker graph: a site that disagrees refuses its shares.
 */

/** Colluding sites assumed, as a fraction of the round's sites, rounded up (at n = 9: 1, at n = 20: 2). */
export const ADVERSARIAL_RATE = 0.1;
/** The paper's statistical security parameter: the graph is insecure with probability < 2^-40. */
export const SECURITY_BITS = 40;
/** Correctness: the round fails for lack of shares with probability < 2^-20 (within the planned dropouts). */
export const CORRECTNESS_BITS = 20;

export interface GraphParameters {
  /** Sites in the roster. */
  sites: number;
  /** Neighbours of each site; sites - 1 for the full graph. */
  degree: number;
  /** Shares of a site's secrets needed to rebuild them (its neighbourhood's Shamir threshold). */
  shareThreshold: number;
  full: boolean;
}

/** ln(n!) by summing logs: n is at most a few hundred here (GF(2^8) shares cap a round at 255 sites). */
const logFactorials: number[] = [0];
function logFactorial(n: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials[i] = logFactorials[i - 1] + Math.log(i);
  return logFactorials[n];
}

function logChoose(n: number, k: number): number {
  return k < 0 || k > n ? -Infinity : logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/** P(X = x) for X the number of marked items in `draws` drawn without replacement from `population` holding `marked`. */
function hypergeometric(population: number, marked: number, draws: number, x: number): number {
  return Math.exp(logChoose(marked, x) + logChoose(population - marked, draws - x) - logChoose(population, draws));
}

/** Smallest m with P(X > m) <= p. */
function upperQuantile(population: number, marked: number, draws: number, p: number): number {
  let tail = 0;
  for (let m = Math.min(marked, draws); m >= 0; m--) {
    tail += hypergeometric(population, marked, draws, m);
    if (tail > p) return m;
  }
  return 0;
}

/** Largest m with P(X < m) <= p. */
function lowerQuantile(population: number, marked: number, draws: number, p: number): number {
  let tail = 0;
  const lowest = Math.max(0, draws - (population - marked));
  for (let m = lowest; m <= Math.min(marked, draws); m++) {
    tail += hypergeometric(population, marked, draws, m);
    if (tail > p) return m;
  }
  return Math.min(marked, draws);
}

/** ln of a union bound on P(the Harary ring loses k/2 consecutive places at two spots) with `bad` of n removed. */
function logDisconnectBound(n: number, k: number, bad: number): number {
  if (k > bad) return -Infinity;
  const gapPairs = Math.log(n) + Math.log(Math.max(1, n - k - 1)) - Math.log(2);
  // P(k given places are all among the `bad` removed ones) = (bad)_k / (n)_k.
  return gapPairs + logFactorial(bad) - logFactorial(bad - k) + logFactorial(n - k) - logFactorial(n);
}

/** The per-neighbourhood threshold that makes degree k safe and correct, or null if none does. */
function thresholdFor(n: number, k: number, colluding: number, dropouts: number): number | null {
  const perEvent = 2 ** -(SECURITY_BITS + 1);
  if (logDisconnectBound(n, k, colluding + dropouts) >= Math.log(perEvent)) return null;
  // A site's neighbours are k of the n - 1 others (the union bound over sites divides by n).
  const colludingHolders = upperQuantile(n - 1, colluding, k, perEvent / n);
  const survivingNeighbours = lowerQuantile(n - 1, n - 1 - dropouts, k, 2 ** -CORRECTNESS_BITS / n);
  const lowest = Math.max(2, colludingHolders + 1);
  return lowest <= survivingNeighbours ? lowest : null;
}

/**
 * The graph for a round of `sites` sites that must survive `threshold` or more (the rest may drop).
 * `full: true` forces the complete graph (Bonawitz et al. 2017), for comparison and small rounds.
 */
export function graphParameters(sites: number, threshold: number, options: { full?: boolean } = {}): GraphParameters {
  if (!Number.isInteger(sites) || sites < 1) throw new RangeError(`a secure-aggregation graph needs a positive number of sites, got ${sites}`);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > sites) throw new RangeError(`secure-aggregation threshold must be in 1..${sites}, got ${threshold}`);
  const full: GraphParameters = { sites, degree: sites - 1, shareThreshold: threshold, full: true };
  if (options.full) return full;
  const colluding = Math.ceil(ADVERSARIAL_RATE * sites - 1e-9);
  const dropouts = sites - threshold;
  for (let k = 2; k < sites - 1; k += 2) {
    const shareThreshold = thresholdFor(sites, k, colluding, dropouts);
    if (shareThreshold !== null) return { sites, degree: k, shareThreshold, full: false };
  }
  return full;
}
