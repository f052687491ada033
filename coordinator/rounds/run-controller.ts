import { readFile } from 'node:fs/promises';
import type { EvaluationBinding } from '../../shared/crypto/index.js';
import type { SiteEvaluationSummary } from '../../shared/evaluation/index.js';
import { SecAggAbortError, type SecAggParams } from '../../shared/secagg/index.js';
import {
  BusyError,
  ConfigError,
  RoundMismatchError,
  type AgentMessage,
  type PrivacySpec,
  type RoundRecord,
  type StartRoundsReply,
  type StartRoundsRequest,
  type UpdateHeader,
} from '../../shared/wire/index.js';
import { ModularSumAggregate, secureAggregationConflict, type AggregationStrategy, type RoundAggregate } from '../aggregation/index.js';
import type { AdmittedUpload, UploadGate } from '../ingest/index.js';
import { chooseMethod, type ChosenMethod, type DistillRuntime } from '../methods/index.js';
import { readFloat32Segments, type ActiveRun, type ModelManifest, type ModelStore, type RoundJournal, type RunRecordFile, type StrategyStateFile } from '../store/index.js';
import type { EvaluationRound } from './evaluation-round.js';
import { runEvaluationRound } from './evaluation-run.js';
import type { RoundEvents } from './round-events.js';
import { Round } from './round.js';
import { collectAnswers } from './collect-answers.js';
import { SecureExchange } from './secure-exchange.js';
import { runSoftLabelRound } from './soft-label-run.js';
import type { SiteSession, SiteSessions } from './site-sessions.js';
import { pickSites } from './site-selection.js';
import { parseLrSchedule, scheduledLearningRate, type LrSchedule } from './lr-schedule.js';

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
  /** Makes a run's strategy from its name and parameters; throws ConfigError for a bad choice. */
  strategyFor: (name: string, params: Readonly<Record<string, number>>) => AggregationStrategy;
  events: RoundEvents;
  evaluator?: ModelEvaluator;
  log: (message: string) => void;
  now?: () => number;
  /** How long a selected site may stay disconnected before the round stops waiting for it. */
  dropGraceMs?: number;
  maxUpdateNorm?: number | null;
  /** The enrolled Ed25519 key of a site (secure aggregation relays it with the roster). */
  identityKeyOf?: (site: string) => Uint8Array | undefined;
  /**
   * The channel to an enrolled site that is not connected, where tasks wait for it (NATS
   * JetStream); absent on the gRPC default, where a task needs a live session.
   */
  offlineSite?: (site: string) => SiteSession | undefined;
  /** Where the run in progress is kept, so a restarted coordinator carries it on (absent: runs die with the process). */
  runs?: RunRecordFile;
  /** Where a strategy's round-to-round state (server optimisers) is kept for a resumed run (absent: it restarts afresh). */
  strategyState?: StrategyStateFile;
  /** Federated distillation's transfer set and student training; absent: `--method distill` is refused. */
  distill?: DistillRuntime;
}

export interface RunSettings {
  rounds: number;
  minSites: number;
  maxSites: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** How the learning rate the Tasks carry changes over the run's rounds (the run's own count, resumed runs included). */
  lrSchedule: LrSchedule;
  deadlineSeconds: number;
  waitSeconds: number;
  seed: number;
  /** Secure aggregation on: its threshold (0 = two thirds of each round's sites) and clip range. */
  secure: { threshold: number; clipRange: number } | null;
  privacy: PrivacySpec | null;
  /** This run's aggregation strategy (one instance per run: server optimisers keep state across its rounds). */
  strategy: AggregationStrategy;
  /** This run's learning method (what the sites do with the model) and its resolved parameters. */
  method: ChosenMethod;
  /** An evaluation run: its round scores the current model at the sites and trains nothing. */
  evaluate: boolean;
  /** Only these sites may be selected; null for any connected site. */
  sites: ReadonlySet<string> | null;
  /** The run these settings belong to (its start time), which the strategy's saved state names; absent in tests without runs. */
  runId?: string;
}

