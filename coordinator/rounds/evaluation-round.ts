import { randomUUID } from 'node:crypto';
import type { EvaluationBinding } from '../../shared/crypto/index.js';
import { poolEvaluations, type RecordedSiteEvaluation, type SiteEvaluation, type SiteEvaluationSummary } from '../../shared/evaluation/index.js';
import { RoundMismatchError, type RoundRecord } from '../../shared/wire/index.js';
import { openRoundRecord } from './round.js';

export interface EvaluationRoundOptions {
  federation: string;
  number: number;
  /** The model version every selected site evaluates; the round leaves it unchanged. */
  modelVersion: number;
  selected: string[];
  deadlineUnixMs: number;
  now: () => number;
}

/**
 * One open evaluation round: which sites were asked, which task each holds, which summaries are
 * in. It trains nothing: it closes with the sites' figures and their pooled figures in its record,
 * and the model version stays where it was.
 */
export class EvaluationRound {
  readonly record: RoundRecord;
  readonly taskIds = new Map<string, string>();
  private readonly received = new Map<string, SiteEvaluationSummary>();
  private readonly refusedSites = new Set<string>();
  private readonly failedSites = new Set<string>();
  private accepting = true;
  private changeListener: (() => void) | null = null;

  constructor(private readonly options: EvaluationRoundOptions) {
    for (const site of options.selected) this.taskIds.set(site, randomUUID());
    this.record = { ...openRoundRecord(options.number, options.modelVersion, options.selected, options.now()), strategy: 'evaluate' };
  }

  get number(): number {
    return this.options.number;
  }

  get deadline(): number {
    return this.options.deadlineUnixMs;
  }

  /** An evaluation round has no running sum to spoil. */
  get failure(): Error | null {
    return null;
  }

  onChange(listener: () => void): void {
    this.changeListener = listener;
  }

  pendingSites(): string[] {
    return this.options.selected.filter((s) => !this.received.has(s) && !this.refusedSites.has(s) && !this.failedSites.has(s));
  }

  allReported(): boolean {
    return this.pendingSites().length === 0;
  }

  refuse(site: string): boolean {
    if (!this.taskIds.has(site) || this.received.has(site) || this.refusedSites.has(site)) return false;
    this.refusedSites.add(site);
    this.record.refused = [...(this.record.refused ?? []), site];
    this.changeListener?.();
    return true;
  }

  abandon(site: string): boolean {
    if (!this.taskIds.has(site) || this.received.has(site) || this.refusedSites.has(site) || this.failedSites.has(site)) return false;
    this.failedSites.add(site);
    this.record.failed = [...(this.record.failed ?? []), site];
    this.changeListener?.();
    return true;
  }

  /** Takes a summary that passed the edge (signatures, schema) if it answers this round's task for its site. */
  accept(binding: EvaluationBinding, summary: SiteEvaluationSummary, bytes: number): void {
    const n = this.options.number;
    const site = binding.site;
    if (binding.federation !== this.options.federation) throw new RoundMismatchError(`evaluation is for federation "${binding.federation}", this coordinator runs "${this.options.federation}"`);
    if (binding.round !== n) throw new RoundMismatchError(`evaluation from ${site} is for round ${binding.round}, but round ${n} is the evaluation round open; it was refused`);
    if (!this.accepting) throw new RoundMismatchError(`evaluation round ${n} closed before the summary from ${site} arrived; late summaries are refused`);
    const taskId = this.taskIds.get(site);
    if (!taskId) throw new RoundMismatchError(`site ${site} was not asked to evaluate in round ${n}; its summary is refused`);
    if (binding.taskId !== taskId) throw new RoundMismatchError(`evaluation from ${site} answers task ${binding.taskId}, not the site's task for round ${n}`);
    if (binding.modelVersion !== this.options.modelVersion) {
      throw new RoundMismatchError(`evaluation from ${site} scored model version ${binding.modelVersion}; round ${n} evaluates version ${this.options.modelVersion}`);
    }
    if (this.received.has(site)) throw new RoundMismatchError(`round ${n} already has the evaluation from ${site}; a second one (or a replay) is refused`);
    if (this.refusedSites.has(site) || this.failedSites.has(site)) throw new RoundMismatchError(`site ${site} declined or gave up its evaluation task for round ${n}; its summary is refused`);
    this.received.set(site, summary);
    this.record.reports.push({
      site,
      examples: summary.examples,
      epochs: 0,
      trainLoss: 0,
      seconds: summary.seconds,
      bytes,
      metrics: Object.fromEntries(Object.entries(summary.metrics).filter((e): e is [string, number] => typeof e[1] === 'number')),
    });
    this.record.examples += summary.examples;
    this.record.bytesUp += bytes;
    this.changeListener?.();
  }

  /** Stops taking summaries and writes the per-site and pooled figures into the record. */
  close(minSites: number): RoundRecord {
    this.accepting = false;
    const record = this.record;
    const sites: SiteEvaluation[] = this.options.selected.filter((s) => this.received.has(s)).map((site) => ({ site, summary: this.received.get(site)! }));
    const recorded: RecordedSiteEvaluation[] = sites.map(({ site, summary }) => {
      const { calibration: _sweep, ...kept } = summary;
      return { site, ...kept };
    });
    record.evaluation = { modelVersion: this.options.modelVersion, sites: recorded, pooled: poolEvaluations(sites) };
    record.closedUnixMs = this.options.now();
    const missing = this.pendingSites();
    const pooled = record.evaluation.pooled;
    if (sites.length < minSites) {
      record.state = 'failed';
      record.message = `evaluation round ${record.round} got ${sites.length} of the ${minSites} site summaries it needs${missing.length ? ` (none from ${missing.join(', ')})` : ''}; the figures it has are recorded`;
    } else {
      record.state = 'closed';
      const auroc = pooled?.metrics.auroc;
      record.message =
        `evaluation round ${record.round} closed: model version ${this.options.modelVersion} scored at ${sites.length} site(s) on ${record.examples} validation images` +
        (typeof auroc === 'number' ? `, pooled AUROC ${auroc.toFixed(4)}` : '') +
        (missing.length ? `; no summary from ${missing.join(', ')}` : '');
    }
    return record;
  }
}
