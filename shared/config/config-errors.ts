import type { z } from 'zod';
import { keyPath, show, valueAt } from './yaml-values.js';

/**
 * Turns zod's issues for a configuration file into sentences an administrator can act on: the key
 * path as written in the YAML, the value found there and the form expected. Kept apart from any one
 * schema so every configuration file, and the environment variables that override them, describe
 * their problems the same way.
 */
export interface KeyDescriptions {
  /** Allowed keys of each mapping, by key path ('' is the top level). */
  readonly keys: Readonly<Record<string, readonly string[]>>;
  /** The expected form of each key, by key path ('' is the whole file). */
  readonly expected: Readonly<Record<string, string>>;
}

/**
 * Edit distance counting a swap of neighbouring letters as one edit (optimal string alignment),
 * for "did you mean": misspellings are usually one or two keystrokes away, often a swap (`nmae`).
 */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** A close key at the same level, or the same key at another level (say `source` outside `data`). */
export function suggestKey(key: string, at: string, keys: KeyDescriptions['keys']): string | undefined {
  const here = keys[at] ?? [];
  const lower = key.toLowerCase();
  const close = here
    .map((k) => ({ k, d: k.toLowerCase() === lower ? 0 : distance(lower, k.toLowerCase()) }))
    // Short keys get one edit at most, so `seed` is not offered for `size`.
    .filter(({ d }) => d <= Math.min(2, Math.max(1, Math.floor(key.length / 3))))
    .sort((a, b) => a.d - b.d)[0];
  if (close) return at ? `${at}.${close.k}` : close.k;
  for (const [path, allowed] of Object.entries(keys)) {
    if (path !== at && allowed.includes(key)) return path ? `${path}.${key}` : key;
  }
  return undefined;
}

/**
 * One sentence per problem zod found. Custom checks (the shared value parsers) keep their own words.
 * `name` says how a key is called where its value came from: the key path itself in a file (the
 * default), the variable's name for the environment.
 */
export function describeConfigIssue(issue: z.core.$ZodIssue, raw: unknown, described: KeyDescriptions, name: (path: string) => string = (p) => p): string[] {
  const path = keyPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const allowed = described.keys[path] ?? [];
    return issue.keys.map((key) => {
      const hint = suggestKey(key, path, described.keys);
      const full = `${path ? `${path}.` : ''}${key}`;
      return `unknown key ${full}${hint ? ` (did you mean ${hint}?)` : ''} (allowed${path ? ` in ${path}` : ''}: ${allowed.join(', ')})`;
    });
  }
  const { found, value } = valueAt(raw, issue.path);
  // A value of the right type that a shared parser refused: its message already says what is wrong and what to write.
  if (issue.code === 'custom') return [`${name(path)} is ${show(value)}: ${issue.message}`];
  const schemaPath = issue.path.filter((p) => typeof p !== 'number');
  const expected = described.expected[keyPath(schemaPath)] ?? issue.message;
  const where = path ? name(path) : 'the file';
  if (!found || value === undefined) return [`${where} is missing; expected ${expected}`];
  return [`${where} is ${show(value)}; expected ${expected}`];
}
