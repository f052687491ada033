import { randomUUID } from 'node:crypto';
import { RoundMismatchError, type RoundRecord, type UpdateHeader } from '../../shared/wire/index.js';
import type { RoundAggregate } from '../aggregation/index.js';
import type { AdmittedUpload, UploadGate, VerifiedUpdate } from '../ingest/index.js';
import type { ModelManifest } from '../store/index.js';

export interface RoundOptions {
  federation: string;
  number: number;
  base: ModelManifest;
  selected: string[];
  aggregate: RoundAggregate;
  deadlineUnixMs: number;
  maxNorm: number | null;
  now: () => number;
  /** "masked" under secure aggregation: updates are masked uint32 vectors, not float deltas. */
  kind?: 'delta' | 'masked' | 'soft-labels';
  /** The strategy's name, for the round record. */
  strategy?: string;
  /** Called after a site's update is folded in. */
  onFolded?: (site: string) => void;
}

/** The journal record of a round just opened: nothing reported, nothing moved, no model yet. */
export function openRoundRecord(round: number, baseVersion: number, selected: readonly string[], startedUnixMs: number): RoundRecord {
  return {
    round,
    state: 'open',
    baseVersion,
    modelVersion: 0,
    selected: [...selected],
    reports: [],
    examples: 0,
    startedUnixMs,
    closedUnixMs: 0,
    bytesDown: 0,
    bytesUp: 0,
    metrics: {},
    message: '',
    refused: [],
    failed: [],
  };
}

/**
 * One open round: which sites were asked, which task each holds, whose update is in flight or
 * folded in. It decides whether an upload may enter, and when the round can close.
 */
export class Round implements UploadGate {
  readonly record: RoundRecord;
  readonly taskIds = new Map<string, string>();
  private readonly uploading = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private accepting = true;
  private poisoned: Error | null = null;
  private changeListener: (() => void) | null = null;
  private readonly refusedSites = new Set<string>();
  private readonly failedSites = new Set<string>();
  /** Under secure aggregation: the sites that completed the key exchange and may send input. */
  private eligible: Set<string> | null = null;

  constructor(private readonly options: RoundOptions) {
    for (const site of options.selected) this.taskIds.set(site, randomUUID());
    this.record = {
      ...openRoundRecord(options.number, options.base.version, options.selected, options.now()),
      secureAggregation: options.kind === 'masked',
      dropped: [],
      strategy: options.kind === 'masked' ? 'secure-sum' : (options.strategy ?? 'fedavg'),
    };
  }

  get number(): number {
    return this.options.number;
  }

  get deadline(): number {
    return this.options.deadlineUnixMs;
  }

  get aggregate(): RoundAggregate {
    return this.options.aggregate;
  }

  get failure(): Error | null {
    return this.poisoned;
  }

  hasReported(site: string): boolean {
    return this.record.reports.some((r) => r.site === site);
  }

  pendingSites(): string[] {
    return this.options.selected.filter((s) => !this.hasReported(s) && !this.refusedSites.has(s) && !this.failedSites.has(s) && (!this.eligible || this.eligible.has(s)));
  }

  /** The site declined its task (policy, privacy budget): the round stops waiting for it. */
  refuse(site: string): boolean {
    if (!this.taskIds.has(site) || this.hasReported(site) || this.refusedSites.has(site)) return false;
    this.refusedSites.add(site);
    this.record.refused = [...(this.record.refused ?? []), site];
    this.changeListener?.();
    return true;
  }

  /**
   * The site reported that its task failed: the round stops waiting for it. An upload of it that
   * is already being folded in still counts; a later one is refused.
   */
  abandon(site: string): boolean {
    if (!this.taskIds.has(site) || this.hasReported(site) || this.refusedSites.has(site) || this.failedSites.has(site) || this.uploading.has(site)) return false;
    this.failedSites.add(site);
    this.record.failed = [...(this.record.failed ?? []), site];
    this.changeListener?.();
    return true;
  }

