/**
 * Evaluation summaries at the coordinator's edge, over real gRPC with a hand-driven client: an
 * altered, forged, inconsistent or replayed summary is refused with a status naming why, nothing
 * of it reaches the round record, and the coordinator goes on to close the round with the honest
 * summaries.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { Coordinator } from '../../coordinator/index.js';
import { adminKeyPath } from '../../coordinator/store/index.js';
import { readAdminKeyFile, sealEvaluation, type EvaluationBinding } from '../../shared/crypto/index.js';
import { Random } from '../../shared/data/index.js';
import { summarizeSiteEvaluation } from '../../shared/evaluation/index.js';
import type { RoundEvent, SealedEvaluation, Task, UploadReceipt } from '../../shared/wire/index.js';
import { RawClient, type RawSession } from '../helpers/raw-client.js';
import { tinyModel, tinyState } from '../helpers/state.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function submit(client: RawClient, message: SealedEvaluation): Promise<UploadReceipt> {
  return new Promise((resolve, reject) => {
    (client.client.submitEvaluation as (m: unknown, cb: grpc.requestCallback<UploadReceipt>) => void).call(client.client, message, (err, r) => (err ? reject(err) : resolve(r!)));
  });
}

function refusal(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  return promise.then(
    () => ({ code: grpc.status.OK, details: 'accepted' }),
    (err: grpc.ServiceError) => ({ code: err.code, details: err.details }),
  );
}

/** A made-up site's scores, summarised as an agent would (the coordinator never sees them). */
function summaryBody(n: number, seed: number, modelVersion: number): Buffer {
  const rng = new Random(seed);
  const labels = Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0));
  const probabilities = labels.flatMap((y) => {
    const p = 1 / (1 + Math.exp(-(rng.normal() + (y ? 1 : -1))));
    return [1 - p, p];
  });
  return Buffer.from(JSON.stringify(summarizeSiteEvaluation({ labels, probabilities, modelVersion, seconds: 0.1 })));
}

