import { readFile } from 'node:fs/promises';
import type { SecAggParams } from '../../shared/secagg/index.js';
import type { RoundRecord, TensorSpec } from '../../shared/wire/index.js';
import { ModularSumAggregate } from '../aggregation/index.js';
import type { DistillRuntime } from '../methods/index.js';
import type { ModelManifest, ModelStore, RoundJournal } from '../store/index.js';
import type { ModelEvaluator, RunSettings } from './run-controller.js';
import type { RoundEvents } from './round-events.js';
import type { Round } from './round.js';
import { collectAnswers } from './collect-answers.js';
import { SecureExchange } from './secure-exchange.js';
import { SoftLabelCollector, SoftLabelRound } from './soft-label-round.js';
import type { SiteSession, SiteSessions } from './site-sessions.js';
import { pickSites } from './site-selection.js';

/** What a distillation round needs from the run controller that drives it. */
export interface SoftLabelRunContext {
  federation: string;
  store: ModelStore;
  journal: RoundJournal;
  sessions: SiteSessions;
  events: RoundEvents;
  distill: DistillRuntime;
  evaluator?: ModelEvaluator;
  log: (message: string) => void;
  now: () => number;
  identityKeyOf: (site: string) => Uint8Array | undefined;
  waitForSites: () => Promise<SiteSession[]>;
  waitFor: (ready: () => boolean, untilUnixMs: number) => Promise<void>;
  waitForClose: (round: Round) => Promise<void>;
  secureParams: (chosen: string[]) => SecAggParams | null;
  /** The controller routes uploads, refusals and secure-aggregation messages to the round while it is open. */
  setOpen: (round: Round | null, exchange: SecureExchange | null) => void;
}

/**
 * One federated-distillation round: every selected site trains its own model (any architecture),
 * labels the transfer set and sends the soft labels sealed like an update (masked under secure
 * aggregation); the coordinator averages them, trains the global student on the transfer set
 * against the average, writes the student as the next model version, and keeps the average for
 * the next round's sites to distil from. A failure at any step leaves the model and the last
 * aggregate as they were.
 */
