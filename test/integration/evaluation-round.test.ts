/**
 * Federated evaluation rounds end to end, in one process: a coordinator with a real (briefly
 * pre-trained) model, agents scoring it on their own synthetic validation splits through the
 * in-process transport, summaries sealed, signed, checked and pooled. The test scores the same
 * model on the same images itself and compares.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { initialModel } from '../../cli/commands/initial-model.js';
import { Coordinator, ModelStore, initCoordinatorState } from '../../coordinator/index.js';
import { readAuditLog } from '../../node-agent/audit/index.js';
import { NodeAgent, type ValidationScores } from '../../node-agent/index.js';
import { loadSitePolicy } from '../../node-agent/policy/index.js';
import { Safeguards } from '../../node-agent/safeguards.js';
import { trainClassifier } from '../../node-agent/trainer/local-trainer.js';
import { TfjsTrainer } from '../../node-agent/trainer/tfjs-trainer.js';
import { generateIdentity, loadSodium, writeIdentityFile, readIdentityFile, parsePublicKey, readAdminKeyFile, type Identity } from '../../shared/crypto/index.js';
import { makeSyntheticSet, openSiteShards, type SiteData } from '../../shared/data/index.js';
import { SCORE_BINS, SCORE_LOGIT_RANGE, type RoundEvaluation } from '../../shared/evaluation/index.js';
import { auprc, auroc, balancedAccuracy, brier, ece, f1, sensitivity, specificity } from '../../shared/metrics/index.js';
import { modelFromTopologyJson, predictProbabilities, readFlatWeights, selectBackend, writeFlatWeights, type BackendReport } from '../../shared/model/index.js';
import type { RoundEvent, RoundRecord } from '../../shared/wire/index.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

let backend: BackendReport;
beforeAll(async () => {
  await loadSodium();
  backend = await selectBackend({ log: () => undefined });
});

/** A coordinator state holding cnn-small after two epochs on synthetic images, so its scores spread over the bins. */
async function trainedState(sites: string[]): Promise<{ state: string; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'medley-eval-'));
  const state = join(root, 'state');
  const model = await initialModel('cnn-small', '28x28x1', 2, 77);
  const net = await modelFromTopologyJson(model.topology);
  const flat = Float32Array.from(model.tensors.flatMap((t) => [...t.data]));
  writeFlatWeights(net, model.tensors.map((t, i, all) => ({ name: t.name, shape: t.shape, dtype: 'float32', offset: all.slice(0, i).reduce((n, x) => n + x.data.byteLength, 0), byteLength: t.data.byteLength })), flat);
  await trainClassifier(net, makeSyntheticSet({ count: 240, seed: 3, site: 7 }), { epochs: 2, batchSize: 32, learningRate: 0.003, seed: 1 });
  const trained = readFlatWeights(net);
  net.dispose();
  let at = 0;
  const tensors = model.tensors.map((t) => ({ ...t, data: trained.slice(at, (at += t.data.length)) }));
  const enrolled = [];
  for (const name of sites) {
    const identity = await generateIdentity(name);
    await writeIdentityFile(join(root, 'keys', `${name}.key`), identity);
    enrolled.push({ name, publicKey: identity.signPublicKey });
  }
  await initCoordinatorState({ stateDir: state, federation: 'eval-test', sites: enrolled, model: { ...model, tensors } });
  return { state, root };
}

