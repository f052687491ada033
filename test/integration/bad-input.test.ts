import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator, ModelStore } from '../../coordinator/index.js';
import { generateIdentity, loadSodium } from '../../shared/crypto/index.js';
import { layoutTensors, type Task, type TensorSpec } from '../../shared/wire/index.js';
import { RawClient, type SealedMessages } from '../helpers/raw-client.js';
import { tinyModel, tinyState } from '../helpers/state.js';

const ELEMENTS = 1000;
let coordinator: Coordinator;
let client: RawClient;
let clientB: RawClient;
let address: string;
let state: string;
let task: Task;
let sessionA: string;
let sessionB: string;
let originalSha: string;
const { specs } = layoutTensors(tinyModel(ELEMENTS).tensors);

function binding(overrides: Record<string, unknown> = {}, tensors: TensorSpec[] = specs) {
  return {
    federation: 'test',
    round: task.round,
    taskId: task.taskId,
    site: 'site-a',
    sessionId: sessionA,
    baseVersion: task.modelVersion,
    numExamples: 50,
    tensors,
    kind: 'delta',
    ...overrides,
  };
}

function bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Odd chunk sizes on purpose, so values straddle chunks. */
function sealed(values: Float32Array, overrides: Record<string, unknown> = {}, by: RawClient = client): SealedMessages {
  return by.seal(binding(overrides), bytes(values), { metrics: { auroc: 0.5 }, trainLoss: 0.1, epochs: 1, seconds: 1 }, 1001);
}

