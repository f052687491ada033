import type { SitePolicy } from './site-policy.js';

/** What a task asks of the site, as far as the policy cares. */
export interface TaskTerms {
  method: string;
  secureAggregation: boolean;
  dp: { noiseMultiplier: number; clipNorm: number } | null;
  /** Parameter count of the model the site would train. */
  parameters: number;
}

/**
 * The site's privacy spend, from its PrivacyAccountant at the policy's budget delta:
 * spentEpsilon so far, epsilonAfter if it takes this task.
 */
export interface PrivacyOutlook {
  epsilonAfter: number;
  spentEpsilon: number;
}

/**
 * Whether the site may take this task: null if so, otherwise one sentence for the person at
 * the coordinator saying which rule it breaks (the agent sends it back as its refusal).
 */
export function checkTask(policy: SitePolicy, task: TaskTerms, privacy?: PrivacyOutlook): string | null {
  if (policy.methods !== 'any') {
    const accepted = policy.methods.map((m) => m.toLowerCase());
    if (!accepted.includes(task.method.toLowerCase())) {
      return `site policy accepts only methods ${policy.methods.join(', ')}; this task uses ${task.method}`;
    }
  }
  if (policy.maxParameters !== undefined && task.parameters > policy.maxParameters) {
    return `task's model has ${count(task.parameters)} parameters, above the site's limit of ${count(policy.maxParameters)}`;
  }
  // Secure aggregation and differential privacy protect model updates; an evaluation task sends
  // none (only aggregate statistics), so only the rules above apply to it.
  if (task.method.toLowerCase() === 'evaluate') return null;
  if (policy.requireSecureAggregation && !task.secureAggregation) {
    return 'site policy requires secure aggregation; this task has it off';
  }
  const dp = policy.differentialPrivacy;
  if (!dp) return null;
  if (!task.dp) return 'site policy requires differential privacy; this task has it off';
  if (dp.minNoiseMultiplier !== undefined && task.dp.noiseMultiplier < dp.minNoiseMultiplier) {
    return `task's DP noise multiplier ${num(task.dp.noiseMultiplier)} is below the site's minimum ${num(dp.minNoiseMultiplier)}`;
  }
  if (dp.maxClipNorm !== undefined && task.dp.clipNorm > dp.maxClipNorm) {
    return `task's DP clip norm ${num(task.dp.clipNorm)} is above the site's maximum ${num(dp.maxClipNorm)}`;
  }
  // Fail closed: a budget that cannot be checked is not a budget.
  if (!privacy) return "site policy sets a privacy budget, but the agent has no privacy ledger to check this task against it";
  const { epsilon, delta } = dp.budget;
  if (!(privacy.epsilonAfter <= epsilon)) {
    return `this round would bring the site's privacy spend from epsilon ${num(privacy.spentEpsilon)} to ${numAbove(privacy.epsilonAfter, epsilon)} (delta ${delta.toExponential()}), above its budget of ${num(epsilon)}`;
  }
  return null;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Three significant digits: 0.5, 1, 8.4, 1.23e+3 stays readable as 1230. */
function num(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : 'infinity';
}

/** Like num, with as many digits as it takes not to print a value above the limit as the limit. */
function numAbove(x: number, limit: number): string {
  if (!Number.isFinite(x)) return 'infinity';
  for (let digits = 3; digits <= 12; digits++) {
    const text = String(Number(x.toPrecision(digits)));
    if (Number(text) > limit) return text;
  }
  return String(x);
}