export async function runSoftLabelRound(n: number, settings: RunSettings, ctx: SoftLabelRunContext): Promise<RoundRecord> {
  const { store, sessions, journal, events, log, distill } = ctx;
  const params = settings.method.params;
  const available = await ctx.waitForSites();
  const chosen = pickSites(available.map((s) => s.site), settings.maxSites, settings.seed + n);
  const base = await store.manifest(store.latest);
  const prepared = await distill.prepare(base);
  const { classes } = prepared.layout;
  const elements = prepared.rows * classes;
  const softSpec: TensorSpec = { name: 'soft_labels', shape: [prepared.rows, classes], dtype: 'float32', offset: 0, byteLength: elements * 4 };
  const secure = ctx.secureParams(chosen);
  const maskedSum = secure ? new ModularSumAggregate(elements, secure) : null;
  const collector = new SoftLabelCollector();
  const exchange = secure
    ? new SecureExchange({ federation: ctx.federation, round: n, params: secure, sessions, identityKeyOf: ctx.identityKeyOf, waitFor: ctx.waitFor, now: ctx.now, log })
    : null;
  const round = new SoftLabelRound(
    {
      federation: ctx.federation,
      number: n,
      // The uploads' layout is the soft labels', not the model's: the round admits that one tensor.
      base: { ...base, tensors: [softSpec], totalBytes: softSpec.byteLength },
      selected: chosen,
      aggregate: maskedSum ?? collector,
      deadlineUnixMs: ctx.now() + settings.deadlineSeconds * 1000,
      maxNorm: null,
      now: ctx.now,
      kind: secure ? 'masked' : 'soft-labels',
      strategy: 'soft-label-mean',
      onFolded: exchange ? (site) => exchange.noteMaskedInput(site) : undefined,
    },
    elements,
    (values) => distill.problem(values, prepared.rows, classes),
  );
  await journal.append('open', round.record);
  ctx.setOpen(round, exchange);
  try {
    events.publish({ kind: 'round-started', round: n, site: '', message: `round ${n} (distill): ${chosen.length} sites label ${distill.transferRef.count} transfer images, base version ${base.version}${secure ? ', secure aggregation' : ''}`, record: round.record });
    log(`round ${n} open (distill): sites ${chosen.join(', ')}; ${prepared.rows} x ${classes} soft labels each (${softSpec.byteLength} bytes; the model has ${base.totalBytes}); ${secure ? 'secure aggregation on' : 'plain mean'}`);
    for (const site of chosen) {
      const session = sessions.get(site);
      if (!session) continue;
      session.state = 'training';
      session.send({
        task: {
          taskId: round.taskIds.get(site)!,
          federation: ctx.federation,
          round: n,
          modelVersion: base.version,
          method: settings.method.definition.name,
          methodParams: params,
          methodPayload: prepared.payload,
          epochs: settings.epochs,
          batchSize: settings.batchSize,
          learningRate: settings.learningRate,
          deadlineUnixMs: round.deadline,
          seed: (settings.seed + n * 7919) >>> 0,
          sessionId: session.sessionId,
          secureAggregation: secure,
          privacy: null,
          parameters: base.totalBytes / 4,
          strategy: 'soft-label-mean',
          proximalMu: 0,
        },
      });
    }
    let failure: Error | null = await collectAnswers(round, chosen, exchange, sessions, ctx.waitForClose);
    failure ??= round.failure;
    const record = round.record;
    let mean: Float32Array | null = null;
    if (!failure && round.aggregate.updates >= settings.minSites) {
      try {
        if (exchange && maskedSum) {
          record.dropped = (await exchange.unmask(maskedSum, round.deadline)).dropped;
          const unmasked = maskedSum.finishSegment(0, new Float32Array(elements));
          // The masked inputs could not be checked one by one; their mean can, before anything is trained on it.
          const problem = distill.problem(unmasked, prepared.rows, classes);
          if (problem) throw new Error(`the unmasked mean of the soft labels ${problem}; a site sent values that are not probabilities`);
          mean = params.sharpen! > 0 ? distill.aggregate([{ probabilities: unmasked, weight: 1 }], classes, { ...params, weighting: 0 }) : unmasked;
        } else {
          mean = distill.aggregate(collector.inputs, classes, params);
        }
      } catch (err) {
        failure = err as Error;
      }
    }
    record.closedUnixMs = ctx.now();
    if (failure || !mean) {
      return await fail(record, base, failure ? `round ${n} failed: ${failure.message}` : `round ${n} got ${round.aggregate.updates} of the ${settings.minSites} soft-label updates it needs` + (round.pendingSites().length ? ` (none from ${round.pendingSites().join(', ')})` : ''), ctx);
    }
    let student: { weights: Float32Array; loss: number; seconds: number };
    try {
      const bytes = await readAllWeights(store, base.version);
      student = await distill.trainStudent(base, bytes, mean, prepared.layout.task, params, (settings.seed + n) >>> 0, settings.batchSize);
    } catch (err) {
      return await fail(record, base, `round ${n} failed: training the student on the averaged soft labels failed: ${(err as Error).message}`, ctx);
    }
    const manifest = await store.writeNext(
      { parent: base.version, round: n, spec: base.spec, topology: base.topology, tensors: base.tensors, totalBytes: base.totalBytes },
      [new Uint8Array(student.weights.buffer, student.weights.byteOffset, student.weights.byteLength)],
    );
    await distill.saveAggregate(n, mean);
    record.modelVersion = manifest.version;
    record.state = 'closed';
    record.metrics = { studentLoss: student.loss, studentSeconds: student.seconds, softLabelBytes: softSpec.byteLength, modelBytes: base.totalBytes };
    if (ctx.evaluator) {
      try {
        record.metrics = { ...record.metrics, ...(await ctx.evaluator.evaluate(manifest, store.weightsPath(manifest.version))) };
      } catch (err) {
        log(`evaluation of model version ${manifest.version} failed: ${(err as Error).message}`);
      }
    }
    record.message = `round ${n} closed (distill): soft labels from ${round.aggregate.updates} sites (${softSpec.byteLength} bytes each; the model is ${base.totalBytes}), student trained to loss ${student.loss.toFixed(4)}, model version ${manifest.version}`;
    await journal.append('closed', record);
    for (const site of record.selected) sessions.get(site)?.send({ roundNotice: { round: n, state: 'closed', message: record.message } });
    log(record.message);
    return record;
  } finally {
    ctx.setOpen(null, null);
    await round.aggregate.dispose?.().catch(() => undefined);
  }
}

async function readAllWeights(store: ModelStore, version: number): Promise<Float32Array> {
  const bytes = await readFile(store.weightsPath(version));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

async function fail(record: RoundRecord, base: ModelManifest, reason: string, ctx: SoftLabelRunContext): Promise<RoundRecord> {
  record.state = 'failed';
  record.message = `${reason}; the model stays at version ${base.version}`;
  await ctx.journal.append('failed', record);
  for (const site of record.selected) ctx.sessions.get(site)?.send({ roundNotice: { round: record.round, state: 'failed', message: record.message } });
  ctx.log(record.message);
  return record;
}
