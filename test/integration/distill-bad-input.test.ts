import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialModel } from '../../cli/commands/initial-model.js';
import { Coordinator, ModelStore, initCoordinatorState } from '../../coordinator/index.js';
import { generateIdentity, loadSodium, writeIdentityFile } from '../../shared/crypto/index.js';
import { decodeDistillPayload } from '../../shared/distill/index.js';
import type { Task, TensorSpec } from '../../shared/wire/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { siteKeyPath, tinyState } from '../helpers/state.js';

const IMAGES = 6;
const CLASSES = 2;
let coordinator: Coordinator;
let state: string;
const clients = new Map<string, RawClient>();
const sessions = new Map<string, string>();
let task: Task;

const soft = (rows = IMAGES): TensorSpec => ({ name: 'soft_labels', shape: [rows, CLASSES], dtype: 'float32', offset: 0, byteLength: rows * CLASSES * 4 });

function rows(values: number[]): Float32Array {
  const out = new Float32Array(IMAGES * CLASSES);
  for (let r = 0; r < IMAGES; r++) {
    out[r * 2] = values[r % values.length]!;
    out[r * 2 + 1] = 1 - values[r % values.length]!;
  }
  return out;
}

function upload(site: string, values: Float32Array, overrides: Record<string, unknown> = {}): Promise<unknown> {
  const client = clients.get(site)!;
  const m = client.seal(
    { federation: 'test', round: task.round, taskId: '', site, sessionId: sessions.get(site)!, baseVersion: task.modelVersion, numExamples: 10, tensors: [soft()], kind: 'soft-labels', ...overrides },
    new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  );
  return client.upload([m.header, ...m.chunks, m.trailer]);
}

async function refusal(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error('expected the coordinator to refuse');
}

/** Nothing stored moved: the model is still version 1, no aggregate kept, the round holds no soft labels. */
async function unchanged(): Promise<void> {
  expect((await ModelStore.open(state)).latest).toBe(1);
  expect(existsSync(join(state, 'distill', 'latest-aggregate.json'))).toBe(false);
  expect(coordinator.controller.openRound?.record.reports).toHaveLength(0);
}

