import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/index.js';
import { layoutTensors, sha256Hex, type RoundEvent, type Task } from '../../shared/wire/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { tinyModel, tinyState } from '../helpers/state.js';

const ELEMENTS = 200;
const { specs } = layoutTensors(tinyModel(ELEMENTS).tensors);
const open: { coordinator: Coordinator; client: RawClient }[] = [];

afterEach(async () => {
  for (const { coordinator, client } of open.splice(0)) {
    client.close();
    await coordinator.close();
  }
});

function update(task: Task, site: string, value: number): unknown[] {
  const values = new Float32Array(ELEMENTS).fill(value);
  return [
    { header: { federation: 'test', round: task.round, taskId: task.taskId, site, sessionId: '', baseVersion: task.modelVersion, numExamples: 10, tensors: specs, totalBytes: ELEMENTS * 4, kind: 'delta', formatVersion: 1 } },
    { data: Buffer.from(values.buffer) },
    { trailer: { sha256: sha256Hex(new Uint8Array(values.buffer)), metrics: {}, trainLoss: 0, epochs: 1, seconds: 0 } },
  ];
}

async function setUp(minSites: number) {
  const state = await tinyState(['fast', 'slow'], ELEMENTS);
  const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined, dropGraceMs: 60_000 });
  const client = new RawClient(await coordinator.listen('127.0.0.1:0'));
  open.push({ coordinator, client });
  const fast = client.session('fast');
  const slow = client.session('slow');
  while (coordinator.sessions.connected().length < 2) await new Promise((r) => setTimeout(r, 20));
  const events: RoundEvent[] = [];
  coordinator.events.subscribe(0, (e) => events.push(e));
  coordinator.controller.start({ rounds: 1, minSites, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 2, waitSeconds: 5, seed: 0 });
  const [fastTask, slowTask] = await Promise.all([fast.nextTask(), slow.nextTask()]);
  const finished = new Promise<void>((resolve) => coordinator.events.subscribe(0, (e) => e.kind === 'run-finished' && resolve()));
  return { coordinator, client, fastTask, slowTask, events, finished };
}

describe('round deadline', () => {
  it('closes at the deadline with the updates it has, and refuses the late one', async () => {
    const { coordinator, client, fastTask, slowTask, events, finished } = await setUp(1);
    expect((await client.upload(update(fastTask, 'fast', 1))).accepted).toBe(true);
    await finished;
    const closed = events.find((e) => e.kind === 'round-closed')!;
    expect(closed.record?.reports.map((r) => r.site)).toEqual(['fast']);
    expect(coordinator.store.latest).toBe(2);
    const late = await client.upload(update(slowTask, 'slow', 5)).catch((e: grpc.ServiceError) => e);
    expect((late as grpc.ServiceError).code).toBe(grpc.status.FAILED_PRECONDITION);
    expect((late as grpc.ServiceError).details).toMatch(/late updates are refused/);
    expect(coordinator.store.latest).toBe(2);
  });

  it('fails the round cleanly below its minimum, leaving the model as it was', async () => {
    const { coordinator, client, fastTask, events, finished } = await setUp(2);
    await client.upload(update(fastTask, 'fast', 1));
    await finished;
    const failed = events.find((e) => e.kind === 'round-failed')!;
    expect(failed.record?.state).toBe('failed');
    expect(failed.message).toMatch(/got 1 of the 2 updates it needs; the model stays at version 1 \(no update from slow\)/);
    expect(coordinator.store.latest).toBe(1);
    expect(coordinator.journal.all().map((r) => r.state)).toEqual(['failed']);
  });
});