/** What waitForClose looks at: a training round or an evaluation round. */
type ClosableRound = Pick<Round, 'allReported' | 'failure' | 'deadline' | 'pendingSites' | 'record'>;

/** Secure aggregation's Shamir sharing is over GF(2^8): at most 255 sites in one round. */
const MAX_SECURE_SITES = 255;

const DEFAULTS = { epochs: 1, batchSize: 32, learningRate: 0.001, deadlineSeconds: 600, waitSeconds: 120 };

/**
 * Runs rounds one after another: wait for enough sites, hand out tasks, take updates in until
 * every selected site answered (or the deadline, or the rest dropped out), then write the new
 * global version and journal the round. The round loop lives here and nowhere else.
 */
export class RunController implements UploadGate {
  private current: Round | null = null;
  private evaluation: EvaluationRound | null = null;
  private running = false;
  private remaining = 0;
  private readonly now: () => number;
  private wake: (() => void) | null = null;
  private exchange: SecureExchange | null = null;
  /** Sites of the open round whose task went to a durable queue because they were not connected. */
  private sentOffline = new Set<string>();

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

  /**
   * Closes rounds a previous process left open (their running sums died with it), then carries on
   * the run they belonged to, if one was recorded: the aborted round is run again under the next
   * round number, and the run does the rounds it had left.
   */
  async recover(): Promise<void> {
    const { journal, log } = this.deps;
    const run = await this.deps.runs?.read() ?? null;
    if (run) {
      // Rounds that ended in the journal after the run file was last written still count.
      const uncounted = journal.roundsAfter(run.countedThrough, ['closed', 'failed']).filter((n) => n >= run.firstRound);
      run.roundsLeft = Math.max(0, run.roundsLeft - uncounted.length);
      if (uncounted.length) run.countedThrough = Math.max(...uncounted);
    }
    const next = journal.lastRound + 1;
    for (const record of journal.unfinished()) {
      const rerun = run && run.roundsLeft > 0 ? `; the run it belongs to resumes and runs it again as round ${next}` : '';
      const closed: RoundRecord = {
        ...record,
        state: 'aborted',
        closedUnixMs: this.now(),
        message: `the coordinator stopped while round ${record.round} was open; its partial sum was lost and the model stays at version ${record.baseVersion}${rerun}`,
      };
      await journal.append('aborted', closed);
      log(closed.message);
    }
    if (run) await this.resume(run);
  }

  /** Starts the rest of a run a previous process recorded; a run that can no longer start is dropped, loudly. */
  private async resume(run: ActiveRun): Promise<void> {
    const { log } = this.deps;
    if (run.roundsLeft === 0) {
      await this.deps.runs?.clear();
      return;
    }
    let settings: RunSettings;
    try {
      settings = this.settingsFor({ ...run.request, rounds: run.roundsLeft });
    } catch (err) {
      log(`the interrupted run (${run.roundsLeft} round(s) left) cannot resume: ${(err as Error).message}; it was dropped, start a new one with \`medley round start\``);
      await this.deps.runs?.clear();
      return;
    }
    const resumed: ActiveRun = { ...run, resumes: run.resumes + 1 };
    const first = this.deps.journal.lastRound + 1;
    settings.runId = run.startedAt;
    const carried = await this.restoreStrategyState(settings, run);
    log(`resuming the interrupted run: ${run.roundsLeft} of its ${run.request.rounds} round(s) left, from round ${first}; strategy ${describeStrategy(settings.strategy)}${carried}`);
    await this.deps.runs?.update(resumed);
    this.launch(first, settings, resumed);
  }

  start(request: StartRoundsRequest): StartRoundsReply {
    if (this.running) throw new BusyError(`rounds are already running (${this.remaining} to go); wait for them to finish`);
    const settings = this.settingsFor(request);
    const first = this.deps.journal.lastRound + 1;
    const run: ActiveRun = { formatVersion: 1, request: { ...request }, startedAt: new Date(this.now()).toISOString(), firstRound: first, roundsLeft: settings.rounds, countedThrough: 0, resumes: 0 };
    settings.runId = run.startedAt;
    // On disk before the admin hears the run started: a coordinator killed from here on resumes it.
    this.deps.runs?.begin(run);
    this.launch(first, settings, run);
    return { firstRound: first, lastRound: first + settings.rounds - 1 };
  }

