import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/index.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { AdminClient } from '../../cli/admin-client.js';
import { FixedStepTrainer, NodeAgent, type DownloadedModel, type Trainer, type TrainingOutcome, type TrainingProgress } from '../../node-agent/index.js';
import { loadSodium, parsePublicKey, readAdminKeyFile, readIdentityFile } from '../../shared/crypto/index.js';
import type { Task } from '../../shared/wire/index.js';
import { siteKeyPath, tinyState } from '../helpers/state.js';

/*
 * What a site's own trouble does to a round: a site whose training crashes tells the coordinator,
 * which stops waiting for it (instead of holding everyone until the deadline); a site whose
 * validation split has one class (AUROC undefined) still has its update counted.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

class CrashingTrainer implements Trainer {
  readonly backend = 'none (crashes)';
  readonly trainExamples = 50;
  readonly valExamples = 0;
  async train(): Promise<TrainingOutcome> {
    throw new Error('out of GPU memory (simulated)');
  }
}

/** A fixed step whose report carries an AUROC that could not be computed (one-class validation). */
class OneClassTrainer extends FixedStepTrainer {
  override async train(model: DownloadedModel, task: Task, onProgress: (p: TrainingProgress) => void): Promise<TrainingOutcome> {
    const outcome = await super.train(model, task, onProgress);
    return { ...outcome, metrics: { auroc: Number.NaN, accuracy: 1 } };
  }
}

describe('a site in trouble', () => {
  it('a crashed site releases the round at once; a NaN metric does not cost a site its update', async () => {
    await loadSodium();
    const sites = ['steady', 'one-class', 'crashing'];
    const state = await tinyState(sites, 500);
    const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
    cleanup.push(() => coordinator.close());
    const coordinatorKey = parsePublicKey(`${coordinatorKeyPath(state)}.pub`);
    const trainers: Record<string, Trainer> = {
      steady: new FixedStepTrainer(0.25, 100),
      'one-class': new OneClassTrainer(0.75, 100),
      crashing: new CrashingTrainer(),
    };
    const stop = new AbortController();
    const agents = await Promise.all(
      sites.map(async (site) =>
        new NodeAgent({
          coordinator: 'in-process',
          channel: coordinator.inProcessClients().federation,
          site,
          trainer: trainers[site]!,
          identity: await readIdentityFile(siteKeyPath(state, site)),
          coordinatorKey,
          signal: stop.signal,
          log: () => undefined,
        }),
      ),
    );
    const runs = agents.map((agent) => agent.run());
    cleanup.push(async () => {
      stop.abort();
      await Promise.all(runs);
    });
    const admin = new AdminClient(coordinator.inProcessClients().admin, readAdminKeyFile(adminKeyPath(state)));
    cleanup.push(async () => admin.close());
    while ((await admin.status()).sites.filter((s) => s.connected).length < 3) await new Promise((r) => setTimeout(r, 20));

    const started = Date.now();
    // A deadline of 10 minutes: the round must close long before it, because every site answered or gave up.
    const run = await admin.startRounds({ rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 600, waitSeconds: 30, seed: 1 });
    await admin.watch(run.firstRound, () => undefined);
    const seconds = (Date.now() - started) / 1000;
    const record = (await admin.status()).rounds.find((r) => r.round === run.firstRound)!;
    expect(record.state).toBe('closed');
    expect(record.failed).toEqual(['crashing']);
    expect(record.reports.map((r) => r.site).sort()).toEqual(['one-class', 'steady']);
    // The undefined AUROC was left out of the report; the defined metric arrived.
    expect(record.reports.find((r) => r.site === 'one-class')?.metrics).toEqual({ accuracy: 1 });
    expect(seconds).toBeLessThan(60);
  });
});
