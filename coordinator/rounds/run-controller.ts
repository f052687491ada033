import {
  BusyError,
  RoundMismatchError,
  type RoundRecord,
  type StartRoundsReply,
  type StartRoundsRequest,
  type UpdateHeader,
} from '../../shared/wire/index.js';
import type { AggregationStrategy } from '../aggregation/index.js';
import type { AdmittedUpload, UploadGate } from '../ingest/index.js';
import { readFloat32Segments, type ModelManifest, type ModelStore, type RoundJournal } from '../store/index.js';
import type { RoundEvents } from './round-events.js';
import { Round } from './round.js';
import type { SiteSession, SiteSessions } from './site-sessions.js';
import { pickSites } from './site-selection.js';

/** Scores a stored model version on data the coordinator holds (optional). */
export interface ModelEvaluator {
  readonly backend: string;
  evaluate(manifest: ModelManifest, weightsPath: string): Promise<Record<string, number>>;
}

export interface RunControllerDeps {
  federation: string;
  store: ModelStore;
  journal: RoundJournal;
  sessions: SiteSessions;
  strategy: AggregationStrategy;
  events: RoundEvents;
  evaluator?: ModelEvaluator;
  log: (message: string) => void;
  now?: () => number;
  /** How long a selected site may stay disconnected before the round stops waiting for it. */
  dropGraceMs?: number;
  maxUpdateNorm?: number | null;
}

export type RunSettings = Required<Omit<StartRoundsRequest, 'maxSites' | 'seed'>> & Pick<StartRoundsRequest, 'maxSites' | 'seed'>;

const DEFAULTS = { epochs: 1, batchSize: 32, learningRate: 0.001, deadlineSeconds: 600, waitSeconds: 120 };

/**
 * Runs rounds one after another: wait for enough sites, hand out tasks, take updates in until
 * every selected site answered (or the deadline, or the rest dropped out), then write the new
 * global version and journal the round. The round loop lives here and nowhere else.
 */
export class RunController implements UploadGate {
  private current: Round | null = null;
  private running = false;
  private remaining = 0;
  private readonly now: () => number;
  private wake: (() => void) | null = null;

  constructor(private readonly deps: RunControllerDeps) {
    this.now = deps.now ?? Date.now;
    deps.sessions.on('connected', () => this.poke());
    deps.sessions.on('disconnected', () => this.poke());
  }

  get isRunning(): boolean {
    return this.running;
  }

  get roundsRemaining(): number {
    return this.remaining;
  }

  get openRound(): Round | null {
    return this.current;
  }

  /** Closes rounds a previous process left open: their running sums died with it. */
  async recover(): Promise<void> {
    for (const record of this.deps.journal.unfinished()) {
      const closed: RoundRecord = {
        ...record,
        state: 'aborted',
        closedUnixMs: this.now(),
        message: `the coordinator stopped while round ${record.round} was open; its partial sum was lost and the model stays at version ${record.baseVersion}`,
      };
      await this.deps.journal.append('aborted', closed);
      this.deps.log(closed.message);
    }
  }

  start(request: StartRoundsRequest): StartRoundsReply {
    if (this.running) throw new BusyError(`rounds are already running (${this.remaining} to go); wait for them to finish`);
    if (request.rounds < 1) throw new BusyError('ask for at least one round (--rounds 1 or more)');
    const settings: RunSettings = {
      rounds: request.rounds,
      minSites: Math.max(1, request.minSites),
      maxSites: request.maxSites,
      epochs: request.epochs || DEFAULTS.epochs,
      batchSize: request.batchSize || DEFAULTS.batchSize,
      learningRate: request.learningRate || DEFAULTS.learningRate,
      deadlineSeconds: request.deadlineSeconds || DEFAULTS.deadlineSeconds,
      waitSeconds: request.waitSeconds || DEFAULTS.waitSeconds,
      seed: request.seed,
    };
    const first = this.deps.journal.lastRound + 1;
    this.running = true;
    this.remaining = settings.rounds;
    void this.runLoop(first, settings).finally(() => {
      this.running = false;
      this.remaining = 0;
    });
    return { firstRound: first, lastRound: first + settings.rounds - 1 };
  }

  admit(header: UpdateHeader): AdmittedUpload {
    if (!this.current) {
      throw new RoundMismatchError(`no round is open (update from ${header.site} for round ${header.round}); late updates are refused`);
    }
    return this.current.admit(header);
  }

  /** Counts model bytes sent to a site toward the open round it was selected for. */
  noteDownload(site: string, bytes: number): void {
    const round = this.current;
    if (round && round.taskIds.has(site)) round.record.bytesDown += bytes;
  }