  private launch(first: number, settings: RunSettings, run: ActiveRun): void {
    this.running = true;
    this.remaining = settings.rounds;
    void this.runLoop(first, settings, run).finally(() => {
      this.running = false;
      this.remaining = 0;
    });
  }

  /** Checks a run request and resolves its settings; throws ConfigError/BusyError naming what to fix. */
  private settingsFor(request: StartRoundsRequest): RunSettings {
    if (request.rounds < 1) throw new BusyError('ask for at least one round (--rounds 1 or more)');
    const strategy = this.deps.strategyFor(request.strategy || 'fedavg', request.strategyParams ?? {});
    const method = chooseMethod(request.method, request.methodParams ?? {});
    if (method.definition.returns === 'soft-labels') {
      if (!this.deps.distill) throw new ConfigError(`method ${method.definition.name} needs a transfer set at the coordinator: restart it with \`coordinator serve --transfer-set synthetic|FILE.npz\``);
      if ((request.dpNoiseMultiplier ?? 0) > 0 || (request.dpClipNorm ?? 0) > 0) throw new ConfigError(`method ${method.definition.name} sends soft labels; differential privacy here clips and noises weight updates and does not apply to them`);
    } else if (method.definition.returns !== 'weights') {
      throw new ConfigError(`method ${method.definition.name} sends ${method.definition.returns}, not weight updates; this coordinator's rounds aggregate weight updates only`);
    }
    if (request.secureAggregation) {
      const conflict = secureAggregationConflict(strategy);
      if (conflict) throw new ConfigError(conflict);
    }
    const clip = request.secaggClip ?? 0;
    if (!Number.isFinite(clip) || clip < 0) throw new ConfigError(`secure-aggregation clip range ${clip} must be a positive number`);
    const noise = request.dpNoiseMultiplier ?? 0;
    const clipNorm = request.dpClipNorm ?? 0;
    if (!Number.isFinite(noise) || noise < 0) throw new ConfigError(`DP noise multiplier ${noise} must be zero or positive`);
    if (noise > 0 && !(clipNorm > 0 && Number.isFinite(clipNorm))) throw new ConfigError('differential privacy needs a positive clip norm (--dp-clip) along with the noise multiplier');
    const sites = this.checkSites(request);
    if (request.evaluate) {
      if (request.rounds !== 1) throw new ConfigError(`an evaluation run has one round (it scores the current model); asked for ${request.rounds}`);
      if (request.secureAggregation || noise > 0 || clipNorm > 0) throw new ConfigError('an evaluation round trains nothing: secure aggregation and differential privacy do not apply to it');
      if (method.definition.name !== 'fedavg') throw new ConfigError(`an evaluation round trains nothing: --method ${method.definition.name} does not apply to it`);
    }
    const settings: RunSettings = {
      rounds: request.rounds,
      minSites: Math.max(1, request.minSites),
      maxSites: request.maxSites,
      epochs: request.epochs || DEFAULTS.epochs,
      batchSize: request.batchSize || DEFAULTS.batchSize,
      learningRate: request.learningRate || DEFAULTS.learningRate,
      lrSchedule: parseLrSchedule(request.lrSchedule ?? ''),
      deadlineSeconds: request.deadlineSeconds || DEFAULTS.deadlineSeconds,
      waitSeconds: request.waitSeconds || DEFAULTS.waitSeconds,
      seed: request.seed,
      secure: request.secureAggregation ? { threshold: request.secaggThreshold ?? 0, clipRange: clip || 1 } : null,
      privacy: clipNorm > 0 ? { noiseMultiplier: noise, clipNorm } : null,
      strategy,
      method,
      evaluate: Boolean(request.evaluate),
      sites,
    };
    return settings;
  }

