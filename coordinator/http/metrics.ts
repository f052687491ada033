import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RoundEvent } from '../../shared/wire/index.js';
import type { CoordinatorState } from '../rounds/index.js';
import { REFUSAL_REASONS, refusalReason } from './refusal-reason.js';

/** What the metrics read at scrape time: the coordinator's own state, never a copy of it. */
export type MetricsSources = Omit<CoordinatorState, 'federation'>;

/** Rounds last from seconds (a test, a small model) to an hour (a hospital's nightly training). */
const ROUND_SECONDS_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];
const ROUND_STATES = ['open', 'closed', 'failed', 'aborted'] as const;

/**
 * The coordinator's Prometheus metrics, in a registry of its own (two coordinators in one process
 * each keep theirs). Counters move on traffic the federation service reports (see
 * TrafficObserver in coordinator/server/federation-service.ts) and on round events; gauges are
 * read from the live state when Prometheus scrapes.
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly accepted: Counter;
  private readonly refused: Counter<'reason'>;
  private readonly bytesIn: Counter;
  private readonly bytesOut: Counter;
  private readonly roundSeconds: Histogram<'state'>;
  private readonly unsubscribe: () => void;
  private processMetrics = false;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.accepted = new Counter({ name: 'medley_updates_accepted_total', help: 'Model updates that passed every check and were folded into a round', registers });
    this.refused = new Counter({ name: 'medley_updates_refused_total', help: 'Model updates refused, by reason', labelNames: ['reason'], registers });
    // Every reason is shown from the start (at 0), so a rate() over it has a series before the first refusal.
    for (const reason of REFUSAL_REASONS) this.refused.inc({ reason }, 0);
    this.bytesIn = new Counter({ name: 'medley_update_bytes_received_total', help: 'Sealed update bytes received from sites (refused uploads included)', registers });
    this.bytesOut = new Counter({ name: 'medley_model_bytes_sent_total', help: 'Model weight bytes sent to sites', registers });
    this.roundSeconds = new Histogram({
      name: 'medley_round_duration_seconds',
      help: 'Time from a round opening to its closing, by how it ended',
      labelNames: ['state'],
      buckets: ROUND_SECONDS_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'medley_rounds',
      help: 'Rounds in the round journal, by state',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = new Map<string, number>(ROUND_STATES.map((s) => [s, 0]));
        for (const [state, n] of sources.journal.countByState()) counts.set(state, (counts.get(state) ?? 0) + n);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'medley_current_round',
      help: 'The round open now (0 when none)',
      registers,
      collect() {
        this.set(sources.controller.openRound?.number ?? 0);
      },
    });
    new Gauge({
      name: 'medley_run_active',
      help: '1 while a run of rounds is going',
      registers,
      collect() {
        this.set(sources.controller.isRunning ? 1 : 0);
      },
    });
    new Gauge({
      name: 'medley_connected_sites',
      help: 'Sites with a live, authenticated session',
      registers,
      collect() {
        this.set(sources.sessions.connected().length);
      },
    });
    new Gauge({
      name: 'medley_enrolled_sites',
      help: "Sites on the federation's site list",
      registers,
      collect() {
        this.set(sources.registry.list().length);
      },
    });
    new Gauge({
      name: 'medley_model_version',
      help: 'The latest global model version',
      registers,
      collect() {
        this.set(sources.store.latest);
      },
    });
    // Live events only (no replay of history): a restarted coordinator does not count old rounds twice.
    this.unsubscribe = sources.events.subscribe(Number.MAX_SAFE_INTEGER, (event) => this.onRoundEvent(event));
  }

  private onRoundEvent(event: RoundEvent): void {
    if ((event.kind === 'round-closed' || event.kind === 'round-failed') && event.record && event.record.closedUnixMs > 0) {
      const seconds = (event.record.closedUnixMs - event.record.startedUnixMs) / 1000;
      this.roundSeconds.observe({ state: event.record.state }, Math.max(0, seconds));
    }
  }

  /**
   * Adds Node's process metrics (process_resident_memory_bytes, event loop lag, GC). Only when
   * /metrics is served: their observers cost nothing worth keeping for in-process coordinators.
   */
  includeProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  updateAccepted(): void {
    this.accepted.inc();
  }

  updateRefused(err: unknown): void {
    this.refused.inc({ reason: refusalReason(err) });
  }

  updateBytesReceived(bytes: number): void {
    this.bytesIn.inc(bytes);
  }

  modelBytesSent(bytes: number): void {
    this.bytesOut.inc(bytes);
  }

  /** The exposition text and its content type, for GET /metrics. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  close(): void {
    this.unsubscribe();
    this.registry.clear();
  }
}