/** The stored model's positive-class probabilities on a site's validation images, computed here. */
async function scoresOf(state: string, version: number, data: SiteData): Promise<number[]> {
  const store = await ModelStore.open(state);
  const manifest = await store.manifest(version);
  const bytes = await readFile(store.weightsPath(version));
  const net = await modelFromTopologyJson(manifest.topology);
  writeFlatWeights(net, manifest.tensors, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
  const probs = await predictProbabilities(net, data.val);
  net.dispose();
  return Array.from({ length: data.val.count }, (_, i) => probs[2 * i + 1]!);
}

describe('a federated evaluation round', () => {
  it('pools site figures that agree with scoring every site\'s images together, leaves the model as it was, and logs what left each site', async () => {
    const names = ['north', 'south', 'east', 'clinic'];
    const { state, root } = await trainedState(names);
    const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
    cleanup.push(() => coordinator.close());
    const coordinatorKey = parsePublicKey(`${coordinatorKeyPath(state)}.pub`);
    const shards = openSiteShards({ source: 'synthetic', partition: 'iid', seed: 5, syntheticCount: 60 }, 3);
    const data = [0, 1, 2].map((i) => shards.load(i));
    const allowPolicy = join(root, 'allow.yaml');
    const denyPolicy = join(root, 'deny.yaml');
    await writeFile(allowPolicy, 'methods: [fedavg, evaluate]\n');
    await writeFile(denyPolicy, 'methods: [fedavg]\n');
    const stop = new AbortController();
    const runs: Promise<void>[] = [];
    for (const [i, site] of names.entries()) {
      const identity: Identity = await readIdentityFile(join(root, 'keys', `${site}.key`));
      const agent = new NodeAgent({
        coordinator: 'in-process',
        channel: coordinator.inProcessClients().federation,
        site,
        // The clinic's policy does not list "evaluate": it declines.
        trainer: new TfjsTrainer(data[i] ?? data[0]!, backend),
        identity,
        coordinatorKey,
        safeguards: await Safeguards.open(join(root, 'agents', site), await loadSitePolicy(site === 'clinic' ? denyPolicy : allowPolicy)),
        signal: stop.signal,
        log: () => undefined,
      });
      runs.push(agent.run());
    }
    cleanup.push(async () => {
      stop.abort();
      await Promise.all(runs);
    });
    const admin = new AdminClient(coordinator.inProcessClients().admin, readAdminKeyFile(adminKeyPath(state)));
    cleanup.push(async () => admin.close());
    while ((await admin.status()).sites.filter((s) => s.connected).length < names.length) await new Promise((r) => setTimeout(r, 20));

    const started = await admin.startRounds({ rounds: 1, minSites: 3, maxSites: 0, epochs: 1, batchSize: 32, learningRate: 0.001, deadlineSeconds: 60, waitSeconds: 10, seed: 1, evaluate: true });
    const events: RoundEvent[] = [];
    await admin.watch(started.firstRound, (e) => events.push(e));
    expect(events.filter((e) => e.kind === 'evaluation-accepted').map((e) => e.site).sort()).toEqual(['east', 'north', 'south']);
    expect(events.filter((e) => e.kind === 'task-refused').map((e) => e.site)).toEqual(['clinic']);
    const closed = events.find((e) => e.kind === 'round-closed')!.record!;
    const status = await admin.status();
    const record = status.rounds.find((r) => r.round === started.firstRound)!;

    // Nothing was trained: no new version, the round names the version it scored.
    expect(status.modelVersion).toBe(1);
    expect(coordinator.store.latest).toBe(1);
    expect([record.state, record.strategy, record.baseVersion, record.modelVersion]).toEqual(['closed', 'evaluate', 1, 0]);
    expect(record.refused).toEqual(['clinic']);
    const evaluation = record.evaluation as RoundEvaluation;
    expect(closed.evaluation).toEqual(evaluation);
    expect(evaluation.sites.map((s) => s.site).sort()).toEqual(['east', 'north', 'south']);

    // Per site: what the site's own data gives.
    const labels: number[] = [];
    const scores: number[] = [];
    for (const [i, site] of ['north', 'south', 'east'].entries()) {
      const p = await scoresOf(state, 1, data[i]!);
      const y = Array.from(data[i]!.val.labels);
      labels.push(...y);
      scores.push(...p);
      const reported = evaluation.sites.find((s) => s.site === site)!;
      expect(reported.examples).toBe(y.length);
      expect(reported.metrics.auroc).toBeCloseTo(auroc(y, p), 12);
      expect(reported.metrics.auprc).toBeCloseTo(auprc(y, p), 12);
      expect(reported.metrics.ece).toBeCloseTo(ece(y, p), 12);
      expect(reported.metrics.brier).toBeCloseTo(brier(y, p), 12);
      expect(reported.metrics.sensitivity).toBe(sensitivity(y, p));
      expect(reported.metrics.specificity).toBe(specificity(y, p));
      expect(reported.metrics.balancedAccuracy).toBe(balancedAccuracy(y, p));
      expect(reported.metrics.f1).toBe(f1(y, p));
      // The synthetic sites declare scanner and sex; each site reports both columns.
      expect(Object.keys(reported.subgroups).sort()).toEqual(['scanner', 'sex']);
    }

    // Pooled: AUROC from the sites' histograms within the histogram's resolution of the AUROC over
    // every image scored together; the bound counted here from the raw scores.
    const pooled = evaluation.pooled!;
    const exact = auroc(labels, scores);
    const pos = new Array<number>(SCORE_BINS).fill(0);
    const neg = new Array<number>(SCORE_BINS).fill(0);
    // The documented bins: 0.1 wide in logit, clamped at the ends, p = 0.5 an edge.
    const bin = (p: number) => {
      const k = Math.max(0, Math.min(SCORE_BINS - 1, Math.floor((Math.log(p / (1 - p)) + SCORE_LOGIT_RANGE) * 10)));
      return p >= 0.5 ? Math.max(k, SCORE_BINS / 2) : Math.min(k, SCORE_BINS / 2 - 1);
    };
    labels.forEach((y, i) => (y ? pos : neg)[bin(scores[i]!)]++);
    const P = labels.filter((y) => y === 1).length;
    const bound = pos.reduce((s, c, k) => s + c * neg[k]!, 0) / 2 / (P * (labels.length - P));
    expect(pooled.examples).toBe(labels.length);
    expect(Math.abs(pooled.metrics.auroc! - exact)).toBeLessThanOrEqual(bound + 1e-12);
    expect(pooled.aurocResolution).toBeCloseTo(bound, 12);
    expect(bound).toBeLessThan(0.02);
    expect(exact).toBeGreaterThan(0.6);
    // Threshold metrics, ECE and Brier pool exactly.
    expect(pooled.metrics.sensitivity).toBeCloseTo(sensitivity(labels, scores), 12);
    expect(pooled.metrics.specificity).toBeCloseTo(specificity(labels, scores), 12);
    expect(pooled.metrics.ece).toBeCloseTo(ece(labels, scores), 12);
    expect(pooled.metrics.brier).toBeCloseTo(brier(labels, scores), 12);
    // Calibration: a temperature fitted on the summed NLL; the fit never makes the NLL worse.
    const calibration = pooled.calibration!;
    expect(calibration.temperature).toBeGreaterThan(0);
    expect(calibration.after.nll!).toBeLessThanOrEqual(calibration.before.nll! + 1e-12);
    expect(calibration.before.ece).toBeCloseTo(ece(labels, scores), 12);
    // Subgroups pooled over the sites, all images accounted for.
    const sex = pooled.subgroups.find((g) => g.column === 'sex')!;
    expect(sex.groups.reduce((n, g) => n + g.examples, 0)).toBe(labels.length);

    // The journal holds the same figures, and each site's audit log the summary it sent.
    const journal = (await readFile(join(state, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { event: string; record: RoundRecord });
    expect(journal.at(-1)!.event).toBe('closed');
    expect(journal.at(-1)!.record.evaluation).toEqual(evaluation);
    for (const site of ['north', 'south', 'east']) {
      const audit = await readAuditLog(join(root, 'agents', site, 'audit.jsonl'));
      expect(audit.ok).toBe(true);
      expect(audit.records.map((e) => [e.kind, e.round])).toEqual([['evaluation', started.firstRound]]);
      expect(audit.records[0]!.detail).toMatch(/aggregate statistics of 50 validation images, subgroups scanner, sex; no per-image scores/);
      expect(record.reports.find((r) => r.site === site)!.bytes).toBe(audit.records[0]!.bytes);
    }
    expect((await readAuditLog(join(root, 'agents', 'clinic', 'audit.jsonl'))).records.map((e) => e.kind)).toEqual(['refusal']);
  });

  it('declines an evaluation task at a site whose trainer cannot score, and a training run still works afterwards', async () => {
    const { state, root } = await trainedState(['north']);
    const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
    cleanup.push(() => coordinator.close());
    const { FixedStepTrainer } = await import('../../node-agent/index.js');
    const stop = new AbortController();
    const agent = new NodeAgent({
      coordinator: 'in-process',
      channel: coordinator.inProcessClients().federation,
      site: 'north',
      trainer: new FixedStepTrainer(0.001, 10),
      identity: await readIdentityFile(join(root, 'keys', 'north.key')),
      coordinatorKey: parsePublicKey(`${coordinatorKeyPath(state)}.pub`),
      signal: stop.signal,
      log: () => undefined,
    });
    const run = agent.run();
    cleanup.push(async () => {
      stop.abort();
      await run;
    });
    const admin = new AdminClient(coordinator.inProcessClients().admin, readAdminKeyFile(adminKeyPath(state)));
    cleanup.push(async () => admin.close());
    while (!(await admin.status()).sites[0]?.connected) await new Promise((r) => setTimeout(r, 20));
    const request = { rounds: 1, minSites: 1, maxSites: 0, epochs: 1, batchSize: 8, learningRate: 0.001, deadlineSeconds: 30, waitSeconds: 10, seed: 1 };
    const first = await admin.startRounds({ ...request, evaluate: true });
    const events: RoundEvent[] = [];
    await admin.watch(first.firstRound, (e) => events.push(e));
    expect(events.find((e) => e.kind === 'task-refused')?.message).toMatch(/cannot run evaluation tasks/);
    const failed = (await admin.status()).rounds.at(-1)!;
    expect([failed.state, failed.evaluation?.pooled ?? null]).toEqual(['failed', null]);
    await expect(admin.startRounds({ ...request, evaluate: true, rounds: 2 })).rejects.toThrow(/an evaluation run has one round/);
    await expect(admin.startRounds({ ...request, sites: ['nobody'] })).rejects.toThrow(/nobody, not on this federation's site list/);
    const second = await admin.startRounds(request);
    await admin.watch(second.firstRound, () => undefined);
    expect((await admin.status()).modelVersion).toBe(2);
  });
});

// Keeps the type import honest: the trainer's evaluate returns what the agent needs.
export type { ValidationScores };
