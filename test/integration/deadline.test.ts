import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/index.js';
import { layoutTensors, type RoundEvent, type Task } from '../../shared/wire/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { tinyModel, tinyState } from '../helpers/state.js';

const ELEMENTS = 200;
const { specs } = layoutTensors(tinyModel(ELEMENTS).tensors);
const open: { coordinator: Coordinator; clients: RawClient[] }[] = [];

afterEach(async () => {
  for (const { coordinator, clients } of open.splice(0)) {
    for (const client of clients) client.close();
    await coordinator.close();
  }
});

/** A sealed update from the site this client holds the key of. */
function update(client: RawClient, task: Task, site: string, sessionId: string, value: number): unknown[] {
  const values = new Float32Array(ELEMENTS).fill(value);
  const m = client.seal(
    { federation: 'test', round: task.round, taskId: task.taskId, site, sessionId, baseVersion: task.modelVersion, numExamples: 10, tensors: specs, kind: 'delta' },
    new Uint8Array(values.buffer),
  );
  return [m.header, ...m.chunks, m.trailer];
}

/**
 * The deadline has to leave the fast site time to upload on a loaded 2-core machine (the ingest
 * worker may still be starting), and it is also how long each test waits for the round. 10 s was
 * not enough once: a fresh-clone CI run beside other work (load about 20) took longer than that to
 * take in the fast site's 800-byte update, and the round closed on it. 30 s.
 */
const DEADLINE_SECONDS = 30;

async function setUp(minSites: number) {
  const state = await tinyState(['fast', 'slow'], ELEMENTS);
  const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined, dropGraceMs: 60_000 });
  const address = await coordinator.listen('127.0.0.1:0');
  const fastClient = await RawClient.forSite(address, state, 'fast');
  const slowClient = await RawClient.forSite(address, state, 'slow');
  open.push({ coordinator, clients: [fastClient, slowClient] });
  const fast = fastClient.session('fast');
  const slow = slowClient.session('slow');
  const [fastSession, slowSession] = await Promise.all([fast.welcomed, slow.welcomed]);
  const events: RoundEvent[] = [];
  coordinator.events.subscribe(0, (e) => events.push(e));
  coordinator.controller.start({ rounds: 1, minSites, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: DEADLINE_SECONDS, waitSeconds: 5, seed: 0 });
  const [fastTask, slowTask] = await Promise.all([fast.nextTask(), slow.nextTask()]);
  const finished = new Promise<void>((resolve) => coordinator.events.subscribe(0, (e) => e.kind === 'run-finished' && resolve()));
  const send = {
    fast: (value: number) => fastClient.upload(update(fastClient, fastTask, 'fast', fastSession, value)),
    slow: (value: number) => slowClient.upload(update(slowClient, slowTask, 'slow', slowSession, value)),
  };
  return { coordinator, send, events, finished };
}

describe('round deadline', () => {
  it('closes at the deadline with the updates it has, and refuses the late one', async () => {
    const { coordinator, send, events, finished } = await setUp(1);
    expect((await send.fast(1)).accepted).toBe(true);
    await finished;
    const closed = events.find((e) => e.kind === 'round-closed')!;
    expect(closed.record?.reports.map((r) => r.site)).toEqual(['fast']);
    expect(coordinator.store.latest).toBe(2);
    const late = await send.slow(5).catch((e: grpc.ServiceError) => e);
    expect((late as grpc.ServiceError).code).toBe(grpc.status.FAILED_PRECONDITION);
    expect((late as grpc.ServiceError).details).toMatch(/late updates are refused/);
    expect(coordinator.store.latest).toBe(2);
  });

  it('fails the round cleanly below its minimum, leaving the model as it was', async () => {
    const { coordinator, send, events, finished } = await setUp(2);
    await send.fast(1);
    await finished;
    const failed = events.find((e) => e.kind === 'round-failed')!;
    expect(failed.record?.state).toBe('failed');
    expect(failed.message).toMatch(/got 1 of the 2 updates it needs; the model stays at version 1 \(no update from slow\)/);
    expect(coordinator.store.latest).toBe(1);
    expect(coordinator.journal.recent().map((r) => r.state)).toEqual(['failed']);
  });
});
