/**
 * Canonical JSON for hashing: object keys sorted, no whitespace, numbers as JavaScript prints
 * them. The same entry always hashes the same however its line's keys happen to be ordered.
 * Non-finite numbers and undefined have no JSON form, so they are refused rather than silently
 * turned into null (which would hash a different value from the one logged).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${value} has no canonical JSON form`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value as object)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  throw new TypeError(`a ${typeof value} has no canonical JSON form`);
}