describe('a distillation round over gRPC refuses bad soft labels with the reason, and goes on', () => {
  beforeAll(async () => {
    await loadSodium();
    state = join(await mkdtemp(join(tmpdir(), 'medley-distill-bad-')), 'state');
    const sites = [];
    for (const name of ['site-a', 'site-b']) {
      const identity = await generateIdentity(name);
      await writeIdentityFile(siteKeyPath(state, name), identity);
      sites.push({ name, publicKey: identity.signPublicKey });
    }
    await initCoordinatorState({ stateDir: state, federation: 'test', sites, model: await initialModel('cnn-small', '8x8x1', CLASSES, 1) });
    const images = Float32Array.from({ length: IMAGES * 64 }, (_, i) => (i % 13) / 13);
    coordinator = await Coordinator.open({ stateDir: state, log: () => undefined, transferSet: { images, count: IMAGES, height: 8, width: 8, channels: 1 } });
    const address = await coordinator.listen('127.0.0.1:0');
    const open = [];
    for (const site of ['site-a', 'site-b']) {
      const client = await RawClient.forSite(address, state, site);
      clients.set(site, client);
      const session = client.session(site);
      sessions.set(site, await session.welcomed);
      open.push(session);
    }
    coordinator.controller.start({ rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 2, learningRate: 0.01, deadlineSeconds: 120, waitSeconds: 10, seed: 0, method: 'distill', methodParams: { studentEpochs: 1 } });
    const tasks = await Promise.all(open.map((s) => s.nextTask()));
    task = tasks[0]!;
    for (const [i, site] of ['site-a', 'site-b'].entries()) taskIds.set(site, tasks[i]!.taskId);
    const payload = decodeDistillPayload(task.methodPayload);
    expect(payload).toMatchObject({ rows: IMAGES, classes: CLASSES, aggregate: null, task: 'classification' });
  });

  afterAll(async () => {
    for (const c of clients.values()) c.close();
    await coordinator.close();
  });

  const taskIds = new Map<string, string>();
  const send = (site: string, values: Float32Array, overrides: Record<string, unknown> = {}) => upload(site, values, { taskId: taskIds.get(site), ...overrides });

  it('refuses a NaN', async () => {
    const values = rows([0.2]);
    values[3] = Number.NaN;
    const err = await refusal(send('site-a', values));
    expect(err.details).toMatch(/not finite/);
    await unchanged();
  });

  it('refuses rows that do not sum to 1', async () => {
    const err = await refusal(send('site-a', rows([0.2]).map((v) => v * 0.9)));
    expect(err.details).toMatch(/soft labels from site site-a for round \d+ were refused: row 0 sums to 0\.9+\d*, not 1/);
    await unchanged();
  });

  it('refuses values outside [0, 1]', async () => {
    const err = await refusal(send('site-a', rows([1.25])));
    expect(err.details).toMatch(/row 0, class 0 is 1\.25, outside \[0, 1\]/);
    await unchanged();
  });

  it('refuses soft labels of the wrong shape, and a weight update in a distillation round', async () => {
    const seven = new Float32Array((IMAGES + 1) * CLASSES).fill(0.5);
    expect((await refusal(send('site-a', seven, { tensors: [soft(IMAGES + 1)] }))).details).toMatch(/does not match the round's model/);
    expect((await refusal(send('site-a', rows([0.2]), { kind: 'delta' }))).details).toMatch(/is of kind "delta"; this round takes "soft-labels" updates/);
    await unchanged();
  });

  it('then takes both sites\' good soft labels, averages them exactly and writes the student', async () => {
    const a = rows([0.1, 0.6, 0.9]);
    const b = rows([0.3, 0.2, 0.7]);
    await send('site-a', a);
    await send('site-b', b);
    for (let i = 0; i < 600 && (await ModelStore.open(state)).latest < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await ModelStore.open(state)).latest).toBe(2);
    for (let i = 0; i < 100 && !existsSync(join(state, 'distill', 'latest-aggregate.json')); i++) await new Promise((r) => setTimeout(r, 100));
    const latest = JSON.parse(await readFile(join(state, 'distill', 'latest-aggregate.json'), 'utf8')) as { sha256: string; round: number };
    const bytes = await readFile(join(state, 'distill', `${latest.sha256}.bin`));
    const aggregate = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    expect(latest.round).toBe(task.round);
    for (let i = 0; i < aggregate.length; i++) expect(aggregate[i]).toBeCloseTo((a[i]! + b[i]!) / 2, 7);
  });
});

describe('distillation rounds the coordinator cannot run are refused before they start', () => {
  it('without a transfer set, and with differential privacy', async () => {
    const plain = await Coordinator.open({ stateDir: await tinyState(['site-a']), log: () => undefined });
    try {
      const request = { rounds: 1, minSites: 1, maxSites: 0, epochs: 1, batchSize: 2, learningRate: 0.01, deadlineSeconds: 60, waitSeconds: 1, seed: 0, method: 'distill' };
      expect(() => plain.controller.start(request)).toThrow(/method distill needs a transfer set at the coordinator: restart it with `coordinator serve --transfer-set/);
      expect(plain.controller.isRunning).toBe(false);
    } finally {
      await plain.close();
    }
    expect(() => coordinator.controller.start({ rounds: 1, minSites: 1, maxSites: 0, epochs: 1, batchSize: 2, learningRate: 0.01, deadlineSeconds: 60, waitSeconds: 1, seed: 0, method: 'distill', dpNoiseMultiplier: 1, dpClipNorm: 1 }))
      .toThrow(/sends soft labels; differential privacy here clips and noises weight updates/);
  });
});
