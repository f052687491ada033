import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelStore, initCoordinatorState } from '../../coordinator/index.js';
import { generateIdentity, writeIdentityFile } from '../../shared/crypto/index.js';
import { loadHeldOut, openSiteShards, type DataSpec, type PartitionScheme } from '../../shared/data/index.js';
import type { RoundRecord, StartRoundsRequest } from '../../shared/wire/index.js';
import { initialModel } from '../commands/initial-model.js';
import { exportLayersModel } from '../demo/export-model.js';
import { writeRunReport } from '../report/index.js';
import { assignAttackers, type AttackCount } from './attack.js';
import { selfPeakRssMiB } from './memory.js';
import { SimulationProgress } from './progress.js';
import type { TrainerKind } from './site-trainer.js';
import { buildSimulationSummary, type SimulationSummary } from './summary.js';
import type { FederationPlan, PlannedSite, RunningFederation, SimulationAdmin, StartFederation, TransportName } from './transport.js';

export interface SimulateOptions {
  sites: number;
  rounds: number;
  /** 'synthetic' or a MedMNIST .npz path (already checked to exist). */
  data: string;
  partition: PartitionScheme;
  transport: TransportName;
  workers: number;
  trainer: TrainerKind;
  strategy: string;
  /** The strategy's parameters with defaults filled in. */
  strategyParams: Record<string, number>;
  attack: AttackCount[];
  attackFactor: number;
  model: string;
  epochs: number;
  batchSize: number;
  lr: number;
  /** The learning rate over the rounds: constant (default), exp:GAMMA or cosine:FLOOR. */
  lrSchedule?: string;
  seed: number;
  count?: number;
  out: string;
  deadlineSeconds: number;
  minSites: number;
  log: (message: string) => void;
  /** Share of each site's training split the sites train on, in (0, 1] (data-efficiency runs). */
  fraction?: number;
  /** 0-based sites that connect but are never selected for training (leave-one-site-out runs). */
  holdOut?: number[];
  /**
   * After the training rounds, one federated evaluation round: at every site ('all') or at the
   * listed 0-based sites. Its record is the result's `evaluation`.
   */
  evaluate?: 'all' | number[];
}

export interface SimulationResult {
  summary: SimulationSummary;
  /** The evaluation round's record (options.evaluate), null when none was asked for. */
  evaluation: RoundRecord | null;
  outDir: string;
  reportPath: string;
  modelPath: string;
}

/** Seconds a round may take by default: generous, and growing with the sites each thread trains in turn. */
export function defaultDeadlineSeconds(sites: number, workers: number, trainer: TrainerKind): number {
  const perSite = trainer === 'tfjs' ? 60 : 5;
  return 600 + perSite * Math.ceil(sites / Math.max(1, workers));
}

