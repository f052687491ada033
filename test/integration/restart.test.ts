import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Coordinator, RoundJournal } from '../../coordinator/index.js';
import { RunRecordFile, type ActiveRun } from '../../coordinator/store/index.js';
import type { RoundRecord } from '../../shared/wire/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { tinyState } from '../helpers/state.js';

function record(round: number, state: RoundRecord['state']): RoundRecord {
  return {
    round, state, baseVersion: 1, modelVersion: 0, selected: ['a'], reports: [], examples: 0,
    startedUnixMs: Date.now(), closedUnixMs: 0, bytesDown: 0, bytesUp: 0, metrics: {}, message: '',
  };
}

const request = { rounds: 3, minSites: 1, maxSites: 0, epochs: 2, batchSize: 1, learningRate: 0.1, deadlineSeconds: 30, waitSeconds: 30, seed: 0, strategy: 'fedavgm', strategyParams: { eta: 0.5 } };

describe('a coordinator that stopped mid-round', () => {
  it('closes the round it left open as aborted on restart, keeps the model, and numbers the next round after it', async () => {
    const state = await tinyState(['a'], 100);
    const journal = await RoundJournal.open(state);
    await journal.append('open', {
      round: 1, state: 'open', baseVersion: 1, modelVersion: 0, selected: ['a'], reports: [], examples: 0,
      startedUnixMs: Date.now(), closedUnixMs: 0, bytesDown: 0, bytesUp: 0, metrics: {}, message: '',
    });
    const messages: string[] = [];
    const coordinator = await Coordinator.open({ stateDir: state, log: (m) => messages.push(m) });
    try {
      const rounds = (await RoundJournal.open(state)).recent();
      expect(rounds.map((r) => r.state)).toEqual(['aborted']);
      expect(rounds[0]!.message).toMatch(/stopped while round 1 was open.*stays at version 1/);
      expect(messages.some((m) => /round 1/.test(m))).toBe(true);
      expect(coordinator.store.latest).toBe(1);
      await coordinator.listen('127.0.0.1:0');
      const reply = coordinator.controller.start({ rounds: 1, minSites: 1, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 5, waitSeconds: 1, seed: 0 });
      expect(reply.firstRound).toBe(2);
    } finally {
      await coordinator.close();
    }
  });

  it('carries on the run it recorded: the open round is run again under the next number, rounds the journal closed still count', async () => {
    const state = await tinyState(['a'], 100);
    const journal = await RoundJournal.open(state);
    // Round 1 closed, but the process died before run.json counted it; round 2 was open.
    await journal.append('closed', { ...record(1, 'closed'), modelVersion: 1 });
    await journal.append('open', record(2, 'open'));
    const run: ActiveRun = { formatVersion: 1, request, startedAt: new Date().toISOString(), firstRound: 1, roundsLeft: 3, countedThrough: 0, resumes: 0 };
    new RunRecordFile(state).begin(run);
    const messages: string[] = [];
    const coordinator = await Coordinator.open({ stateDir: state, log: (m) => messages.push(m) });
    const client = await RawClient.forSite(await coordinator.listen('127.0.0.1:0'), state, 'a');
    try {
      expect(coordinator.journal.recent().map((r) => r.state)).toEqual(['closed', 'aborted']);
      expect(coordinator.journal.recent()[1]!.message).toMatch(/stopped while round 2 was open.*runs it again as round 3/);
      expect(messages.join('\n')).toMatch(/resuming the interrupted run: 2 of its 3 round\(s\) left, from round 3; strategy fedavgm \(eta=0.5, momentum=0.9\)/);
      expect(coordinator.controller.isRunning).toBe(true);
      expect(coordinator.controller.roundsRemaining).toBe(2);
      expect(await new RunRecordFile(state).read()).toMatchObject({ roundsLeft: 2, resumes: 1, request: { strategy: 'fedavgm' } });
      const task = await client.session('a').nextTask();
      expect(task).toMatchObject({ round: 3, epochs: 2, strategy: 'fedavgm' });
    } finally {
      client.close();
      await coordinator.close();
    }
  });

  it('a resumed run with a learning-rate schedule carries on from its place in the schedule, not from its start', async () => {
    const state = await tinyState(['a'], 100);
    const journal = await RoundJournal.open(state);
    // Rounds 1 and 2 of a 4-round exp:0.5 run closed (at 0.1 and 0.05); the process died with round 3 open.
    await journal.append('closed', { ...record(1, 'closed'), modelVersion: 2 });
    await journal.append('closed', { ...record(2, 'closed'), modelVersion: 3 });
    await journal.append('open', record(3, 'open'));
    const scheduled = { ...request, rounds: 4, lrSchedule: 'exp:0.5' };
    new RunRecordFile(state).begin({ formatVersion: 1, request: scheduled, startedAt: new Date().toISOString(), firstRound: 1, roundsLeft: 2, countedThrough: 2, resumes: 0 });
    const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
    const client = await RawClient.forSite(await coordinator.listen('127.0.0.1:0'), state, 'a');
    try {
      expect(await new RunRecordFile(state).read()).toMatchObject({ roundsLeft: 2, request: { lrSchedule: 'exp:0.5' } });
      // The run's third round (run again as round 4): 0.1 x 0.5^2.
      const task = await client.session('a').nextTask();
      expect(task.round).toBe(4);
      expect(task.learningRate).toBeCloseTo(0.025, 12);
    } finally {
      client.close();
      await coordinator.close();
    }
  });

  it('removes the spill files a robust strategy left in the round the crash ended', async () => {
    const state = await tinyState(['a'], 100);
    await mkdir(join(state, 'strategy-spill', 'round-x1'), { recursive: true });
    await writeFile(join(state, 'strategy-spill', 'round-x1', 'update-a.bin'), new Uint8Array(400));
    const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
    await coordinator.close();
    expect(existsSync(join(state, 'strategy-spill'))).toBe(false);
  });

  it('drops a recorded run that can no longer start, says why, and serves on', async () => {
    const state = await tinyState(['a'], 100);
    new RunRecordFile(state).begin({ formatVersion: 1, request: { ...request, strategy: 'no-such-strategy' }, startedAt: new Date().toISOString(), firstRound: 1, roundsLeft: 3, countedThrough: 0, resumes: 0 });
    const messages: string[] = [];
    const coordinator = await Coordinator.open({ stateDir: state, log: (m) => messages.push(m) });
    try {
      expect(messages.join('\n')).toMatch(/the interrupted run \(3 round\(s\) left\) cannot resume: .*no-such-strategy.*it was dropped/);
      expect(coordinator.controller.isRunning).toBe(false);
      expect(existsSync(new RunRecordFile(state).path)).toBe(false);
    } finally {
      await coordinator.close();
    }
  });
});
