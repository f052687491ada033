import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Progress, RoundEvent, RoundRecord } from '../../shared/wire/index.js';
import type { CoordinatorState } from '../rounds/index.js';

/** The JSON the dashboard's endpoints answer with. Field names are the page's contract. */
export interface SiteView {
  name: string;
  enrolled: boolean;
  connected: boolean;
  /** idle, training, evaluating, or offline when no session is live. */
  state: string;
  /** Last message (heartbeat, progress, answer) from the site; 0 when never seen by this process. */
  lastSeenUnixMs: number;
  connectedAtUnixMs: number;
  backend: string;
  trainExamples: number;
}

export interface OverviewView {
  federation: string;
  nowUnixMs: number;
  modelVersion: number;
  running: boolean;
  roundsRemaining: number;
  sites: SiteView[];
}

export interface SiteProgressView extends Omit<Progress, 'taskId' | 'round'> {
  site: string;
  /** When the coordinator last heard of this site's progress (0: nothing yet). */
  unixMs: number;
  /** Model bytes the site said it had downloaded this round, and update bytes it had sent: kept after the phase moves on. */
  downloadedBytes: number;
  uploadedBytes: number;
}

export interface CurrentRoundView {
  round: number;
  state: string;
  startedUnixMs: number;
  /** 0 when not known (an evaluation round). */
  deadlineUnixMs: number;
  baseVersion: number;
  strategy: string;
  selected: string[];
  reported: string[];
  bytesUp: number;
  bytesDown: number;
  sites: SiteProgressView[];
}

export interface RoundView {
  round: number;
  state: string;
  startedUnixMs: number;
  closedUnixMs: number;
  modelVersion: number;
  examples: number;
  bytesUp: number;
  bytesDown: number;
  /** Held-out metrics of the round's model (when the coordinator evaluates). */
  metrics: Record<string, number>;
  /** What each site reported on its training: its loss and its own metrics. */
  siteMetrics: { site: string; examples: number; trainLoss: number; metrics: Record<string, number> }[];
  message: string;
}

export interface ModelView {
  version: number;
  parent: number | null;
  round: number | null;
  createdAt: string;
  sha256: string;
  totalBytes: number;
}

export type DashboardSources = CoordinatorState;

/** The page draws the last rounds and versions; a long federation's whole history is for `medley report`. */
const MAX_ROUNDS = 500;
const MAX_MODELS = 100;

/**
 * Read-only views of the coordinator's state for the dashboard. Per-site progress of the round in
 * progress comes from the round events (the agents' progress messages); everything else is read
 * from the live objects at request time.
 */
export class DashboardData {
  private current: { round: number; record: RoundRecord | null; progress: Map<string, SiteProgressView> } | null = null;
  private readonly modelViews = new Map<number, ModelView>();
  private readonly unsubscribe: () => void;

  constructor(private readonly sources: DashboardSources) {
    const open = sources.controller.openRound;
    if (open) this.current = { round: open.number, record: open.record, progress: new Map() };
    // The replay from the open round on fills in progress already reported before the dashboard started.
    this.unsubscribe = sources.events.subscribe(open?.number ?? Number.MAX_SAFE_INTEGER, (event) => this.onEvent(event));
  }

  private onEvent(event: RoundEvent): void {
    if (event.kind === 'round-started') {
      this.current = { round: event.round, record: event.record ?? null, progress: new Map() };
    } else if (event.kind === 'round-closed' || event.kind === 'round-failed') {
      if (this.current?.round === event.round) this.current = null;
    } else if (event.kind === 'progress' && event.progress && this.current?.round === event.round && event.site) {
      const { taskId: _task, round: _round, ...progress } = event.progress;
      const before = this.current.progress.get(event.site);
      this.current.progress.set(event.site, {
        site: event.site,
        ...progress,
        unixMs: event.unixMs,
        downloadedBytes: progress.phase === 'downloading' ? progress.bytes : (before?.downloadedBytes ?? 0),
        uploadedBytes: progress.phase === 'uploading' ? progress.bytes : (before?.uploadedBytes ?? 0),
      });
    }
  }

