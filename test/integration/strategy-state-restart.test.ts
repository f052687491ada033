/**
 * A run with a server optimiser that the coordinator's death interrupts carries on with the same
 * optimiser state after the restart: FedAvgM's momentum saved after round 1 is used in round 2, so
 * the model comes out as if the run had never stopped (and differs from a momentum restarted at 0).
 * A state that no longer fits (another model version, a damaged file) is dropped with the reason,
 * and the run goes on.
 *
 * The crash is reconstructed on disk, as in restart.test.ts: round 1 ran for real in a first
 * coordinator (which wrote the version and the strategy's state), then STATE/run.json says the run
 * still has a round to do, as the killed process would have left it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/index.js';
import { ModelStore, RunRecordFile, StrategyStateFile } from '../../coordinator/store/index.js';
import { layoutTensors, type StartRoundsRequest, type Task } from '../../shared/wire/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { tinyModel, tinyState } from '../helpers/state.js';

const ELEMENTS = 200;
const { specs } = layoutTensors(tinyModel(ELEMENTS).tensors);
const ETA = 1;
const MOMENTUM = 0.5;
const request: StartRoundsRequest = {
  rounds: 2, minSites: 1, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 30, waitSeconds: 30, seed: 0,
  strategy: 'fedavgm', strategyParams: { eta: ETA, momentum: MOMENTUM },
};

const open: { coordinator: Coordinator; client: RawClient }[] = [];
afterEach(async () => {
  for (const { coordinator, client } of open.splice(0)) {
    client.close();
    await coordinator.close();
  }
});

async function weights(state: string, version: number): Promise<Float32Array> {
  const store = await ModelStore.open(state);
  const bytes = await readFile(store.weightsPath(version));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Opens a coordinator on `state`, connects site a, sends `value` in every element as its delta for the task it gets, and waits for the round to close. */
async function roundWithDelta(state: string, value: number, start: StartRoundsRequest | null, messages: string[]): Promise<Task> {
  const coordinator = await Coordinator.open({ stateDir: state, log: (m) => messages.push(m) });
  const client = await RawClient.forSite(await coordinator.listen('127.0.0.1:0'), state, 'a');
  open.push({ coordinator, client });
  const closed = new Promise<void>((resolve) => coordinator.events.subscribe(0, (e) => e.kind === 'round-closed' && resolve()));
  const session = client.session('a');
  const sessionId = await session.welcomed;
  if (start) coordinator.controller.start(start);
  const task = await session.nextTask();
  const m = client.seal(
    { federation: 'test', round: task.round, taskId: task.taskId, site: 'a', sessionId, baseVersion: task.modelVersion, numExamples: 10, tensors: specs, kind: 'delta' },
    new Uint8Array(new Float32Array(ELEMENTS).fill(value).buffer),
  );
  expect((await client.upload([m.header, ...m.chunks, m.trailer])).accepted).toBe(true);
  await closed;
  return task;
}

/** Round 1 of a 2-round FedAvgM run in a first coordinator, then the run file a crash before round 2 would leave. */
async function interruptedAfterRoundOne(): Promise<{ state: string; runId: string }> {
  const state = await tinyState(['a'], ELEMENTS);
  await roundWithDelta(state, 0.25, { ...request, rounds: 1 }, []);
  const { coordinator, client } = open.pop()!;
  client.close();
  await coordinator.close();
  const saved = await new StrategyStateFile(state).read();
  expect(saved).toMatchObject({ strategy: 'fedavgm', parameters: { eta: ETA, momentum: MOMENTUM }, modelVersion: 2 });
  // FedAvgM's momentum after one round is that round's mean delta.
  expect(Array.from(saved!.arrays[0]!)).toEqual(Array.from({ length: ELEMENTS }, () => 0.25));
  new RunRecordFile(state).begin({ formatVersion: 1, request, startedAt: saved!.run, firstRound: 1, roundsLeft: 1, countedThrough: 1, resumes: 0 });
  return { state, runId: saved!.run };
}

describe('a resumed run keeps its server optimiser state', () => {
  it('carries FedAvgM momentum over a coordinator restart: version 3 = version 2 + eta (momentum x d1 + d2)', async () => {
    const { state } = await interruptedAfterRoundOne();
    const messages: string[] = [];
    const task = await roundWithDelta(state, 0.5, null, messages);
    expect(task.round).toBe(2);
    expect(messages.join('\n')).toMatch(/resuming the interrupted run: 1 of its 2 round\(s\) left.*strategy fedavgm .*its server-side state carried on from model version 2/);
    const [v2, v3] = [await weights(state, 2), await weights(state, 3)];
    const carried = MOMENTUM * 0.25 + 0.5;
    for (let i = 0; i < ELEMENTS; i++) expect(v3[i]).toBeCloseTo(v2[i]! + ETA * carried, 6);
    // A momentum restarted at zero would have moved every weight by 0.5 only.
    expect(Math.abs(v3[0]! - (v2[0]! + ETA * 0.5))).toBeGreaterThan(0.1);
    expect(await new StrategyStateFile(state).read()).toMatchObject({ modelVersion: 3 });
  });

  it('starts the optimiser afresh, saying why, when the saved state is damaged or belongs to another model version or run', async () => {
    const cases: { name: string; spoil: (state: string, runId: string) => Promise<void>; why: RegExp }[] = [
      {
        name: 'a flipped byte',
        spoil: async (state) => {
          const path = new StrategyStateFile(state).path;
          const bytes = await readFile(path);
          bytes[bytes.length - 3] ^= 0xff;
          await writeFile(path, bytes);
        },
        why: /strategy-state\.bin \(the strategy's saved state\) is unusable: its values do not match their SHA-256/,
      },
      {
        name: 'a truncated file',
        spoil: async (state) => {
          const path = new StrategyStateFile(state).path;
          await writeFile(path, (await readFile(path)).subarray(0, 50));
        },
        why: /is unusable: (its header|it holds)/,
      },
      {
        name: 'another run',
        spoil: async (state) => {
          const file = new StrategyStateFile(state);
          await file.write({ ...(await file.read())!, run: '2020-01-01T00:00:00.000Z' });
        },
        why: /the saved state belongs to another run/,
      },
      {
        name: 'an older model version',
        spoil: async (state) => {
          const file = new StrategyStateFile(state);
          await file.write({ ...(await file.read())!, modelVersion: 1 });
        },
        why: /the saved state belongs to model version 1, the model is at version 2/,
      },
    ];
    for (const c of cases) {
      const { state, runId } = await interruptedAfterRoundOne();
      await c.spoil(state, runId);
      const messages: string[] = [];
      await roundWithDelta(state, 0.5, null, messages);
      expect(messages.join('\n'), c.name).toMatch(/resuming the interrupted run/);
      expect(messages.join('\n'), c.name).toMatch(c.why);
      const [v2, v3] = [await weights(state, 2), await weights(state, 3)];
      // Momentum from zero: the round's delta alone.
      for (let i = 0; i < ELEMENTS; i++) expect(v3[i], c.name).toBeCloseTo(v2[i]! + ETA * 0.5, 6);
      const { coordinator, client } = open.pop()!;
      client.close();
      await coordinator.close();
    }
  });
});
