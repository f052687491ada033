import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { createUser } from '@nats-io/nkeys';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator, ModelStore } from '../../coordinator/index.js';
import { coordinatorKeyPath } from '../../coordinator/store/index.js';
import { AgentRefusedError, FixedStepTrainer, NodeAgent } from '../../node-agent/index.js';
import { encodeAgentMessage, encodeCoordinatorMessage, federationSubjects, sealEnvelope } from '../../shared/bus/index.js';
import type { NatsSettings } from '../../shared/config/index.js';
import { generateIdentity, loadSodium, parsePublicKey, readIdentityFile } from '../../shared/crypto/index.js';
import type { AgentMessage, CoordinatorMessage, RoundEvent, StartRoundsRequest } from '../../shared/wire/index.js';
import { startNatsServer, type NatsAuth, type NatsServer } from '../helpers/nats-server.js';
import { siteKeyPath, tinyModel, tinyState } from '../helpers/state.js';

/*
 * The control plane over a real nats-server with JetStream: real coordinator, real agents (in
 * this process), models and updates over real gRPC. Heartbeats are shortened so a lost session
 * is noticed within a test.
 */

const ELEMENTS = 500;
const HEARTBEAT_MS = 2000;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

interface Federation {
  state: string;
  coordinator: Coordinator;
  address: string;
  logs: string[];
  /** Starts an agent for `site` (a fixed step and example count); returns its log lines. */
  startAgent(site: string, step: number, examples: number, nats?: NatsSettings): string[];
  /** Runs rounds and resolves with the events once the run finished. */
  runRounds(request: Partial<StartRoundsRequest>): Promise<RoundEvent[]>;
}

async function natsFederation(sites: string[], server: NatsServer, nats: NatsSettings, dropGraceMs = 15_000): Promise<Federation> {
  await loadSodium();
  const state = await tinyState(sites, ELEMENTS);
  const logs: string[] = [];
  const t0 = Date.now();
  const coordinator = await Coordinator.open({ stateDir: state, log: (m) => logs.push(`${Date.now() - t0} [coordinator] ${m}`), nats, natsHeartbeatMs: HEARTBEAT_MS, dropGraceMs });
  cleanup.push(() => coordinator.close());
  const address = await coordinator.listen('127.0.0.1:0');
  const coordinatorKey = parsePublicKey(`${coordinatorKeyPath(state)}.pub`);
  const stop = new AbortController();
  const runs: Promise<void>[] = [];
  cleanup.push(async () => {
    stop.abort();
    await Promise.allSettled(runs);
  });
  return {
    state,
    coordinator,
    address,
    logs,
    startAgent(site, step, examples, agentNats = nats) {
      const agentLogs: string[] = [];
      runs.push(
        readIdentityFile(siteKeyPath(state, site)).then((identity) =>
          new NodeAgent({
            coordinator: address,
            site,
            trainer: new FixedStepTrainer(step, examples),
            identity,
            coordinatorKey,
            signal: stop.signal,
            log: (m) => {
              agentLogs.push(m);
              logs.push(`${Date.now() - t0} [agent ${site}] ${m}`);
            },
            nats: agentNats,
            natsHeartbeatMs: HEARTBEAT_MS,
          }).run(),
        ),
      );
      return agentLogs;
    },
    async runRounds(request) {
      const events: RoundEvent[] = [];
      const finished = new Promise<void>((resolve) => {
        const unsubscribe = coordinator.events.subscribe(coordinator.journal.lastRound + 1, (event) => {
          events.push(event);
          if (event.kind === 'run-finished') {
            queueMicrotask(() => unsubscribe());
            resolve();
          }
        });
      });
      coordinator.controller.start({ rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 60, waitSeconds: 30, seed: 1, ...request });
      await finished;
      return events;
    },
  };
}

