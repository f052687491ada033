import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../shared/wire/index.js';
import { describeIssue } from './policy-errors.js';

export { checkTask, type TaskTerms, type PrivacyOutlook } from './check-task.js';

const budgetSchema = z.strictObject({
  epsilon: z.number().positive(),
  delta: z.number().gt(0).lt(1),
});

const differentialPrivacySchema = z.strictObject({
  minNoiseMultiplier: z.number().positive().optional(),
  maxClipNorm: z.number().positive().optional(),
  /** Total the site will ever spend in this federation; required, since DP without a cap keeps spending. */
  budget: budgetSchema,
});

/** Strict at every level: a misspelt key (say `requireSecureAgregation`) must not silently mean "no rule". */
export const sitePolicySchema = z.strictObject({
  /** Task methods the site accepts, or `any`. Required: the file is the hospital's allow-list. */
  methods: z.union([z.literal('any'), z.array(z.string().min(1)).min(1)]),
  maxParameters: z.number().int().positive().optional(),
  requireSecureAggregation: z.boolean().default(false),
  differentialPrivacy: differentialPrivacySchema.optional(),
  /**
   * Whether an evaluation may send per-image scores. Absent means false. The protocol has no task
   * that asks for them yet: this version of the agent sends aggregate statistics only, whatever
   * this says; the field is here so a hospital's consent is recorded before any such task exists.
   */
  allowPerImageScores: z.boolean().optional(),
});

export type SitePolicy = z.infer<typeof sitePolicySchema>;

/** Allowed keys of each mapping, by key path, for "unknown key" errors. */
export const POLICY_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(sitePolicySchema.shape),
  differentialPrivacy: Object.keys(differentialPrivacySchema.shape),
  'differentialPrivacy.budget': Object.keys(budgetSchema.shape),
};

/**
 * The policy of an agent started without a policy file: any method, any model size, no
 * secure-aggregation requirement, no differential-privacy requirement (so no privacy budget).
 * It keeps a plain `medley agent run` working as before; a hospital that wants rules writes a file.
 */
export const DEFAULT_POLICY: Readonly<SitePolicy> = Object.freeze<SitePolicy>({
  methods: 'any',
  requireSecureAggregation: false,
});

/** Reads and validates a site policy YAML file; every error names the file and the key. */
export async function loadSitePolicy(path: string): Promise<SitePolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`site policy ${path} does not exist; check the path, or start the agent without a policy to accept any task`);
    throw new ConfigError(`site policy ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parseSitePolicy(text, path);
}

/** Parses policy YAML text; `source` names the file in errors. */
export function parseSitePolicy(text: string, source: string): SitePolicy {
  // Duplicate keys are errors too (yaml's default): two `maxParameters` lines would leave one ignored.
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const at = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    const what = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`site policy ${source} is not valid YAML${at}: ${what}`, { cause: err });
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) {
    throw new ConfigError(`site policy ${source} is empty; expected a mapping with at least \`methods\` (for example \`methods: [fedavg]\`)`);
  }
  const parsed = sitePolicySchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => describeIssue(issue, raw, POLICY_KEYS));
    throw new ConfigError(`site policy ${source}: ${problems.join('; ')}`, { cause: parsed.error });
  }
  return parsed.data;
}
