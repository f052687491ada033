import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/index.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { AdminClient } from '../../cli/admin-client.js';
import { FixedStepTrainer, NodeAgent, type DownloadedModel, type TrainingOutcome, type TrainingProgress } from '../../node-agent/index.js';
import { loadSodium, parsePublicKey, readAdminKeyFile, readIdentityFile } from '../../shared/crypto/index.js';
import type { StartRoundsRequest, Task } from '../../shared/wire/index.js';
import { siteKeyPath, tinyState } from '../helpers/state.js';

/*
 * `--lr-schedule` end to end through a real coordinator and a real agent (in-process clients, so
 * the request and every Task still go through protobuf encoding): what the site's trainer is handed
 * each round is the scheduled rate, not the run's base rate.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** The agent's real fixed-step trainer, noting the Task of every round it trains. */
class RecordingTrainer extends FixedStepTrainer {
  readonly tasks: Task[] = [];
  override train(model: DownloadedModel, task: Task, onProgress: (p: TrainingProgress) => void): Promise<TrainingOutcome> {
    this.tasks.push(task);
    return super.train(model, task, onProgress);
  }
}

async function federation() {
  await loadSodium();
  const state = await tinyState(['north'], 100);
  const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
  cleanup.push(() => coordinator.close());
  const trainer = new RecordingTrainer(0.5, 10);
  const stop = new AbortController();
  const agent = new NodeAgent({
    coordinator: 'in-process',
    channel: coordinator.inProcessClients().federation,
    site: 'north',
    trainer,
    identity: await readIdentityFile(siteKeyPath(state, 'north')),
    coordinatorKey: parsePublicKey(`${coordinatorKeyPath(state)}.pub`),
    signal: stop.signal,
    log: () => undefined,
  });
  const running = agent.run();
  cleanup.push(async () => {
    stop.abort();
    await running;
  });
  const admin = new AdminClient(coordinator.inProcessClients().admin, readAdminKeyFile(adminKeyPath(state)));
  cleanup.push(async () => admin.close());
  await admin.waitUntilReady(1000);
  while ((await admin.status()).sites.filter((s) => s.connected).length < 1) await new Promise((r) => setTimeout(r, 20));
  return { admin, trainer };
}

const RUN: StartRoundsRequest = { rounds: 4, minSites: 1, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.01, deadlineSeconds: 60, waitSeconds: 30, seed: 1 };

describe('a run with a learning-rate schedule', () => {
  it.each([
    ['exp:0.5', [0.01, 0.005, 0.0025, 0.00125]],
    // half a cosine from 0.01 to 0.1 x 0.01 over rounds 1-4: progress 0, 1/3, 2/3, 1
    ['cosine:0.1', [0.01, 0.01 * (0.1 + 0.9 * 0.75), 0.01 * (0.1 + 0.9 * 0.25), 0.001]],
    ['constant', [0.01, 0.01, 0.01, 0.01]],
  ])('%s: each round\'s Task carries that round\'s rate', async (lrSchedule, want) => {
    const { admin, trainer } = await federation();
    const started = await admin.startRounds({ ...RUN, lrSchedule });
    await admin.watch(started.firstRound, () => undefined);
    expect((await admin.status()).rounds.map((r) => r.state)).toEqual(['closed', 'closed', 'closed', 'closed']);
    expect(trainer.tasks.map((t) => t.round)).toEqual([1, 2, 3, 4]);
    trainer.tasks.forEach((task, k) => expect(task.learningRate).toBeCloseTo(want[k]!, 12));
  });

  it('refuses a malformed schedule, naming it and the forms it takes, and starts nothing', async () => {
    const { admin, trainer } = await federation();
    await expect(admin.startRounds({ ...RUN, lrSchedule: 'exp:2' })).rejects.toThrow(/learning-rate schedule "exp:2": GAMMA must be a number above 0 and at most 1/);
    await expect(admin.startRounds({ ...RUN, lrSchedule: 'step:3' })).rejects.toThrow(/"step:3" is not one of constant, exp:GAMMA .* or cosine:FLOOR/);
    expect((await admin.status()).rounds).toEqual([]);
    expect(trainer.tasks).toEqual([]);
  });
});