  /** Secure aggregation: only sites whose key shares the others hold may send a masked input. */
  limitTo(sites: readonly string[]): void {
    this.eligible = new Set(sites);
    this.changeListener?.();
  }

  allReported(): boolean {
    return this.pendingSites().length === 0;
  }

  /** Called whenever an update is folded in, so the controller can re-check the close rule. */
  onChange(listener: () => void): void {
    this.changeListener = listener;
  }

  admit(header: UpdateHeader): AdmittedUpload {
    const n = this.options.number;
    const site = header.site;
    if (header.federation !== this.options.federation) {
      throw new RoundMismatchError(`update is for federation "${header.federation}", this coordinator runs "${this.options.federation}"`);
    }
    if (header.round !== n) {
      throw new RoundMismatchError(
        header.round < n
          ? `update from ${site} is for round ${header.round}, which is closed; late updates are refused`
          : `update from ${site} is for round ${header.round}, but round ${n} is the one open`,
      );
    }
    if (!this.accepting) throw new RoundMismatchError(`round ${n} closed before the update from ${site} arrived; late updates are refused`);
    const taskId = this.taskIds.get(site);
    if (!taskId) throw new RoundMismatchError(`site ${site} was not selected for round ${n}; its update is refused`);
    if (header.taskId !== taskId) throw new RoundMismatchError(`update from ${site} answers task ${header.taskId}, not the site's task for round ${n}`);
    if (header.baseVersion !== this.options.base.version) {
      throw new RoundMismatchError(`update from ${site} was trained from model version ${header.baseVersion}; round ${n} is based on version ${this.options.base.version}`);
    }
    if (this.hasReported(site)) throw new RoundMismatchError(`round ${n} already has the update from ${site}; a second one is refused`);
    if (this.refusedSites.has(site)) throw new RoundMismatchError(`site ${site} declined its task for round ${n}; its update is refused`);
    if (this.failedSites.has(site)) throw new RoundMismatchError(`site ${site} reported that its task for round ${n} failed; a later update is refused`);
    if (this.options.kind === 'masked' && !this.eligible?.has(site)) {
      throw new RoundMismatchError(`site ${site} is not part of round ${n}'s secure aggregation (its key shares did not reach the others in time); its masked input is refused`);
    }
    if (this.uploading.has(site)) throw new RoundMismatchError(`an upload from ${site} for round ${n} is already in progress`);
    this.uploading.add(site);
    return {
      expected: this.options.base.tensors,
      maxNorm: this.options.maxNorm,
      kind: this.options.kind ?? 'delta',
      accept: (update) => this.fold(update),
      release: () => {
        this.uploading.delete(site);
      },
    };
  }

  private async fold(update: VerifiedUpdate): Promise<void> {
    const { header, report } = update;
    if (!this.accepting) {
      this.uploading.delete(header.site);
      throw new RoundMismatchError(`round ${this.number} closed while the update from ${header.site} was arriving; late updates are refused`);
    }
    const work = this.options.aggregate.accept({ site: header.site, weight: header.numExamples, segments: update.segments() });
    this.inFlight.add(work);
    try {
      await work;
    } catch (err) {
      // A fold that failed half way leaves the sum unusable: the round must not produce a model.
      this.poisoned = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      this.inFlight.delete(work);
      this.uploading.delete(header.site);
    }
    this.record.reports.push({
      site: header.site,
      examples: header.numExamples,
      epochs: report.epochs,
      trainLoss: report.trainLoss,
      seconds: report.seconds,
      bytes: update.bytes,
      metrics: { ...report.metrics },
    });
    this.options.onFolded?.(header.site);
    this.record.examples += header.numExamples;
    this.record.bytesUp += update.bytes;
    this.changeListener?.();
  }

  /** Stops admitting uploads and waits for those already being folded in. */
  async stopAccepting(): Promise<void> {
    this.accepting = false;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
