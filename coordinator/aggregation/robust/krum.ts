import type { CohortRule } from './cohort-aggregate.js';
import { pairwiseSquaredDistances } from './pairwise.js';

/** Krum's requirement on the round's size for f Byzantine sites (Blanchard et al. 2017). */
export function krumMinimum(f: number): number {
  return 2 * f + 3;
}

/**
 * Krum scores of `members` (indices into the n x n squared-distance matrix): for each member, the
 * sum of its squared distances to its members.length - f - 2 nearest other members (at least one). An update
 * close to many others scores low; an outlier, far from everyone, scores high.
 */
export function krumScores(distances: Float64Array, n: number, members: readonly number[], f: number): Float64Array {
  const size = members.length;
  // n - f - 2 is positive whenever Krum's requirement n >= 2f + 3 holds. Bulyan's last picks score
  // fewer updates than that; there the score falls back to the nearest neighbour alone.
  const neighbours = Math.min(size - 1, Math.max(1, size - f - 2));
  const scores = new Float64Array(size);
  const others = new Float64Array(size - 1);
  for (let a = 0; a < size; a++) {
    const row = members[a]! * n;
    let o = 0;
    for (let b = 0; b < size; b++) if (b !== a) others[o++] = distances[row + members[b]!]!;
    others.sort();
    let score = 0;
    for (let i = 0; i < neighbours; i++) score += others[i]!;
    scores[a] = score;
  }
  return scores;
}

/** `members` from lowest score to highest; equal scores keep the members' own (site) order. */
export function byScore(members: readonly number[], scores: Float64Array): number[] {
  return members
    .map((member, position) => ({ member, position }))
    .sort((x, y) => scores[x.position]! - scores[y.position]! || x.position - y.position)
    .map((x) => x.member);
}

function krumProblem(name: string, f: number, updates: number): string | null {
  const needed = krumMinimum(f);
  if (updates >= needed) return null;
  return `${name} with f = ${f} needs at least ${needed} updates (n >= 2f + 3) and the round has ${updates}; lower f or wait for more sites`;
}

/**
 * Multi-Krum (Blanchard et al. 2017): the unweighted mean of the `m` updates with the lowest
 * Krum scores; m = 0 means n - f. Ties in score go to the site whose name sorts first.
 */
export function multiKrumRule(f: number, m: number, name = 'multi-krum'): CohortRule {
  const count = (updates: number) => (m === 0 ? updates - f : m);
  return {
    problem(updates) {
      const krum = krumProblem(name, f, updates);
      if (krum) return krum;
      if (count(updates) > updates) return `${name} with m = ${m} averages more updates than the round's ${updates}; lower m (0 means n - f)`;
      return null;
    },
    async select(store, workingBytes) {
      const n = store.updates;
      const everyone = Array.from({ length: n }, (_, i) => i);
      const scores = krumScores(await pairwiseSquaredDistances(store, workingBytes), n, everyone, f);
      return byScore(everyone, scores)
        .slice(0, count(n))
        .sort((a, b) => a - b);
    },
    combine(rows, base, out) {
      const chosen = rows.length;
      for (let k = 0; k < out.length; k++) {
        let sum = 0;
        for (let r = 0; r < chosen; r++) sum += rows[r]![k]!;
        out[k] = base[k]! + sum / chosen;
      }
    },
  };
}

/** Krum (Blanchard et al. 2017): the one update with the lowest Krum score, as it is. */
export function krumRule(f: number): CohortRule {
  return multiKrumRule(f, 1, 'krum');
}
