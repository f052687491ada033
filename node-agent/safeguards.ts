import { join } from 'node:path';
import type { Task } from '../shared/wire/index.js';
import { AuditLog, type AuditEntry } from './audit/index.js';
import { DEFAULT_POLICY, checkTask, type SitePolicy } from './policy/index.js';
import { PrivacyAccountant, privatizeUpdate } from './privacy/index.js';

/** The delta epsilon is reported at when the site's policy names no budget. */
const REPORT_DELTA = 1e-5;

export type SentRecord = AuditEntry;

/**
 * What the hospital controls at its agent: the policy a task must satisfy, the differential
 * privacy applied to what leaves, the privacy budget it spends, and the audit log of every
 * message that left. The agent consults it before, during and after each task.
 */
export class Safeguards {
  private constructor(
    readonly policy: SitePolicy,
    private readonly accountant: PrivacyAccountant | null,
    private readonly log: AuditLog | null,
  ) {}

  /** Files in the agent's state folder: privacy-ledger.json and audit.jsonl. */
  static async open(stateDir: string, policy: SitePolicy = DEFAULT_POLICY): Promise<Safeguards> {
    return new Safeguards(policy, await PrivacyAccountant.open(join(stateDir, 'privacy-ledger.json')), await AuditLog.open(join(stateDir, 'audit.jsonl')));
  }

  /** Accepts every task, keeps nothing on disk (tests and benchmarks). */
  static permissive(): Safeguards {
    return new Safeguards(DEFAULT_POLICY, null, null);
  }

  private get delta(): number {
    return this.policy.differentialPrivacy?.budget.delta ?? REPORT_DELTA;
  }

  /** Null when the site takes the task; otherwise the reason it declines, for the coordinator. */
  async review(task: Task): Promise<string | null> {
    const dp = task.privacy && task.privacy.clipNorm > 0 ? { noiseMultiplier: task.privacy.noiseMultiplier, clipNorm: task.privacy.clipNorm } : null;
    const outlook =
      this.accountant && dp ? { epsilonAfter: this.accountant.epsilonAfter(dp.noiseMultiplier, this.delta), spentEpsilon: this.accountant.spent(this.delta).epsilon } : undefined;
    return checkTask(
      this.policy,
      { method: task.method, secureAggregation: Boolean(task.secureAggregation), dp, parameters: task.parameters ?? 0 },
      outlook,
    );
  }

  /**
   * Clips and noises the update in place when the task asks for DP, and records the spend. `open`:
   * the elements training could change (TGD, truncated transfer); frozen ones get no noise.
   */
  async privatize(task: Task, delta: Float32Array, open?: Uint8Array): Promise<AuditEntry['dp']> {
    const dp = task.privacy;
    if (!dp || !(dp.clipNorm > 0)) return null;
    privatizeUpdate(delta, { clipNorm: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier }, undefined, open);
    if (dp.noiseMultiplier <= 0) return null;
    if (this.accountant) {
      await this.accountant.record({ round: task.round, federation: task.federation, noiseMultiplier: dp.noiseMultiplier, clipNorm: dp.clipNorm });
      return { epsilon: this.accountant.spent(this.delta).epsilon, delta: this.delta, noiseMultiplier: dp.noiseMultiplier };
    }
    return null;
  }

  async audit(entry: AuditEntry): Promise<void> {
    await this.log?.append(entry);
  }
}