describe('evaluation summaries at the coordinator', () => {
  it('refuses altered, forged, inconsistent and replayed summaries, keeps the model, and closes the round with the honest ones', async () => {
    const state = await tinyState(['north', 'south']);
    const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
    cleanup.push(() => coordinator.close());
    const address = await coordinator.listen('127.0.0.1:0');
    const north = await RawClient.forSite(address, state, 'north');
    const south = await RawClient.forSite(address, state, 'south');
    cleanup.push(async () => (north.close(), south.close()));
    const sessions: Record<string, RawSession> = { north: north.session('north'), south: south.session('south') };
    cleanup.push(async () => Object.values(sessions).forEach((s) => s.call.cancel()));
    const ids = { north: await sessions.north!.welcomed, south: await sessions.south!.welcomed };
    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    cleanup.push(async () => admin.close());
    const rejected: string[] = [];
    coordinator.events.subscribe(0, (e: RoundEvent) => e.kind === 'evaluation-rejected' && rejected.push(e.message));

    const evaluate = { rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 8, learningRate: 0.001, deadlineSeconds: 30, waitSeconds: 10, seed: 1, evaluate: true };
    await admin.startRounds(evaluate);
    const tasks: Record<string, Task> = { north: await sessions.north!.nextTask(), south: await sessions.south!.nextTask() };
    expect([tasks.north!.method, tasks.north!.epochs, tasks.north!.modelVersion]).toEqual(['evaluate', 0, 1]);
    const binding = (site: 'north' | 'south', examples = 40): EvaluationBinding => ({
      federation: 'test', round: tasks[site]!.round, taskId: tasks[site]!.taskId, site, sessionId: ids[site], modelVersion: 1, examples,
    });
    const honest = sealEvaluation(north.identity, north.coordinatorKey, binding('north'), summaryBody(40, 1, 1)).message;

    // A byte of the sealed body changed in transit.
    const flipped = { ...honest, sealedBody: Uint8Array.from(honest.sealedBody, (b, i) => (i === 10 ? b ^ 1 : b)) };
    // The header says 41 images where the site signed 40.
    const altered = { ...honest, header: { ...honest.header, numExamples: 41 } };
    // South's key, claiming to be north.
    const forged = sealEvaluation(south.identity, south.coordinatorKey, binding('north'), summaryBody(40, 1, 1)).message;
    // Properly sealed and signed by north, but its counts do not add up.
    const summary = JSON.parse(summaryBody(40, 1, 1).toString()) as { statistics: { negative: number[] } };
    summary.statistics.negative[0]! += 5;
    const inconsistent = sealEvaluation(north.identity, north.coordinatorKey, binding('north'), Buffer.from(JSON.stringify(summary))).message;
    // Another session's id: the session is bound into the signed header.
    const otherSession = sealEvaluation(north.identity, north.coordinatorKey, { ...binding('north'), sessionId: 'not-a-session' }, summaryBody(40, 1, 1)).message;

    const outcomes = [];
    for (const message of [flipped, altered, forged, inconsistent, otherSession]) outcomes.push(await refusal(submit(north, message)));
    expect(outcomes.map((o) => o.code)).toEqual([grpc.status.INVALID_ARGUMENT, grpc.status.UNAUTHENTICATED, grpc.status.UNAUTHENTICATED, grpc.status.INVALID_ARGUMENT, grpc.status.UNAUTHENTICATED]);
    expect(outcomes[0]!.details).toMatch(/fails authentication/);
    expect(outcomes[1]!.details).toMatch(/header signature that does not verify/);
    expect(outcomes[3]!.details).toMatch(/evaluation from site north for round 1 is inconsistent: statistics: its histogram holds 45 examples but it claims 40/);
    expect(outcomes[4]!.details).toMatch(/no authenticated session/);
    expect(coordinator.controller.isRunning).toBe(true);

    expect((await submit(north, honest)).accepted).toBe(true);
    // The same sealed summary again: a replay.
    const replay = await refusal(submit(north, honest));
    expect([replay.code, replay.details]).toEqual([grpc.status.FAILED_PRECONDITION, 'round 1 already has the evaluation from north; a second one (or a replay) is refused']);
    // A model update has no place in an evaluation round.
    const update = north.seal({ federation: 'test', round: 1, taskId: tasks.north!.taskId, site: 'north', sessionId: ids.north, baseVersion: 1, numExamples: 10, tensors: [], kind: 'delta' }, new Uint8Array(0));
    const upload = await refusal(north.upload([update.header, ...update.chunks, update.trailer]));
    expect(upload.details).toMatch(/round 1 is an evaluation round; it takes no model updates/);
    expect(rejected.length).toBeGreaterThanOrEqual(6);

    // South answers; the round closes on the two honest summaries only.
    const southMessage = sealEvaluation(south.identity, south.coordinatorKey, binding('south', 30), summaryBody(30, 2, 1)).message;
    expect((await submit(south, southMessage)).accepted).toBe(true);
    while (coordinator.controller.isRunning) await new Promise((r) => setTimeout(r, 20));
    let status = await admin.status();
    const round1 = status.rounds.find((r) => r.round === 1)!;
    expect([round1.state, round1.reports.map((r) => r.site).sort(), round1.evaluation?.pooled?.examples]).toEqual(['closed', ['north', 'south'], 70]);
    expect(status.modelVersion).toBe(1);

    // Round 2: north's round-1 summary replayed is for a closed round.
    await admin.startRounds(evaluate);
    const next = await sessions.north!.nextTask();
    expect(next.round).toBe(2);
    const late = await refusal(submit(north, honest));
    expect([late.code, late.details]).toEqual([grpc.status.FAILED_PRECONDITION, 'evaluation from north is for round 1, but round 2 is the evaluation round open; it was refused']);
    tasks.north = next;
    tasks.south = await sessions.south!.nextTask();
    for (const [client, site, n] of [[north, 'north', 25], [south, 'south', 35]] as const) {
      expect((await submit(client, sealEvaluation(client.identity, client.coordinatorKey, binding(site, n), summaryBody(n, 3, 1)).message)).accepted).toBe(true);
    }
    while (coordinator.controller.isRunning) await new Promise((r) => setTimeout(r, 20));
    status = await admin.status();
    expect(status.rounds.map((r) => [r.round, r.state, r.examples])).toEqual([[1, 'closed', 70], [2, 'closed', 60]]);
    expect(status.modelVersion).toBe(1);
    const stored = await readFile(coordinator.store.weightsPath(1));
    expect(new Float32Array(stored.buffer, stored.byteOffset, stored.byteLength / 4)).toEqual(Float32Array.from(tinyModel().tensors.flatMap((t) => [...t.data])));
    const journal = (await readFile(join(state, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { event: string });
    expect(journal.map((j) => j.event)).toEqual(['open', 'closed', 'open', 'closed']);
  });
});