  /**
   * What the run's method computed for round n from its base model (e.g. TGD's masks); empty when
   * the method computes nothing. Runs before any task goes out, so a failure fails the round cleanly.
   */
  private async methodPayload(n: number, base: ModelManifest, method: ChosenMethod): Promise<Uint8Array> {
    const prepare = method.definition.roundPayload;
    if (!prepare) return new Uint8Array(0);
    const { store } = this.deps;
    const payload = await prepare.call(method.definition, { manifest: base, weights: async () => {
      const bytes = await readFile(store.weightsPath(base.version));
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    } }, method.params);
    this.deps.log(`round ${n}: method ${method.definition.name} prepared ${payload.byteLength} bytes for every task`);
    return payload;
  }

  /** The sites a run may select, checked against the site list; null when the request names none. */
  private checkSites(request: StartRoundsRequest): ReadonlySet<string> | null {
    const names = request.sites ?? [];
    if (names.length === 0) return null;
    const unknown = names.filter((s) => !this.deps.identityKeyOf?.(s));
    if (unknown.length) throw new ConfigError(`--sites names ${unknown.join(', ')}, not on this federation's site list`);
    const set = new Set(names);
    if (request.minSites > set.size) throw new ConfigError(`--min-sites ${request.minSites} is more than the ${set.size} site(s) named with --sites`);
    return set;
  }

  /** A site's evaluation summary that passed the edge, for the evaluation round open. */
  acceptEvaluation(binding: EvaluationBinding, summary: SiteEvaluationSummary, bytes: number): void {
    if (!this.evaluation) {
      throw new RoundMismatchError(`no evaluation round is open (summary from ${binding.site} for round ${binding.round}); late summaries are refused`);
    }
    this.evaluation.accept(binding, summary, bytes);
  }

  admit(header: UpdateHeader): AdmittedUpload {
    if (this.evaluation) {
      throw new RoundMismatchError(`round ${this.evaluation.number} is an evaluation round; it takes no model updates (update from ${header.site} refused)`);
    }
    if (!this.current) {
      throw new RoundMismatchError(`no round is open (update from ${header.site} for round ${header.round}); late updates are refused`);
    }
    return this.current.admit(header);
  }

  /** A site's answer on its session: a refusal, or a secure-aggregation step. */
  siteMessage(site: string, message: AgentMessage): void {
    const round = this.current;
    const asked = round ?? this.evaluation;
    if (message.body === 'refusal' && 'refusal' in message) {
      const { refusal } = message;
      if (asked && refusal.round === asked.number && asked.taskIds.get(site) === refusal.taskId && asked.refuse(site)) {
        this.deps.log(`round ${asked.number}: site ${site} declined its task: ${refusal.reason}`);
        this.deps.events.publish({ kind: 'task-refused', round: asked.number, site, message: `site ${site} declined: ${refusal.reason}`, record: null });
      }
    } else if (this.exchange && round && round.taskIds.has(site)) {
      const r = (message as { secaggKeys?: { round: number }; secaggShares?: { round: number }; secaggReveal?: { round: number } });
      const n = r.secaggKeys?.round ?? r.secaggShares?.round ?? r.secaggReveal?.round;
      if (n === round.number) this.exchange.handle(site, message);
    }
    this.poke();
  }

  /**
   * A site gave up on its task (training crashed, its upload kept failing until the deadline): the
   * round stops waiting for it instead of holding everyone until the deadline.
   */
  siteFailed(site: string, roundNumber: number, taskId: string, reason: string): void {
    const round = this.current ?? this.evaluation;
    if (!round || round.number !== roundNumber || round.taskIds.get(site) !== taskId) return;
    if (round.abandon(site)) {
      this.deps.log(`round ${round.number}: site ${site} gave up on its task: ${reason || 'no reason given'}; the round no longer waits for it`);
      this.poke();
    }
  }