async function waitForSites(federation: RunningFederation, expected: number, timeoutMs: number, log: (m: string) => void): Promise<void> {
  const until = Date.now() + timeoutMs;
  let reported = -1;
  for (;;) {
    const failure = federation.failure();
    if (failure) throw failure;
    const connected = (await federation.admin.status()).sites.filter((s) => s.connected).length;
    if (connected !== reported && (connected === expected || reported < 0 || connected - reported >= Math.max(1, expected / 10))) {
      log(`${connected}/${expected} sites connected`);
      reported = connected;
    }
    if (connected >= expected) return;
    if (Date.now() > until) throw new Error(`only ${connected} of ${expected} sites connected within ${timeoutMs / 1000}s; see the logs`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Starts the rounds and follows them, failing early if a part of the federation dies. */
async function followRounds(admin: SimulationAdmin, federation: RunningFederation, options: SimulateOptions, request: Partial<StartRoundsRequest> = {}): Promise<RoundRecord[]> {
  const started = await admin.startRounds({
    rounds: request.evaluate ? 1 : options.rounds,
    minSites: options.minSites,
    maxSites: 0,
    epochs: options.epochs,
    batchSize: options.batchSize,
    learningRate: options.lr,
    lrSchedule: options.lrSchedule ?? 'constant',
    deadlineSeconds: options.deadlineSeconds,
    waitSeconds: 120,
    seed: options.seed,
    strategy: options.strategy,
    strategyParams: options.strategyParams,
    ...request,
  });
  const progress = new SimulationProgress(request.evaluate ? 1 : options.rounds, options.log);
  const stopWatching = new AbortController();
  const watchdog = setInterval(() => {
    if (federation.failure()) stopWatching.abort(federation.failure());
  }, 1000);
  try {
    await admin.watch(started.firstRound, (event) => progress.handle(event), stopWatching.signal);
  } finally {
    clearInterval(watchdog);
  }
  const failure = federation.failure();
  if (failure) throw failure;
  const status = await admin.status();
  return status.rounds.filter((r) => r.round >= started.firstRound && r.round <= started.lastRound);
}

/**
 * A whole federation of N virtual sites on this machine, through the coordinator's own code path
 * and the sites' real agent pipeline (handshake, signed downloads, sealed uploads), then a run
 * folder: summary.json, report.html, the final model, state/, keys/ and logs/.
 */
export async function runSimulation(options: SimulateOptions, startFederation: StartFederation): Promise<SimulationResult> {
  const { log } = options;
  const outDir = resolve(options.out);
  const stateDir = join(outDir, 'state');
  const logDir = join(outDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const startedAt = new Date();

  const data: Omit<DataSpec, 'shard'> = { source: options.data, partition: options.partition, seed: options.seed, syntheticCount: options.count, fraction: options.fraction };
  // Partition here first: an impossible split is refused before anything starts.
  const shards = openSiteShards(data, options.sites);
  let examples = 0;
  for (let i = 0; i < options.sites; i++) examples += shards.counts(i).train;
  const heldOut = loadHeldOut({ source: options.data, seed: options.seed });
  const model = await initialModel(options.model, `${heldOut.height}x${heldOut.width}x${heldOut.channels}`, heldOut.classes, options.seed + 1234);

  const attackers = assignAttackers(options.sites, options.attack);
  const planned: PlannedSite[] = [];
  const enrolled = [];
  const width = String(options.sites).length;
  for (let index = 0; index < options.sites; index++) {
    // Zero-padded so that sorted lists (status, logs, the report) read in site order.
    const name = `site-${String(index + 1).padStart(width, '0')}`;
    const identity = await generateIdentity(name);
    const keyPath = join(outDir, 'keys', `${name}.key`);
    await writeIdentityFile(keyPath, identity);
    planned.push({ name, index, keyPath, attack: attackers.get(index) ?? null });
    enrolled.push({ name, publicKey: identity.signPublicKey });
  }
  const { manifest: initial, keys } = await initCoordinatorState({ stateDir, federation: 'simulation', sites: enrolled, model });
  log(
    `run folder ${outDir}; ${options.sites} sites, ${examples} training images (${options.data}, partition ${options.partition}); ` +
      `model ${options.model} with ${initial.totalBytes / 4} parameters; held-out set of ${heldOut.count} images`,
  );
  const attacking = planned.filter((s) => s.attack);
  if (attacking.length) log(`ATTACK: ${attacking.map((s) => `${s.name}=${s.attack}`).join(', ')} (factor ${options.attackFactor})`);

  const plan: FederationPlan = {
    stateDir,
    logDir,
    sites: planned,
    coordinatorKey: keys.identity.signPublicKey,
    adminKey: keys.adminKey,
    data,
    evalData: options.data,
    evalSeed: options.seed,
    trainer: options.trainer,
    attackFactor: options.attackFactor,
    seed: options.seed,
    workers: options.workers,
    log,
  };
  const federation = await startFederation(plan);
  let stopped = false;
  try {
    await waitForSites(federation, options.sites, 120_000 + options.sites * 200, log);
    log(`strategy ${options.strategy}${Object.keys(options.strategyParams).length ? ` (${Object.entries(options.strategyParams).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}; round deadline ${options.deadlineSeconds} s`);
    const names = planned.map((s) => s.name);
    const holdOut = new Set(options.holdOut ?? []);
    const training = holdOut.size ? { sites: names.filter((_, i) => !holdOut.has(i)) } : {};
    if (holdOut.size) log(`held out of training: ${names.filter((_, i) => holdOut.has(i)).join(', ')}`);
    const rounds = await followRounds(federation.admin, federation, options, training);
    let evaluation: RoundRecord | null = null;
    if (options.evaluate) {
      const at = options.evaluate === 'all' ? names : options.evaluate.map((i) => names[i]!);
      log(`evaluation round: ${at.length === names.length ? 'every site' : at.join(', ')} scores the final model on its validation split`);
      [evaluation = null] = await followRounds(federation.admin, federation, options, { evaluate: true, sites: at, minSites: at.length });
    }
    const status = await federation.admin.status();
    const coordinatorPeakRssMiB = federation.coordinatorPeakRssMiB();
    const { peakTraining } = await federation.stop();
    stopped = true;
    const store = await ModelStore.open(stateDir);
    const manifest = await store.manifest(store.latest);
    const modelPath = await exportLayersModel(manifest, store.weightsPath(manifest.version), join(outDir, 'model'));
    const summary = buildSimulationSummary(
      { status, rounds, startedAt, model: manifest, data: options.data, modelName: options.model },
      {
        partition: options.partition,
        trainer: options.trainer,
        transport: federation.transport,
        workers: federation.workers,
        peakSitesTraining: peakTraining,
        strategy: { name: options.strategy, params: options.strategyParams },
        attackers: attacking.map((s) => ({ site: s.name, kind: s.attack! })),
        attackFactor: options.attackFactor,
        deadlineSeconds: options.deadlineSeconds,
        coordinatorPeakRssMiB,
        simulatorPeakRssMiB: selfPeakRssMiB(),
      },
    );
    await writeFile(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    const reportPath = await writeRunReport(outDir, summary);
    return { summary, evaluation, outDir, reportPath, modelPath };
  } finally {
    if (!stopped) await federation.stop().catch(() => undefined);
  }
}