  private poke(): void {
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async runLoop(first: number, settings: RunSettings): Promise<void> {
    const { events, log } = this.deps;
    for (let n = first; n < first + settings.rounds; n++) {
      try {
        const record = await this.runRound(n, settings);
        events.publish({ kind: record.state === 'closed' ? 'round-closed' : 'round-failed', round: n, site: '', message: record.message, record });
      } catch (err) {
        log(`round ${n} stopped: ${(err as Error).message}`);
        events.publish({ kind: 'round-failed', round: n, site: '', message: (err as Error).message, record: null });
      } finally {
        this.current = null;
        this.remaining--;
      }
    }
    events.publish({ kind: 'run-finished', round: first + settings.rounds - 1, site: '', message: `finished rounds ${first}-${first + settings.rounds - 1}`, record: null });
  }

  private async waitForSites(n: number, settings: RunSettings): Promise<SiteSession[]> {
    const until = this.now() + settings.waitSeconds * 1000;
    for (;;) {
      const idle = this.deps.sessions.connected();
      if (idle.length >= settings.minSites) return idle;
      if (this.now() >= until) {
        throw new BusyError(`round ${n} needs ${settings.minSites} sites, only ${idle.length} connected within ${settings.waitSeconds}s`);
      }
      await this.sleep(Math.min(1000, until - this.now()));
    }
  }

  private async runRound(n: number, settings: RunSettings): Promise<RoundRecord> {
    const { store, sessions, journal, events, log } = this.deps;
    const available = await this.waitForSites(n, settings);
    const chosen = pickSites(available.map((s) => s.site), settings.maxSites, settings.seed + n);
    const base = await store.manifest(store.latest);
    const round = new Round({
      federation: this.deps.federation,
      number: n,
      base,
      selected: chosen,
      aggregate: this.deps.strategy.begin(base.totalBytes / 4),
      deadlineUnixMs: this.now() + settings.deadlineSeconds * 1000,
      maxNorm: this.deps.maxUpdateNorm ?? null,
      now: this.now,
    });
    await journal.append('open', round.record);
    this.current = round;
    round.onChange(() => this.poke());
    events.publish({ kind: 'round-started', round: n, site: '', message: `round ${n}: ${chosen.length} sites, base version ${base.version}`, record: round.record });
    log(`round ${n} open: sites ${chosen.join(', ')}; base model version ${base.version}`);
    for (const site of chosen) {
      const session = sessions.get(site);
      if (!session) continue;
      session.state = 'training';
      session.send({
        task: {
          taskId: round.taskIds.get(site)!,
          federation: this.deps.federation,
          round: n,
          modelVersion: base.version,
          method: 'fedavg',
          epochs: settings.epochs,
          batchSize: settings.batchSize,
          learningRate: settings.learningRate,
          deadlineUnixMs: round.deadline,
          seed: (settings.seed + n * 7919) >>> 0,
          sessionId: session.sessionId,
        },
      });
    }
    await this.waitForClose(round);
    await round.stopAccepting();
    for (const site of chosen) {
      const session = sessions.get(site);
      if (session) session.state = 'idle';
    }
    return this.finish(round, settings, base);
  }

  private async waitForClose(round: Round): Promise<void> {
    const grace = this.deps.dropGraceMs ?? 15_000;
    for (;;) {
      if (round.allReported() || round.failure) return;
      const now = this.now();
      if (now >= round.deadline) return;
      const pending = round.pendingSites();
      const allGone = pending.every((site) => {
        if (this.deps.sessions.get(site)) return false;
        return now - Math.max(this.deps.sessions.lastSeen(site), round.record.startedUnixMs) > grace;
      });
      if (allGone) return;
      await this.sleep(Math.min(500, round.deadline - now));
    }
  }

  private async finish(round: Round, settings: RunSettings, base: ModelManifest): Promise<RoundRecord> {
    const { store, journal, log, sessions } = this.deps;
    const record = round.record;
    const aggregate = round.aggregate;
    record.closedUnixMs = this.now();
    const notify = (state: string, message: string) => {
      for (const site of record.selected) sessions.get(site)?.send({ roundNotice: { round: record.round, state, message } });
    };
    if (round.failure || aggregate.updates < settings.minSites) {
      record.state = 'failed';
      record.message = round.failure
        ? `round ${record.round} failed while folding an update in (${round.failure.message}); the model stays at version ${base.version}`
        : `round ${record.round} got ${aggregate.updates} of the ${settings.minSites} updates it needs; the model stays at version ${base.version}` +
          (round.pendingSites().length ? ` (no update from ${round.pendingSites().join(', ')})` : '');
      await journal.append('failed', record);
      notify('failed', record.message);
      log(record.message);
      return record;
    }
    const manifest = await store.writeNext(
      { parent: base.version, round: record.round, spec: base.spec, topology: base.topology, tensors: base.tensors, totalBytes: base.totalBytes },
      aggregatedWeights(store.weightsPath(base.version), (offset, values) => aggregate.finishSegment(offset, values)),
    );
    record.modelVersion = manifest.version;
    record.state = 'closed';
    if (this.deps.evaluator) {
      try {
        record.metrics = await this.deps.evaluator.evaluate(manifest, store.weightsPath(manifest.version));
      } catch (err) {
        log(`evaluation of model version ${manifest.version} failed: ${(err as Error).message}`);
      }
    }
    record.message = `round ${record.round} closed: ${aggregate.updates} updates, ${record.examples} examples, model version ${manifest.version}`;
    await journal.append('closed', record);
    notify('closed', record.message);
    log(record.message);
    return record;
  }
}

async function* aggregatedWeights(basePath: string, finish: (offset: number, base: Float32Array) => Float32Array): AsyncGenerator<Uint8Array> {
  for await (const segment of readFloat32Segments(basePath)) {
    const next = finish(segment.offset, segment.values);
    yield new Uint8Array(next.buffer, next.byteOffset, next.byteLength);
  }
}