function all(m: SealedMessages): unknown[] {
  return [m.header, ...m.chunks, m.trailer];
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

describe('the coordinator refuses bad and hostile input and keeps running with its model intact', () => {
  beforeAll(async () => {
    await loadSodium();
    state = await tinyState(['site-a', 'site-b'], ELEMENTS);
    coordinator = await Coordinator.open({ stateDir: state, log: () => undefined, maxUpdateNorm: 1e6 });
    address = await coordinator.listen('127.0.0.1:0');
    originalSha = (await coordinator.store.manifest(1)).sha256;
    client = await RawClient.forSite(address, state, 'site-a');
    clientB = await RawClient.forSite(address, state, 'site-b');
    const session = client.session('site-a');
    const second = clientB.session('site-b');
    sessionA = await session.welcomed;
    sessionB = await second.welcomed;
    coordinator.controller.start({ rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 60, waitSeconds: 10, seed: 0 });
    task = await session.nextTask();
  });

  afterAll(async () => {
    client.close();
    clientB.close();
    await coordinator.close();
  });

  it('refuses a stream that does not start with a header', async () => {
    const err = await refusal(client.upload([{ data: Buffer.alloc(16) }]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/must start with a header/);
    await unchanged();
  });

  it('refuses an update that is not sealed', async () => {
    const m = sealed(new Float32Array(ELEMENTS).fill(0.5));
    const err = await refusal(client.upload([{ header: { ...m.header.header, scheme: '' } }, ...m.chunks, m.trailer]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/not sealed with medley-sealed-v1/);
    await unchanged();
  });

  it('refuses a truncated upload (stream ends early, no trailer)', async () => {
    const m = sealed(new Float32Array(ELEMENTS).fill(0.5));
    const err = await refusal(client.upload([m.header, ...m.chunks.slice(0, 2)]));
    expect(err.code).toBe(grpc.status.DATA_LOSS);
    expect(err.details).toMatch(/ended after 2002 of 4000 bytes/);
    await unchanged();
  });

  it('refuses a stream whose last data chunk was cut but whose trailer still came', async () => {
    const m = sealed(new Float32Array(ELEMENTS).fill(0.5));
    const err = await refusal(client.upload([m.header, ...m.chunks.slice(0, 3), m.trailer]));
    expect(err.code).toBe(grpc.status.DATA_LOSS);
    await unchanged();
  });

  it('refuses reordered chunks', async () => {
    const m = sealed(new Float32Array(ELEMENTS).map((_, i) => i * 1e-3));
    const err = await refusal(client.upload([m.header, m.chunks[1], m.chunks[0], ...m.chunks.slice(2), m.trailer]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/chunk 0 fails authentication/);
    await unchanged();
  });

  it('refuses a flipped byte in a ciphertext', async () => {
    const m = sealed(new Float32Array(ELEMENTS).fill(0.5));
    const damaged = new Uint8Array(m.chunks[2]!.data);
    damaged[17] ^= 0x01;
    const err = await refusal(client.upload([m.header, m.chunks[0], m.chunks[1], { data: damaged }, m.chunks[3], m.trailer]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/chunk 2 fails authentication/);
    await unchanged();
  });

  it('refuses a chunk spliced in from another update of the same site', async () => {
    const a = sealed(new Float32Array(ELEMENTS).fill(0.5));
    const b = sealed(new Float32Array(ELEMENTS).fill(0.5));
    const err = await refusal(client.upload([a.header, a.chunks[0], b.chunks[1], ...a.chunks.slice(2), a.trailer]));
    expect(err.details).toMatch(/chunk 1 fails authentication/);
    await unchanged();
  });

  it('refuses a header altered after signing (another model version, more examples)', async () => {
    const m = sealed(new Float32Array(ELEMENTS).fill(0.5));
    for (const change of [{ baseVersion: 7 }, { numExamples: 5000 }]) {
      const err = await refusal(client.upload([{ header: { ...m.header.header, ...change } }, ...m.chunks, m.trailer]));
      expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(err.details).toMatch(/header signature that does not verify/);
    }
    await unchanged();
  });

  it('refuses a bad final signature', async () => {
    const m = sealed(new Float32Array(ELEMENTS).fill(0.5));
    const signature = new Uint8Array(m.trailer.trailer.signature);
    signature[3] ^= 0x40;
    const err = await refusal(client.upload([m.header, ...m.chunks, { trailer: { ...m.trailer.trailer, signature } }]));
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(err.details).toMatch(/final signature that does not verify/);
    await unchanged();
  });

  it('refuses an update signed with a key that is not the site\'s (impersonation)', async () => {
    const mallory = new RawClient(address, await generateIdentity('mallory'), client.coordinatorKey);
    try {
      const err = await refusal(mallory.upload(all(sealed(new Float32Array(ELEMENTS).fill(0.5), {}, mallory))));
      expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
      const handshake = await mallory.session('site-a').closed;
      expect(handshake?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(handshake?.details).toMatch(/failed the challenge/);
    } finally {
      mallory.close();
    }
    await unchanged();
  });

  it('refuses a handshake replayed from a recording (the proof is bound to fresh nonces)', async () => {
    const { signAsSite } = await import('../../shared/crypto/index.js');
    // A genuine handshake, recorded: its proof works once, for its own challenge.
    let recorded: Uint8Array | null = null;
    const genuine = client.session('site-a', (c, n) => {
      recorded = signAsSite(client.identity, { federation: c.federation, site: 'site-a', coordinatorPublicKey: client.coordinatorKey, clientNonce: n, serverNonce: new Uint8Array(c.serverNonce) });
      return recorded;
    });
    await genuine.welcomed;
    genuine.call.end();
    await genuine.closed;
    // Replayed on a new connection (new server nonce), the same proof is refused.
    const replay = client.session('site-a', () => recorded!);
    const err = await replay.closed;
    expect(err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(err?.details).toMatch(/failed the challenge/);
    // The real site-a gets its session back for the tests that follow.
    sessionA = await client.session('site-a').welcomed;
    await unchanged();
  });

  it('refuses an update sealed to another coordinator', async () => {
    const other = await generateIdentity('other-coordinator');
    const misdirected = new RawClient(address, client.identity, other.signPublicKey);
    try {
      const err = await refusal(misdirected.upload(all(sealed(new Float32Array(ELEMENTS).fill(0.5), {}, misdirected))));
      expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      misdirected.close();
    }
    await unchanged();
  });

  it('refuses an upload without a live authenticated session', async () => {
    const err = await refusal(client.upload(all(sealed(new Float32Array(ELEMENTS).fill(0.5), { sessionId: 'made-up' }))));
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(err.details).toMatch(/no authenticated session/);
    await unchanged();
  });

  it('refuses an upload the agent cancels half way', async () => {
    const m = sealed(new Float32Array(ELEMENTS).fill(0.5));
    const err = await refusal(client.upload([m.header, m.chunks[0]], { cancel: true }));
    expect(err.code).toBe(grpc.status.CANCELLED);
    await new Promise((r) => setTimeout(r, 200));
    await unchanged();
  });

  it('refuses an update with the wrong shapes', async () => {
    const wrong = specs.map((s, i) => (i === 1 ? { ...s, shape: [5, 2] } : s));
    const err = await refusal(client.upload([client.seal(binding({}, wrong), new Uint8Array(ELEMENTS * 4)).header]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/tensor dense\/bias has shape \[5,2\], expected \[10\]/);
    await unchanged();
  });

  it('refuses an update carrying a NaN, naming the tensor and element', async () => {
    const values = new Float32Array(ELEMENTS).fill(0.25);
    values[995] = Number.NaN;
    const err = await refusal(client.upload(all(sealed(values))));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/tensor dense\/bias element 5 is NaN/);
    await unchanged();
  });

  it('refuses more bytes than announced', async () => {
    const m = sealed(new Float32Array(ELEMENTS).fill(0.25));
    const extra = client.seal(binding(), new Uint8Array((ELEMENTS + 4) * 4), undefined, 1001);
    const err = await refusal(client.upload([m.header, ...m.chunks, extra.chunks[4]!, m.trailer]));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/more than the 4000 bytes/);
    await unchanged();
  });

  it('refuses an update replayed from an earlier round, for a round that is not open, or for another task', async () => {
    const earlier = await refusal(client.upload(all(sealed(new Float32Array(ELEMENTS).fill(0.5), { round: task.round - 1 }))));
    expect(earlier.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(earlier.details).toMatch(/which is closed; late updates are refused/);
    const late = await refusal(client.upload(all(sealed(new Float32Array(ELEMENTS).fill(0.5), { round: task.round + 5 }))));
    expect(late.code).toBe(grpc.status.FAILED_PRECONDITION);
    const wrongTask = await refusal(client.upload(all(sealed(new Float32Array(ELEMENTS).fill(0.5), { taskId: 'forged' }))));
    expect(wrongTask.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(wrongTask.details).toMatch(/answers task forged/);
    await unchanged();
  });

  it('refuses an update for the wrong model version', async () => {
    const err = await refusal(client.upload(all(sealed(new Float32Array(ELEMENTS).fill(0.5), { baseVersion: task.modelVersion + 1 }))));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/trained from model version 2; round 1 is based on version 1/);
    await unchanged();
  });

  it('turns away a site it was not told to expect, on the session and on upload', async () => {
    const stranger = client.session('mallory');
    const err = await stranger.closed;
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err?.details).toMatch(/site "mallory" is not on this federation's site list/);
    const upload = await refusal(client.upload(all(sealed(new Float32Array(ELEMENTS).fill(0.5), { site: 'mallory' }))));
    expect(upload.code).toBe(grpc.status.PERMISSION_DENIED);
    await unchanged();
  });

  it('still accepts good updates afterwards, refuses a replay of one, and closes the round with their exact mean', async () => {
    const a = new Float32Array(ELEMENTS).fill(0.5);
    const first = sealed(a);
    const receipt = await client.upload(all(first));
    expect(receipt.accepted).toBe(true);
    const replayed = await refusal(client.upload(all(first)));
    expect(replayed.details).toMatch(/already has the update from site-a/);
    const b = new Float32Array(ELEMENTS).fill(2);
    // site-b's task id is only known to site-b's session; read it from the open round.
    const taskB = coordinator.controller.openRound!.taskIds.get('site-b')!;
    await clientB.upload(all(sealed(b, { site: 'site-b', taskId: taskB, numExamples: 150, sessionId: sessionB }, clientB)));
    for (;;) {
      if (coordinator.store.latest === 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const store = await ModelStore.open(state);
    const before = tinyModel(ELEMENTS).tensors.flatMap((t) => [...t.data]);
    const { readFile } = await import('node:fs/promises');
    const weights = await readFile(store.weightsPath(2));
    const after = new Float32Array(weights.buffer, weights.byteOffset, weights.byteLength / 4);
    const mean = (50 * 0.5 + 150 * 2) / 200;
    expect([...after]).toEqual(before.map((w) => Math.fround(w + mean)));
  });
});