async function until(what: string, check: () => boolean, logs: string[]): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > 30_000) throw new Error(`timed out waiting until ${what}; logs:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const connectedCount = (f: Federation) => f.coordinator.sessions.connected().length;

/** The exact FedAvg result the coordinator must store after `rounds` rounds (float32 as it computes). */
async function expectFedAvg(state: string, versions: number[], updates: { step: number; examples: number }[]): Promise<void> {
  const total = updates.reduce((sum, u) => sum + u.examples, 0);
  const weightedSum = updates.reduce((sum, u) => Math.fround(sum + Math.fround(u.examples * u.step)), 0);
  const store = await ModelStore.open(state);
  let expected = Float32Array.from(tinyModel(ELEMENTS).tensors.flatMap((t) => [...t.data]));
  for (const version of versions) {
    expected = expected.map((w) => Math.fround(w + weightedSum / total));
    const bytes = await readFile(store.weightsPath(version));
    const stored = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    expect(stored.length).toBe(expected.length);
    let mismatches = 0;
    for (let i = 0; i < stored.length; i++) if (stored[i] !== expected[i]) mismatches++;
    expect(mismatches, `model version ${version}`).toBe(0);
    await store.verify(version);
  }
}

async function secretFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'medley-nats-secret-')), 'secret');
  await writeFile(path, text + '\n', { mode: 0o600 });
  return path;
}

describe('the control plane over NATS (real nats-server with JetStream)', () => {
  it('two agents finish rounds over NATS + gRPC with the exact FedAvg result', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.stop());
    const f = await natsFederation(['north', 'south'], server, { url: server.url });
    f.startAgent('north', 1, 100);
    f.startAgent('south', 3, 300);
    await until('both sites are connected', () => connectedCount(f) === 2, f.logs);
    const events = await f.runRounds({ rounds: 2 });
    expect(events.filter((e) => e.kind === 'round-closed').map((e) => e.record?.reports.length)).toEqual([2, 2]);
    expect(f.coordinator.store.latest).toBe(3);
    await expectFedAvg(f.state, [2, 3], [{ step: 1, examples: 100 }, { step: 3, examples: 300 }]);
    // The sessions and the tasks went over NATS, not over a gRPC session stream.
    expect(f.logs.filter((l) => l.includes('connected over NATS'))).toHaveLength(2);
    expect(f.logs.filter((l) => /task for (north|south) stored in JetStream/.test(l))).toHaveLength(4);
  });

  it('an agent offline when the round began gets its task from JetStream when it comes back, and the round completes', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.stop());
    // A short drop grace: the round must wait for the absent site anyway (its task waits for it), until the deadline.
    const f = await natsFederation(['north', 'south'], server, { url: server.url }, 300);
    f.startAgent('north', 1, 100);
    await until('north is connected', () => connectedCount(f) === 1, f.logs);
    const done = f.runRounds({ rounds: 1, sites: ['north', 'south'], minSites: 2 });
    await until('north has sent its update', () => f.logs.some((l) => l.includes('[agent north]') && /accepted/i.test(l)), f.logs);
    // Well past the drop grace: the round is still open, waiting for south.
    await new Promise((r) => setTimeout(r, 1500));
    expect(f.coordinator.controller.openRound?.number).toBe(1);
    expect(f.coordinator.sessions.get('south')).toBeUndefined();
    const southLogs = f.startAgent('south', 3, 300);
    const events = await done;
    const closed = events.find((e) => e.kind === 'round-closed');
    expect(closed?.record?.reports.map((r) => r.site).sort()).toEqual(['north', 'south']);
    expect(southLogs.some((l) => l.startsWith('task for round 1'))).toBe(true);
    await expectFedAvg(f.state, [2], [{ step: 1, examples: 100 }, { step: 3, examples: 300 }]);
  });

  it('forged, unsigned and replayed messages on task and agent subjects are ignored and logged', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.stop());
    const f = await natsFederation(['north', 'south'], server, { url: server.url });
    const northLogs = f.startAgent('north', 1, 100);
    const southLogs = f.startAgent('south', 3, 300);
    await until('both sites are connected', () => connectedCount(f) === 2, f.logs);
    const subjects = federationSubjects('test');
    const raw = await connect({ servers: server.url });
    cleanup.push(() => raw.close());
    const captured: Uint8Array[] = [];
    raw.subscribe(subjects.agent('north'), {
      callback: (_err, msg) => {
        captured.push(new Uint8Array(msg.data));
      },
    });

    // A task for north signed by a key that is not the coordinator's, with a deadline far ahead.
    const mallory = await generateIdentity('mallory');
    const forgedTask = {
      task: {
        taskId: 'forged-1', federation: 'test', round: 99, modelVersion: 1, method: 'fedavg', epochs: 1, batchSize: 1, learningRate: 10, deadlineUnixMs: Date.now() + 3_600_000,
        seed: 1, sessionId: '', secureAggregation: null, privacy: null, parameters: ELEMENTS, strategy: 'fedavg', proximalMu: 0,
      },
    } as CoordinatorMessage;
    const envelope = { from: 'coordinator' as const, federation: 'test', site: 'north', session: '', channel: 'task', seq: 99, ref: 'forged-1', body: encodeCoordinatorMessage(forgedTask) };
    await jetstream(raw).publish(subjects.task('north'), sealEnvelope(mallory, envelope));
    // No signature at all on south's queue, and bytes that are no envelope.
    await jetstream(raw).publish(subjects.task('south'), new TextEncoder().encode(JSON.stringify({ v: 1, ...envelope, site: 'south', body: '' })));
    // A refusal "from north" on its live session, signed by the wrong key; garbage "from south".
    const refusal = encodeAgentMessage({ refusal: { taskId: 'x', round: 1, reason: 'forged' } } as AgentMessage);
    raw.publish(subjects.agent('north'), sealEnvelope(mallory, { from: 'site', federation: 'test', site: 'north', session: f.coordinator.sessions.get('north')!.sessionId, channel: 'agent', seq: 1e9, ref: '', body: refusal }));
    raw.publish(subjects.agent('south'), new TextEncoder().encode('not an envelope'));

    await until('every forgery was dropped', () =>
      northLogs.some((l) => l.startsWith('dropped a message on medley.test.task.north') && l.includes('does not verify')) &&
      southLogs.some((l) => l.startsWith('dropped a message on medley.test.task.south')) &&
      f.logs.some((l) => l.includes('dropped a NATS agent message on medley.test.agent.north') && l.includes('does not verify')) &&
      f.logs.some((l) => l.includes('dropped a NATS agent message on medley.test.agent.south') && l.includes('not a Medley envelope')), f.logs);

    // The federation is unharmed: the next round closes with both updates, and nobody ran round 99.
    captured.length = 0;
    const events = await f.runRounds({ rounds: 1 });
    expect(events.find((e) => e.kind === 'round-closed')?.record?.reports).toHaveLength(2);
    expect(northLogs.some((l) => l.includes('round 99'))).toBe(false);
    await expectFedAvg(f.state, [2], [{ step: 1, examples: 100 }, { step: 3, examples: 300 }]);

    // North's own genuine messages of that round, sent again, are replays.
    expect(captured.length).toBeGreaterThan(0);
    raw.publish(subjects.agent('north'), captured[0]!);
    await until('the replay was dropped', () => f.logs.some((l) => l.includes('dropped a NATS agent message on medley.test.agent.north') && l.includes('replayed')), f.logs);
  });

  for (const form of ['user and password file', 'NKEY seed file'] as const) {
    it(`connects with NATS credentials (${form}) and never logs the secret`, async () => {
      let auth: NatsAuth;
      let secret: string;
      let settings: (url: string) => Promise<NatsSettings>;
      if (form === 'user and password file') {
        secret = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('hex');
        auth = { user: 'medley', password: secret };
        const file = await secretFile(secret);
        settings = async (url) => ({ url, user: 'medley', passwordFile: file });
      } else {
        const user = createUser();
        secret = new TextDecoder().decode(user.getSeed());
        auth = { nkey: user.getPublicKey() };
        const file = await secretFile(secret);
        settings = async (url) => ({ url, nkeyFile: file });
      }
      const server = await startNatsServer({ auth });
      cleanup.push(() => server.stop());
      // The server does enforce it: a client without the credentials is turned away.
      await expect(connect({ servers: server.url, maxReconnectAttempts: 0 })).rejects.toThrow(/authori[sz]ation/i);
      const f = await natsFederation(['north', 'south'], server, await settings(server.url));
      f.startAgent('north', 1, 100);
      f.startAgent('south', 3, 300);
      await until('both sites are connected', () => connectedCount(f) === 2, f.logs);
      const events = await f.runRounds({ rounds: 1 });
      expect(events.find((e) => e.kind === 'round-closed')?.record?.reports).toHaveLength(2);
      expect(f.logs.some((l) => l.includes('connected to NATS'))).toBe(true);
      expect(f.logs.filter((l) => l.includes(secret))).toEqual([]);
    });
  }

  it('over NATS too, a site that is not enrolled is refused for good (the agent stops, the coordinator logs it)', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.stop());
    const f = await natsFederation(['north'], server, { url: server.url });
    const agent = (identity: Awaited<ReturnType<typeof generateIdentity>>, coordinatorKey: Uint8Array) =>
      new NodeAgent({ coordinator: f.address, site: identity.name, trainer: new FixedStepTrainer(1, 10), identity, coordinatorKey, log: () => undefined, nats: { url: server.url }, random: () => 0 }).run();
    const refusal = agent(await generateIdentity('intruder'), parsePublicKey(`${coordinatorKeyPath(f.state)}.pub`));
    await expect(refusal).rejects.toThrow(AgentRefusedError);
    await expect(refusal).rejects.toThrow(/not on this federation's site list/);
    expect(f.logs.filter((l) => l.includes('intruder'))).not.toEqual([]);
  });

  it('an agent whose coordinator restarts says hello again over NATS and takes part in the next round', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.stop());
    const f = await natsFederation(['north', 'south'], server, { url: server.url });
    const northLogs = f.startAgent('north', 1, 100);
    f.startAgent('south', 3, 300);
    await until('both sites are connected', () => connectedCount(f) === 2, f.logs);
    const firstSession = f.coordinator.sessions.get('north')!.sessionId;
    await f.coordinator.close();
    const logs: string[] = [];
    const again = await Coordinator.open({ stateDir: f.state, log: (m) => logs.push(m), nats: { url: server.url }, natsHeartbeatMs: HEARTBEAT_MS });
    cleanup.push(() => again.close());
    await again.listen(f.address);
    await until('both sites are back', () => again.sessions.connected().length === 2, [...f.logs, ...logs]);
    expect(again.sessions.get('north')!.sessionId).not.toBe(firstSession);
    // The coordinator registers the session before the agent has read its welcome: wait for the
    // agent's side of the second handshake rather than race it.
    const welcomes = () => northLogs.filter((l) => l.startsWith('connected to federation test')).length;
    await until('north read its second welcome', () => welcomes() >= 2, northLogs);
    expect(welcomes()).toBe(2);
    const events: RoundEvent[] = [];
    const finished = new Promise<void>((resolve) => again.events.subscribe(1, (e) => (events.push(e), e.kind === 'run-finished' && resolve())));
    again.controller.start({ rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 60, waitSeconds: 30, seed: 1 });
    await finished;
    expect(events.find((e) => e.kind === 'round-closed')?.record?.reports).toHaveLength(2);
    await expectFedAvg(f.state, [2], [{ step: 1, examples: 100 }, { step: 3, examples: 300 }]);
  });

  it('secure aggregation runs over NATS: keys, roster, shares and unmasking travel on the session subjects', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.stop());
    const f = await natsFederation(['a', 'b', 'c'], server, { url: server.url });
    const steps = [0.25, -0.5, 0.125];
    const examples = [10, 20, 30];
    ['a', 'b', 'c'].forEach((site, i) => f.startAgent(site, steps[i]!, examples[i]!));
    await until('three sites are connected', () => connectedCount(f) === 3, f.logs);
    const events = await f.runRounds({ rounds: 1, minSites: 3, secureAggregation: true, secaggThreshold: 2, secaggClip: 1 });
    const closed = events.find((e) => e.kind === 'round-closed');
    expect(closed?.record?.secureAggregation, f.logs.join('\n')).toBe(true);
    expect(closed?.record?.reports).toHaveLength(3);
    // The unmasked sum is the weighted mean up to the quantization step (clip 1 over 2^k levels).
    const mean = steps.reduce((sum, step, i) => sum + step * examples[i]!, 0) / 60;
    const store = await ModelStore.open(f.state);
    const before = new Float32Array((await readFile(store.weightsPath(1))).buffer.slice(0));
    const after = new Float32Array((await readFile(store.weightsPath(2))).buffer.slice(0));
    let worst = 0;
    for (let i = 0; i < after.length; i++) worst = Math.max(worst, Math.abs(after[i]! - before[i]! - mean));
    expect(worst).toBeLessThan(1e-3);
  });
});