  overview(): OverviewView {
    const { sessions, registry, store, controller } = this.sources;
    const enrolled = registry.list().map((s) => s.name);
    const live = sessions.connected().map((s) => s.site);
    const names = [...new Set([...enrolled, ...live])].sort((a, b) => a.localeCompare(b));
    return {
      federation: this.sources.federation,
      nowUnixMs: Date.now(),
      modelVersion: store.latest,
      running: controller.isRunning,
      roundsRemaining: controller.roundsRemaining,
      sites: names.map((name) => {
        const session = sessions.get(name);
        return {
          name,
          enrolled: enrolled.includes(name),
          connected: Boolean(session),
          state: session ? session.state : 'offline',
          lastSeenUnixMs: sessions.lastSeen(name),
          connectedAtUnixMs: session?.connectedAt ?? 0,
          backend: session?.backend ?? '',
          trainExamples: session?.trainExamples ?? 0,
        };
      }),
    };
  }

  currentRound(): CurrentRoundView | null {
    const current = this.current;
    if (!current) return null;
    const open = this.sources.controller.openRound;
    const record = open?.number === current.round ? open.record : current.record;
    if (!record) return null;
    const waiting = (site: string): SiteProgressView => ({ site, phase: 'waiting', epoch: 0, epochs: 0, bytes: 0, totalBytes: 0, loss: 0, message: '', unixMs: 0, downloadedBytes: 0, uploadedBytes: 0 });
    return {
      round: current.round,
      state: record.state,
      startedUnixMs: record.startedUnixMs,
      deadlineUnixMs: open?.number === current.round ? open.deadline : 0,
      baseVersion: record.baseVersion,
      strategy: record.strategy ?? '',
      selected: [...record.selected],
      reported: record.reports.map((r) => r.site),
      bytesUp: record.bytesUp,
      bytesDown: record.bytesDown,
      sites: record.selected.map((site) => current.progress.get(site) ?? waiting(site)),
    };
  }

  rounds(): RoundView[] {
    // The journal keeps the last RECENT_ROUNDS rounds in memory; older ones stay on disk.
    const records = this.sources.journal.recent(MAX_ROUNDS);
    return records.map((r) => ({
      round: r.round,
      state: r.state,
      startedUnixMs: r.startedUnixMs,
      closedUnixMs: r.closedUnixMs,
      modelVersion: r.modelVersion,
      examples: r.examples,
      bytesUp: r.bytesUp,
      bytesDown: r.bytesDown,
      metrics: { ...r.metrics },
      siteMetrics: r.reports.map((s) => ({ site: s.site, examples: s.examples, trainLoss: s.trainLoss, metrics: { ...s.metrics } })),
      message: r.message,
    }));
  }

  /** The latest versions, newest first. */
  async models(): Promise<ModelView[]> {
    const { store } = this.sources;
    const versions: number[] = [];
    for (let v = store.latest; v >= 1 && versions.length < MAX_MODELS; v--) versions.push(v);
    for (const v of this.modelViews.keys()) if (!versions.includes(v)) this.modelViews.delete(v);
    const views: ModelView[] = [];
    for (const version of versions) {
      let view = this.modelViews.get(version);
      if (!view) {
        view = await this.readModelView(version);
        this.modelViews.set(version, view);
      }
      views.push(view);
    }
    return views;
  }

  /**
   * A version's summary from its manifest on disk. Read here rather than through
   * ModelStore.manifest(), which keeps every manifest (topology included) it is asked for in
   * memory: a dashboard open for months would hold them all.
   */
  private async readModelView(version: number): Promise<ModelView> {
    const path = join(dirname(this.sources.store.weightsPath(version)), 'manifest.json');
    const m = JSON.parse(await readFile(path, 'utf8')) as Partial<ModelView & { createdAt: string }>;
    return {
      version,
      parent: m.parent ?? null,
      round: m.round ?? null,
      createdAt: String(m.createdAt ?? ''),
      sha256: String(m.sha256 ?? ''),
      totalBytes: Number(m.totalBytes ?? 0),
    };
  }

  close(): void {
    this.unsubscribe();
  }
}
