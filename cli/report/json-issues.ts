/**
 * Turns zod's findings about a JSON file into sentences a person can act on: the file, the field
 * (as a path like `perSite[2].metrics.auroc`), the value found and what was expected.
 */
import type { z } from 'zod';

/** Problems listed before "and N more": the first few point at the cause; hundreds would bury it. */
const SHOWN = 5;

/** `perSite[2].metrics.auroc`, as the field appears in the JSON. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let value = raw;
  for (const p of path) {
    if (value === null || typeof value !== 'object' || !(p in (value as object))) return { found: false, value: undefined };
    value = (value as Record<PropertyKey, unknown>)[p];
  }
  return { found: true, value };
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** One line per problem (at most a few), each naming the field, what is there and zod's expectation. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], raw: unknown): string[] {
  const lines = issues.slice(0, SHOWN).map((issue) => {
    const path = fieldPath(issue.path);
    const where = path || 'the top level';
    if (issue.code === 'unrecognized_keys') return `${where}: unknown field(s) ${issue.keys.join(', ')}`;
    const { found, value } = valueAt(raw, issue.path);
    if (!found || value === undefined) return `${where} is missing (${issue.message})`;
    return `${where} is ${show(value)} (${issue.message})`;
  });
  if (issues.length > SHOWN) lines.push(`and ${issues.length - SHOWN} more`);
  return lines;
}
