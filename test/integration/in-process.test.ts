import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator, ModelStore } from '../../coordinator/index.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { AdminClient } from '../../cli/admin-client.js';
import { AgentRefusedError, CoordinatorClient, FixedStepTrainer, NodeAgent } from '../../node-agent/index.js';
import {
  SEALING_SCHEME,
  UpdateSealer,
  generateIdentity,
  loadSodium,
  newNonce,
  parsePublicKey,
  readAdminKeyFile,
  readIdentityFile,
  signAsSite,
  type Identity,
} from '../../shared/crypto/index.js';
import { CHANNEL_OPTIONS, TENSOR_FORMAT_VERSION, layoutTensors, medleyPackage, type CoordinatorMessage, type RoundEvent, type Task, type UploadReceipt } from '../../shared/wire/index.js';
import { siteKeyPath, tinyModel, tinyState } from '../helpers/state.js';

/*
 * A coordinator and its sites in one process, joined by in-process clients instead of sockets.
 * Where a behaviour can be compared, the same exchange also runs over real gRPC (the coordinator
 * listens as well) and both must give the same status code and details.
 */

const ELEMENTS = 1000;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function openCoordinator(sites: string[], elements = ELEMENTS) {
  await loadSodium();
  const state = await tinyState(sites, elements);
  const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined, maxUpdateNorm: 1e9 });
  cleanup.push(() => coordinator.close());
  const coordinatorKey = parsePublicKey(`${coordinatorKeyPath(state)}.pub`);
  return { state, coordinator, coordinatorKey };
}

type AnyClient = { close(): void } & Record<string, unknown>;

