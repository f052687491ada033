/**
 * Chooses which connected sites take part in a round: all of them, or `max` picked by a seeded
 * shuffle so a rerun with the same seed asks the same sites.
 */
export function pickSites(connected: readonly string[], max: number, seed: number): string[] {
  const sorted = [...connected].sort();
  if (max <= 0 || max >= sorted.length) return sorted;
  let state = seed >>> 0 || 1;
  const next = () => {
    // xorshift32: small, deterministic, good enough to pick sites.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j]!, sorted[i]!];
  }
  return sorted.slice(0, max).sort();
}
