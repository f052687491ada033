import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator, ModelStore } from '../../coordinator/index.js';
import { layoutTensors, sha256Hex, type Task, type TensorSpec } from '../../shared/wire/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { tinyModel, tinyState } from '../helpers/state.js';

const ELEMENTS = 1000;
let coordinator: Coordinator;
let client: RawClient;
let state: string;
let task: Task;
let originalSha: string;
const { specs } = layoutTensors(tinyModel(ELEMENTS).tensors);

function header(overrides: Record<string, unknown> = {}, tensors: TensorSpec[] = specs) {
  return {
    header: {
      federation: 'test',
      round: task.round,
      taskId: task.taskId,
      site: 'site-a',
      sessionId: '',
      baseVersion: task.modelVersion,
      numExamples: 50,
      tensors,
      totalBytes: ELEMENTS * 4,
      kind: 'delta',
      formatVersion: 1,
      ...overrides,
    },
  };
}

function body(values: Float32Array): { data: Buffer }[] {
  const bytes = Buffer.from(values.buffer);
  // Odd chunk boundaries on purpose: values straddle chunks.
  return [{ data: bytes.subarray(0, 1001) }, { data: bytes.subarray(1001, 2999) }, { data: bytes.subarray(2999) }];
}

function trailer(values: Float32Array, sha = sha256Hex(new Uint8Array(values.buffer))) {
  return { trailer: { sha256: sha, metrics: { auroc: 0.5 }, trainLoss: 0.1, epochs: 1, seconds: 1 } };
}

async function refusal(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the coordinator to refuse');
}

async function unchanged(): Promise<void> {
  const store = await ModelStore.open(state);
  expect(store.latest).toBe(1);
  expect((await store.manifest(1)).sha256).toBe(originalSha);
  await store.verify(1);
  expect(coordinator.controller.openRound?.record.reports).toHaveLength(0);
}

describe('the coordinator refuses bad input and keeps running with its model intact', () => {
  beforeAll(async () => {
    state = await tinyState(['site-a', 'site-b'], ELEMENTS);
    coordinator = await Coordinator.open({ stateDir: state, log: () => undefined, maxUpdateNorm: 1e6 });
    const address = await coordinator.listen('127.0.0.1:0');
    originalSha = (await coordinator.store.manifest(1)).sha256;
    client = new RawClient(address);
    const session = client.session('site-a');
    client.session('site-b');
    for (;;) {
      if (coordinator.sessions.connected().length === 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    coordinator.controller.start({ rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 60, waitSeconds: 10, seed: 0 });
    task = await session.nextTask();
  });

  afterAll(async () => {
    client.close();
    await coordinator.close();
  });

  it('refuses a stream that does not start with a header', async () => {
    const err = await refusal(client.upload([{ data: Buffer.alloc(16) }]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/must start with a header/);
    await unchanged();
  });

  it('refuses a truncated upload (stream ends early, no trailer)', async () => {
    const values = new Float32Array(ELEMENTS).fill(0.5);
    const err = await refusal(client.upload([header(), ...body(values).slice(0, 2)]));
    expect(err.code).toBe(grpc.status.DATA_LOSS);
    expect(err.details).toMatch(/ended after 2999 of 4000 bytes/);
    await unchanged();
  });

  it('refuses an upload the agent cancels half way', async () => {
    const values = new Float32Array(ELEMENTS).fill(0.5);
    const err = await refusal(client.upload([header(), ...body(values).slice(0, 1)], { cancel: true }));
    expect(err.code).toBe(grpc.status.CANCELLED);
    await new Promise((r) => setTimeout(r, 200));
    await unchanged();
  });

  it('refuses an update with the wrong shapes', async () => {
    const wrong = specs.map((s, i) => (i === 1 ? { ...s, shape: [5, 2] } : s));
    const err = await refusal(client.upload([header({}, wrong)]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/tensor dense\/bias has shape \[5,2\], expected \[10\]/);
    await unchanged();
  });

  it('refuses an update carrying a NaN, naming the tensor and element', async () => {
    const values = new Float32Array(ELEMENTS).fill(0.25);
    values[995] = Number.NaN;
    const err = await refusal(client.upload([header(), ...body(values), trailer(values)]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/tensor dense\/bias element 5 is NaN/);
    await unchanged();
  });

  it('refuses bytes that do not match the checksum', async () => {
    const values = new Float32Array(ELEMENTS).fill(0.25);
    const err = await refusal(client.upload([header(), ...body(values), trailer(values, 'a'.repeat(64))]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/damaged in transit/);
    await unchanged();
  });

  it('refuses more bytes than announced', async () => {
    const values = new Float32Array(ELEMENTS + 4).fill(0.25);
    const err = await refusal(client.upload([header(), { data: Buffer.from(values.buffer) }, trailer(values)]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/more than the 4000 bytes/);
    await unchanged();
  });

  it('refuses an update for a round that is not open, or for another task', async () => {
    const late = await refusal(client.upload([header({ round: task.round + 5 })]));
    expect(late.code).toBe(grpc.status.FAILED_PRECONDITION);
    const wrongTask = await refusal(client.upload([header({ taskId: 'forged' })]));
    expect(wrongTask.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(wrongTask.details).toMatch(/answers task forged/);
    await unchanged();
  });

  it('turns away a site it was not told to expect, on the session and on upload', async () => {
    const stranger = client.session('mallory');
    const err = await stranger.closed;
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err?.details).toMatch(/site "mallory" is not on this federation's site list/);
    const upload = await refusal(client.upload([header({ site: 'mallory' })]));
    expect(upload.code).toBe(grpc.status.PERMISSION_DENIED);
    await unchanged();
  });

  it('still accepts good updates afterwards and closes the round with their exact mean', async () => {
    const a = new Float32Array(ELEMENTS).fill(0.5);
    const receipt = await client.upload([header(), ...body(a), trailer(a)]);
    expect(receipt.accepted).toBe(true);
    const again = await refusal(client.upload([header(), ...body(a), trailer(a)]));
    expect(again.details).toMatch(/already has the update from site-a/);
    const b = new Float32Array(ELEMENTS).fill(2);
    // site-b's task id is only known to site-b's session; read it from the open round.
    const taskB = coordinator.controller.openRound!.taskIds.get('site-b')!;
    await client.upload([header({ site: 'site-b', taskId: taskB, numExamples: 150 }), ...body(b), trailer(b)]);
    for (;;) {
      if (coordinator.store.latest === 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const store = await ModelStore.open(state);
    const before = tinyModel(ELEMENTS).tensors.flatMap((t) => [...t.data]);
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(store.weightsPath(2));
    const after = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const mean = (50 * 0.5 + 150 * 2) / 200;
    expect([...after]).toEqual(before.map((w) => Math.fround(w + mean)));
  });
});
