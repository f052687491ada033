import type { z } from 'zod';
import { keyPath, show, valueAt } from '../config/yaml-values.js';

/** The expected form of each policy key, as a hospital administrator would write it. */
const EXPECTED: Readonly<Record<string, string>> = {
  '': 'a mapping with at least `methods` (for example `methods: [fedavg]`)',
  methods: 'a list of method names such as [fedavg, fedprox], or `any`',
  maxParameters: 'a whole number of at least 1 (for example 50000000)',
  requireSecureAggregation: 'true or false',
  differentialPrivacy: 'a mapping with budget and optionally minNoiseMultiplier and maxClipNorm',
  'differentialPrivacy.minNoiseMultiplier': 'a number above 0 (for example 1.0)',
  'differentialPrivacy.maxClipNorm': 'a number above 0 (for example 1.0)',
  'differentialPrivacy.budget': 'a mapping { epsilon, delta } (for example { epsilon: 8, delta: 1e-5 })',
  'differentialPrivacy.budget.epsilon': 'a number above 0 (for example 8)',
  'differentialPrivacy.budget.delta': 'a number between 0 and 1, exclusive (for example 1e-5)',
};

/** One readable sentence per problem zod found, naming the key path, the value and the expected form. */
export function describeIssue(issue: z.core.$ZodIssue, raw: unknown, allowedKeys: Readonly<Record<string, readonly string[]>>): string[] {
  const path = keyPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys[path] ?? [];
    return issue.keys.map((key) => `unknown key ${path ? `${path}.` : ''}${key} (allowed${path ? ` in ${path}` : ''}: ${allowed.join(', ')})`);
  }
  // Look up the expected form without list indices: methods[2] is described by `methods`.
  const schemaPath = issue.path.filter((p) => typeof p !== 'number');
  const expected = EXPECTED[keyPath(schemaPath)] ?? issue.message;
  const { found, value } = valueAt(raw, issue.path);
  const where = path || 'the file';
  if (!found || value === undefined) return [`${where} is missing; expected ${expected}`];
  return [`${where} is ${show(value)}; expected ${expected}`];
}
