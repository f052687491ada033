/**
 * How a YAML file's problem is pointed at: the key path as written in the file and the value found
 * there. Shared by every configuration file (site policy, agent, coordinator), so all speak the same way.
 */
type PathKey = PropertyKey;

/** `differentialPrivacy.budget` or `methods[1]`, as the key appears in the YAML. */
export function keyPath(path: readonly PathKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
}

export function valueAt(raw: unknown, path: readonly PathKey[]): { found: boolean; value: unknown } {
  let value = raw;
  for (const p of path) {
    if (value === null || typeof value !== 'object' || !(p in (value as object))) return { found: false, value: undefined };
    value = (value as Record<PathKey, unknown>)[p];
  }
  return { found: true, value };
}

export function show(value: unknown): string {
  // JSON would print .inf and .nan from the YAML as null.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