  /** Counts model bytes sent to a site toward the open round it was selected for. */
  noteDownload(site: string, bytes: number): void {
    const round = this.current ?? this.evaluation;
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

  private async runLoop(first: number, settings: RunSettings, run: ActiveRun): Promise<void> {
    const { events, log } = this.deps;
    for (let n = first; n < first + settings.rounds; n++) {
      try {
        const round = this.scheduled(settings, run);
        const record = settings.evaluate
          ? await this.runEvaluation(n, settings)
          : settings.method.definition.returns === 'soft-labels' ? await this.runSoftLabels(n, round) : await this.runRound(n, round);
        events.publish({ kind: record.state === 'closed' ? 'round-closed' : 'round-failed', round: n, site: '', message: record.message, record });
      } catch (err) {
        log(`round ${n} stopped: ${(err as Error).message}`);
        events.publish({ kind: 'round-failed', round: n, site: '', message: (err as Error).message, record: null });
      } finally {
        this.current = null;
        this.remaining--;
        await this.recordProgress(run, n);
      }
    }
    events.publish({ kind: 'run-finished', round: first + settings.rounds - 1, site: '', message: `finished rounds ${first}-${first + settings.rounds - 1}`, record: null });
  }

  /**
   * The settings of the run's next round with its scheduled learning rate. The position in the
   * schedule counts from the run as the admin asked for it, so a resumed run carries on where the
   * interrupted one was instead of starting the decay over.
   */
  private scheduled(settings: RunSettings, run: ActiveRun): RunSettings {
    if (settings.lrSchedule.kind === 'constant') return settings;
    const index = Math.max(0, run.request.rounds - this.remaining);
    return { ...settings, learningRate: scheduledLearningRate(settings.learningRate, settings.lrSchedule, index, run.request.rounds) };
  }

  /** Keeps STATE/run.json in step with the run: rounds left after round n, or gone when none are. */
  private async recordProgress(run: ActiveRun, n: number): Promise<void> {
    const runs = this.deps.runs;
    if (!runs) return;
    try {
      run.roundsLeft = this.remaining;
      run.countedThrough = n;
      if (this.remaining > 0) await runs.update(run);
      else await runs.clear();
    } catch (err) {
      // The run goes on; only its resumption after a crash is at stake.
      this.deps.log(`could not record the run's progress in ${runs.path}: ${(err as Error).message}`);
    }
  }

  private runEvaluation(n: number, settings: RunSettings): Promise<RoundRecord> {
    const { federation, store, journal, sessions, events, log } = this.deps;
    return runEvaluationRound(n, settings, {
      federation,
      store,
      journal,
      sessions,
      events,
      log,
      now: this.now,
      waitForSites: () => this.waitForSites(n, settings),
      waitForClose: (round) => this.waitForClose(round),
      setOpen: (round) => {
        this.evaluation = round;
        round?.onChange(() => this.poke());
      },
    });
  }

  /** A distillation round (coordinator/rounds/soft-label-run.ts), with this controller's waits and routing. */
  private runSoftLabels(n: number, settings: RunSettings): Promise<RoundRecord> {
    const { federation, store, journal, sessions, events, log, evaluator } = this.deps;
    return runSoftLabelRound(n, settings, {
      federation, store, journal, sessions, events, log, evaluator,
      distill: this.deps.distill!,
      now: this.now,
      identityKeyOf: this.deps.identityKeyOf ?? (() => undefined),
      waitForSites: () => this.waitForSites(n, settings),
      waitFor: (ready, until) => this.waitFor(ready, until),
      waitForClose: (round) => this.waitForClose(round),
      secureParams: (chosen) => (settings.secure ? this.secureParams(n, chosen, settings.secure) : null),
      setOpen: (round, exchange) => {
        this.current = round;
        this.exchange = exchange;
        round?.onChange(() => this.poke());
      },
    });
  }

  private async waitForSites(n: number, settings: RunSettings): Promise<SiteSession[]> {
    const until = this.now() + settings.waitSeconds * 1000;
    for (;;) {
      const idle = [...this.deps.sessions.connected().filter((s) => !settings.sites || settings.sites.has(s.site)), ...this.offlineNamed(settings)];
      if (idle.length >= settings.minSites) return idle;
      if (this.now() >= until) {
        const among = settings.sites ? ` of ${[...settings.sites].join(', ')}` : '';
        throw new BusyError(`round ${n} needs ${settings.minSites} sites${among}, only ${idle.length} connected within ${settings.waitSeconds}s`);
      }
      await this.sleep(Math.min(1000, until - this.now()));
    }
  }

  /** Sites named with --sites that are not connected but can be sent a task that waits for them. */
  private offlineNamed(settings: RunSettings): SiteSession[] {
    const offline = this.deps.offlineSite;
    if (!settings.sites || !offline) return [];
    return [...settings.sites].filter((site) => !this.deps.sessions.get(site)).flatMap((site) => offline(site) ?? []);
  }

  private async runRound(n: number, settings: RunSettings): Promise<RoundRecord> {
    const { store, sessions, journal, events, log } = this.deps;
    const available = await this.waitForSites(n, settings);
    const chosen = pickSites(available.map((s) => s.site), settings.maxSites, settings.seed + n);
    const base = await store.manifest(store.latest);
    const elements = base.totalBytes / 4;
    const secure = settings.secure ? this.secureParams(n, chosen, settings.secure) : null;
    const maskedSum = secure ? new ModularSumAggregate(elements, secure) : null;
    const aggregate: RoundAggregate = settings.strategy.begin(elements, maskedSum ?? undefined);
    const exchange = secure
      ? new SecureExchange({
          federation: this.deps.federation,
          round: n,
          params: secure,
          sessions,
          identityKeyOf: this.deps.identityKeyOf ?? (() => undefined),
          waitFor: (ready, until) => this.waitFor(ready, until),
          now: this.now,
          log,
        })
      : null;
    const round = new Round({
      federation: this.deps.federation,
      number: n,
      base,
      selected: chosen,
      aggregate,
      deadlineUnixMs: this.now() + settings.deadlineSeconds * 1000,
      maxNorm: this.deps.maxUpdateNorm ?? null,
      now: this.now,
      kind: secure ? 'masked' : 'delta',
      strategy: settings.strategy.name,
      onFolded: exchange ? (site) => exchange.noteMaskedInput(site) : undefined,
    });
    await journal.append('open', round.record);
    this.current = round;
    this.exchange = exchange;
    round.onChange(() => this.poke());
    events.publish({ kind: 'round-started', round: n, site: '', message: `round ${n}: ${chosen.length} sites, base version ${base.version}${secure ? `, secure aggregation (threshold ${secure.threshold})` : ''}`, record: round.record });
    log(`round ${n} open: sites ${chosen.join(', ')}; base model version ${base.version}; method ${describeMethod(settings.method)}; ${secure ? 'secure aggregation on' : `strategy ${describeStrategy(settings.strategy)}`}`);
    const methodPayload = await this.methodPayload(n, base, settings.method);
    this.sentOffline = new Set();
    for (const site of chosen) {
      let session = sessions.get(site);
      if (!session && (session = this.deps.offlineSite?.(site))) this.sentOffline.add(site);
      if (!session) continue;
      session.state = 'training';
      session.send({
        task: {
          taskId: round.taskIds.get(site)!,
          federation: this.deps.federation,
          round: n,
          modelVersion: base.version,
          method: settings.method.definition.name,
          methodParams: settings.method.params,
          methodPayload,
          epochs: settings.epochs,
          batchSize: settings.batchSize,
          learningRate: settings.learningRate,
          deadlineUnixMs: round.deadline,
          seed: (settings.seed + n * 7919) >>> 0,
          sessionId: session.sessionId,
          secureAggregation: secure,
          privacy: settings.privacy,
          parameters: elements,
          strategy: settings.strategy.name,
          proximalMu: settings.strategy.taskParameters?.proximalMu ?? 0,
        },
      });
    }
    const setupFailure = await collectAnswers(round, chosen, exchange, sessions, (r) => this.waitForClose(r));
    try {
      return await this.finish(round, settings, base, exchange, maskedSum, setupFailure);
    } finally {
      this.exchange = null;
      this.sentOffline = new Set();
      await aggregate.dispose?.().catch((err: unknown) => log(`round ${n}: could not release the strategy's spill files: ${(err as Error).message}`));
    }
  }

  /** The round's secure-aggregation parameters, or a clear error when the round cannot have it. */
  private secureParams(n: number, chosen: string[], secure: { threshold: number; clipRange: number }): SecAggParams {
    if (chosen.length < 2) throw new BusyError(`round ${n} has ${chosen.length} site; secure aggregation needs at least 2 (a sum of one is the update itself)`);
    if (chosen.length > MAX_SECURE_SITES) throw new ConfigError(`round ${n} selected ${chosen.length} sites; secure aggregation supports at most ${MAX_SECURE_SITES} per round (use --max-sites)`);
    const threshold = secure.threshold || Math.max(2, Math.ceil((2 * chosen.length) / 3));
    if (threshold > chosen.length) throw new BusyError(`round ${n} selected ${chosen.length} sites, below the secure-aggregation threshold of ${threshold}`);
    const weightBound = chosen.reduce((sum, site) => sum + (this.deps.sessions.get(site)?.trainExamples ?? 0), 0);
    return { threshold, clipRange: secure.clipRange, weightBound: Math.max(1, weightBound) };
  }

  /** Waits until `ready()` holds or the time is up, waking on every site event. */
  private async waitFor(ready: () => boolean, untilUnixMs: number): Promise<void> {
    while (!ready() && this.now() < untilUnixMs) await this.sleep(Math.min(500, untilUnixMs - this.now()));
  }

  private async waitForClose(round: ClosableRound): Promise<void> {
    const grace = this.deps.dropGraceMs ?? 15_000;
    for (;;) {
      if (round.allReported() || round.failure) return;
      const now = this.now();
      if (now >= round.deadline) return;
      const pending = round.pendingSites();
      const allGone = pending.every((site) => {
        if (this.deps.sessions.get(site)) return false;
        // A site whose task waits in a durable queue is waited for until the deadline, unless it came and went.
        if (this.sentOffline.has(site) && this.deps.sessions.lastSeen(site) < round.record.startedUnixMs) return false;
        return now - Math.max(this.deps.sessions.lastSeen(site), round.record.startedUnixMs) > grace;
      });
      if (allGone) return;
      await this.sleep(Math.min(500, round.deadline - now));
    }
  }

  /**
   * Keeps the strategy's state (server optimisers' moments) next to the version this round wrote,
   * so a resumed run carries on with the same optimiser. Failing to write it costs only that: the
   * round still closes, and a resume would start the optimiser afresh (and say so).
   */
  private async saveStrategyState(settings: RunSettings, version: number): Promise<void> {
    const file = this.deps.strategyState;
    const arrays = settings.strategy.snapshot?.() ?? null;
    if (!file || !arrays || settings.runId === undefined) return;
    try {
      await file.write({ run: settings.runId, strategy: settings.strategy.name, parameters: settings.strategy.parameters ?? {}, modelVersion: version, arrays });
    } catch (err) {
      this.deps.log(`could not save strategy ${settings.strategy.name}'s state for model version ${version} (${(err as Error).message}); if the coordinator restarts, the run resumes with it afresh`);
    }
  }

  /** Gives a resumed run's strategy the state it had saved, when it still fits; answers what the log should say. */
  private async restoreStrategyState(settings: RunSettings, run: ActiveRun): Promise<string> {
    const strategy = settings.strategy;
    const file = this.deps.strategyState;
    if (!strategy.restore || !file) return '';
    const fresh = (why: string) => ` (its server-side state starts afresh: ${why})`;
    let saved;
    try {
      saved = await file.read();
    } catch (err) {
      return fresh((err as Error).message);
    }
    const { store } = this.deps;
    if (!saved) return fresh('no round of this run had closed');
    if (saved.run !== run.startedAt) return fresh('the saved state belongs to another run');
    if (saved.strategy !== strategy.name || !sameParameters(saved.parameters, strategy.parameters ?? {})) return fresh(`the saved state is for strategy ${saved.strategy}`);
    if (saved.modelVersion !== store.latest) return fresh(`the saved state belongs to model version ${saved.modelVersion}, the model is at version ${store.latest}`);
    try {
      strategy.restore(saved.arrays, (await store.manifest(store.latest)).totalBytes / 4);
    } catch (err) {
      return fresh((err as Error).message);
    }
    return ` (its server-side state carried on from model version ${saved.modelVersion})`;
  }

  private async finish(
    round: Round,
    settings: RunSettings,
    base: ModelManifest,
    exchange: SecureExchange | null,
    maskedSum: ModularSumAggregate | null,
    setupFailure: Error | null,
  ): Promise<RoundRecord> {
    const { store, journal, log, sessions } = this.deps;
    const record = round.record;
    const aggregate = round.aggregate;
    const notify = (state: string, message: string) => {
      for (const site of record.selected) sessions.get(site)?.send({ roundNotice: { round: record.round, state, message } });
    };
    let failure = round.failure ?? setupFailure;
    if (!failure && exchange && maskedSum && maskedSum.updates >= settings.minSites) {
      try {
        const outcome = await exchange.unmask(maskedSum, round.deadline);
        record.dropped = outcome.dropped;
      } catch (err) {
        if (!(err instanceof SecAggAbortError)) throw err;
        failure = err;
      }
    }
    if (!failure && aggregate.updates >= settings.minSites) {
      const problem = aggregate.problem?.() ?? null;
      if (problem) failure = new Error(`strategy ${settings.strategy.name}: ${problem}`);
    }
    record.closedUnixMs = this.now();
    if (failure || aggregate.updates < settings.minSites) {
      record.state = 'failed';
      record.message = failure
        ? `round ${record.round} failed: ${failure.message}; the model stays at version ${base.version}`
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
    await this.saveStrategyState(settings, manifest.version);
    if (this.deps.evaluator) {
      try {
        record.metrics = await this.deps.evaluator.evaluate(manifest, store.weightsPath(manifest.version));
      } catch (err) {
        log(`evaluation of model version ${manifest.version} failed: ${(err as Error).message}`);
      }
    }
    record.message = `round ${record.round} closed: ${aggregate.updates} updates, ${record.examples} examples, model version ${manifest.version}${missingNote(round, record.closedUnixMs)}`;
    await journal.append('closed', record);
    notify('closed', record.message);
    log(record.message);
    return record;
  }
}

async function* aggregatedWeights(basePath: string, finish: (offset: number, base: Float32Array) => Float32Array | Promise<Float32Array>): AsyncGenerator<Uint8Array> {
  for await (const segment of readFloat32Segments(basePath)) {
    const next = await finish(segment.offset, segment.values);
    yield new Uint8Array(next.buffer, next.byteOffset, next.byteLength);
  }
}

/**
 * Why a round closed without some of its sites, for its journal record: the deadline came, or the
 * sites left and stayed away past the drop grace. An operator reading the journal sees whom it lacks.
 */
function missingNote(round: Round, closedUnixMs: number): string {
  const missing = round.pendingSites();
  if (missing.length === 0) return '';
  return closedUnixMs >= round.deadline
    ? `; closed at its deadline without an update from ${missing.join(', ')}`
    : `; closed without an update from ${missing.join(', ')}, which disconnected and did not come back within the drop grace`;
}

function describeMethod(method: ChosenMethod): string {
  const params = Object.entries(method.params);
  return params.length ? `${method.definition.name} (${params.map(([k, v]) => `${k}=${v}`).join(', ')})` : method.definition.name;
}

function describeStrategy(strategy: AggregationStrategy): string {
  const params = Object.entries(strategy.parameters ?? {});
  return params.length ? `${strategy.name} (${params.map(([k, v]) => `${k}=${v}`).join(', ')})` : strategy.name;
}

function sameParameters(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.is(a[k], b[k]));
}