/** A grpc-js Federation client dialling `address`, to compare with the in-process one. */
function networkClient(address: string): AnyClient {
  const Federation = medleyPackage().Federation;
  const client = new Federation(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as AnyClient;
  cleanup.push(async () => client.close());
  return client;
}

interface Session {
  call: grpc.ClientDuplexStream<unknown, CoordinatorMessage>;
  welcomed: Promise<string>;
  nextTask: () => Promise<Task>;
  closed: Promise<grpc.ServiceError | null>;
}

/** Opens a control session on any Federation client and answers the challenge with `identity`. */
function session(client: AnyClient, site: string, identity: Identity, coordinatorKey: Uint8Array, sayHelloTwice = false): Session {
  const call = (client.session as () => grpc.ClientDuplexStream<unknown, CoordinatorMessage>).call(client);
  const clientNonce = newNonce();
  const tasks: Task[] = [];
  const waiting: ((t: Task) => void)[] = [];
  let welcome!: (id: string) => void;
  let refuse!: (err: Error) => void;
  const welcomed = new Promise<string>((resolve, reject) => ((welcome = resolve), (refuse = reject)));
  welcomed.catch(() => undefined);
  call.on('data', (m: CoordinatorMessage) => {
    if (m.body === 'challenge' && 'challenge' in m) {
      const c = m.challenge;
      const proof = signAsSite(identity, { federation: c.federation, site, coordinatorPublicKey: coordinatorKey, clientNonce, serverNonce: new Uint8Array(c.serverNonce) });
      call.write({ proof: { signature: proof } });
    } else if (m.body === 'welcome' && 'welcome' in m) welcome(m.welcome.sessionId);
    else if (m.body === 'task' && 'task' in m) (waiting.shift() ?? ((t: Task) => tasks.push(t)))(m.task);
  });
  const closed = new Promise<grpc.ServiceError | null>((resolve) => {
    call.on('error', (err: grpc.ServiceError) => (refuse(err), resolve(err)));
    call.on('end', () => (refuse(new Error('session ended before the welcome')), resolve(null)));
  });
  const hello = { hello: { site, protocolVersion: 1, agentVersion: 'test', backend: 'none', trainExamples: 10, valExamples: 0, clientNonce } };
  call.write(hello);
  if (sayHelloTwice) call.write(hello);
  cleanup.push(async () => call.cancel());
  return { call, welcomed, closed, nextTask: () => new Promise<Task>((resolve) => (tasks.length ? resolve(tasks.shift()!) : waiting.push(resolve))) };
}

function startOneRound(admin: AdminClient) {
  return admin.startRounds({ rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 60, waitSeconds: 30, seed: 1 });
}

async function weightsOf(state: string, version: number): Promise<Float32Array> {
  const store = await ModelStore.open(state);
  await store.verify(version);
  const bytes = await readFile(store.weightsPath(version));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

function initialWeights(elements = ELEMENTS): Float32Array {
  return Float32Array.from(tinyModel(elements).tensors.flatMap((t) => [...t.data]));
}

describe('a coordinator and its sites in one process, through in-process clients', () => {
  it('completes a round started through an in-process AdminClient; the new model is the base plus the weighted step, exactly', async () => {
    const sites = ['north', 'south'];
    const steps = [0.5, 2];
    const examples = [100, 300];
    const { state, coordinator, coordinatorKey } = await openCoordinator(sites);
    const stop = new AbortController();
    const agents = await Promise.all(
      sites.map(
        async (site, i) =>
          new NodeAgent({
            coordinator: 'in-process',
            channel: coordinator.inProcessClients().federation,
            site,
            trainer: new FixedStepTrainer(steps[i]!, examples[i]!),
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
    await admin.waitUntilReady(1000);
    while ((await admin.status()).sites.filter((s) => s.connected).length < 2) await new Promise((r) => setTimeout(r, 20));

    const started = await startOneRound(admin);
    const events: RoundEvent[] = [];
    await admin.watch(started.firstRound, (e) => events.push(e));
    expect(events.filter((e) => e.kind === 'update-accepted')).toHaveLength(2);
    expect(events.at(-1)?.kind).toBe('run-finished');
    const status = await admin.status();
    expect(status.modelVersion).toBe(2);
    expect(status.rounds.map((r) => [r.round, r.state, r.reports.length, r.examples])).toEqual([[1, 'closed', 2, 400]]);

    // (100 * 0.5 + 300 * 2) / 400 = 1.625, exact in float32: the stored model is base + 1.625 rounded once.
    const expected = initialWeights().map((w) => Math.fround(w + 1.625));
    const stored = await weightsOf(state, 2);
    expect(stored.length).toBe(expected.length);
    let mismatches = 0;
    for (let i = 0; i < stored.length; i++) if (stored[i] !== expected[i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('refuses a site with the wrong key or not on the list with the same status as over gRPC, and the agent stops', async () => {
    const { coordinator, coordinatorKey } = await openCoordinator(['north', 'south']);
    const address = await coordinator.listen('127.0.0.1:0');
    const impostor = await generateIdentity('north');
    const outcomes = [];
    for (const client of [networkClient(address), coordinator.inProcessClients().federation as unknown as AnyClient]) {
      const wrongKey = await session(client, 'north', impostor, coordinatorKey).closed;
      const stranger = await session(client, 'mallory', impostor, coordinatorKey).closed;
      outcomes.push([wrongKey?.code, wrongKey?.details, stranger?.code, stranger?.details]);
    }
    expect(outcomes[0]![0]).toBe(grpc.status.UNAUTHENTICATED);
    expect(outcomes[0]![1]).toMatch(/site north failed the challenge/);
    expect(outcomes[0]![2]).toBe(grpc.status.PERMISSION_DENIED);
    expect(outcomes[1]).toEqual(outcomes[0]);

    const agent = new NodeAgent({
      coordinator: 'in-process',
      channel: coordinator.inProcessClients().federation,
      site: 'north',
      trainer: new FixedStepTrainer(1, 10),
      identity: impostor,
      coordinatorKey,
      log: () => undefined,
    });
    await expect(agent.run()).rejects.toThrow(AgentRefusedError);
    expect(coordinator.sessions.connected()).toHaveLength(0);
  });

  it('fails a session that says hello twice with the coordinator\'s message, as over gRPC', async () => {
    const { state, coordinator, coordinatorKey } = await openCoordinator(['north', 'south']);
    const address = await coordinator.listen('127.0.0.1:0');
    const identity = await readIdentityFile(siteKeyPath(state, 'north'));
    const seen = [];
    for (const client of [networkClient(address), coordinator.inProcessClients().federation as unknown as AnyClient]) {
      const err = await session(client, 'north', identity, coordinatorKey, true).closed;
      seen.push([err?.code, err?.details]);
    }
    expect(seen[1]).toEqual([grpc.status.INVALID_ARGUMENT, 'a session says hello only once']);
    expect(seen[0]).toEqual(seen[1]);
  });

  it('discards an upload cancelled half way, keeps its model, and still takes the site\'s full update afterwards', async () => {
    const elements = 3 * 1024 * 1024 / 4 + 10; // a little over 3 MiB: several 1 MiB chunks
    const { state, coordinator, coordinatorKey } = await openCoordinator(['north', 'south'], elements);
    const identities = { north: await readIdentityFile(siteKeyPath(state, 'north')), south: await readIdentityFile(siteKeyPath(state, 'south')) };
    const federation = coordinator.inProcessClients().federation as unknown as AnyClient;
    const north = session(federation, 'north', identities.north, coordinatorKey);
    const south = session(federation, 'south', identities.south, coordinatorKey);
    const sessionIds = { north: await north.welcomed, south: await south.welcomed };
    const admin = new AdminClient(coordinator.inProcessClients().admin, readAdminKeyFile(adminKeyPath(state)));
    cleanup.push(async () => admin.close());
    await startOneRound(admin);
    const tasks = { north: await north.nextTask(), south: await south.nextTask() };
    const { specs } = layoutTensors(tinyModel(elements).tensors);
    const binding = (site: 'north' | 'south', numExamples: number) => ({
      federation: 'test',
      round: tasks[site].round,
      taskId: tasks[site].taskId,
      site,
      sessionId: sessionIds[site],
      baseVersion: tasks[site].modelVersion,
      numExamples,
      tensors: specs,
      kind: 'delta',
    });
    const step = (value: number) => {
      const delta = new Float32Array(elements).fill(value);
      return new Uint8Array(delta.buffer);
    };

    const rejected: string[] = [];
    coordinator.events.subscribe(0, (e) => e.kind === 'update-rejected' && rejected.push(e.message));
    // Header and the first of several sealed chunks, then the agent gives up.
    const full = { ...binding('north', 100), totalBytes: elements * 4, formatVersion: TENSOR_FORMAT_VERSION };
    const sealer = new UpdateSealer(identities.north, coordinatorKey, full);
    const cancelled = new Promise<grpc.ServiceError>((resolve) => {
      const call = (federation.uploadUpdate as (cb: (err: grpc.ServiceError) => void) => grpc.ClientWritableStream<unknown>).call(federation, resolve);
      call.write({ header: { ...full, scheme: SEALING_SCHEME, sealedKey: sealer.sealedKey, headerSignature: sealer.headerSignature } });
      call.write({ data: sealer.seal(step(4).subarray(0, 1024 * 1024)) });
      setTimeout(() => call.cancel(), 100);
    });
    expect((await cancelled).code).toBe(grpc.status.CANCELLED);
    await new Promise((r) => setTimeout(r, 100));
    // The coordinator had the upload under way and threw it away.
    expect(rejected).toEqual(['the agent cancelled the upload; it was discarded']);
    expect(coordinator.controller.openRound?.record.reports).toHaveLength(0);
    expect(coordinator.store.latest).toBe(1);

    // The same site sends its real update through the agent's own client; the round closes on both.
    const report = { metrics: {}, trainLoss: 0, epochs: 1, seconds: 0 };
    const uploads: Promise<{ receipt: UploadReceipt }>[] = [];
    for (const [site, value, n] of [['north', 1, 100], ['south', 3, 300]] as const) {
      const client = new CoordinatorClient(coordinator.inProcessClients().federation, { site: identities[site], coordinator: coordinatorKey });
      cleanup.push(async () => client.close());
      uploads.push(client.uploadUpdate(binding(site, n), step(value), report, () => undefined));
    }
    for (const sent of await Promise.all(uploads)) expect(sent.receipt.accepted).toBe(true);
    while (coordinator.store.latest < 2) await new Promise((r) => setTimeout(r, 20));
    // (100 * 1 + 300 * 3) / 400 = 2.5: nothing of the cancelled 4.0 upload is in it.
    const expected = initialWeights(elements).map((w) => Math.fround(w + 2.5));
    const stored = await weightsOf(state, 2);
    let mismatches = 0;
    for (let i = 0; i < stored.length; i++) if (stored[i] !== expected[i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('says which client it was given when an Admin client is passed where a Federation one belongs, and the reverse', async () => {
    const { state, coordinator, coordinatorKey } = await openCoordinator(['north', 'south']);
    const { federation, admin } = coordinator.inProcessClients();
    const identity = await readIdentityFile(siteKeyPath(state, 'north'));
    expect(() => new CoordinatorClient(admin, { site: identity, coordinator: coordinatorKey })).toThrow(/in-process:test\/Admin is not a Federation client \(it has no session\)/);
    expect(() => new AdminClient(federation, readAdminKeyFile(adminKeyPath(state)))).toThrow(/in-process:test\/Federation is not an Admin client/);
  });

  it('refuses calls after the coordinator closes with UNAVAILABLE, which an agent retries as a lost connection', async () => {
    const { state, coordinator, coordinatorKey } = await openCoordinator(['north', 'south']);
    const admin = new AdminClient(coordinator.inProcessClients().admin, readAdminKeyFile(adminKeyPath(state)));
    cleanup.push(async () => admin.close());
    const federation = coordinator.inProcessClients().federation;
    expect((await admin.status()).modelVersion).toBe(1);
    await coordinator.close();
    await expect(admin.status()).rejects.toThrow(/has shut down/);
    const logs: string[] = [];
    const agent = new NodeAgent({
      coordinator: 'in-process',
      channel: federation,
      site: 'north',
      trainer: new FixedStepTrainer(1, 10),
      identity: await readIdentityFile(siteKeyPath(state, 'north')),
      coordinatorKey,
      log: (m) => logs.push(m),
      random: () => 0,
      maxAttempts: 1,
    });
    // Not a refusal (AgentRefusedError): the agent backs off and tries again, as after a dropped link.
    await expect(agent.run()).rejects.toThrow(/gave up after 1 failed attempts to reach in-process/);
    expect(logs.filter((l) => /connection to in-process failed \(the in-process server has shut down/.test(l))).toHaveLength(2);
  });
});
