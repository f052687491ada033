import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { createUser } from '@nats-io/nkeys';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator, ModelStore } from '../../coordinator/index.js';
import { coordinatorKeyPath } from '../../coordinator/store/index.js';
import { FixedStepTrainer, NodeAgent } from '../../node-agent/index.js';
import { encodeCoordinatorMessage, federationSubjects, sealEnvelope } from '../../shared/bus/index.js';
import type { NatsSettings } from '../../shared/config/index.js';
import { generateIdentity, loadSodium, parsePublicKey, readIdentityFile } from '../../shared/crypto/index.js';
import type { RoundEvent, StartRoundsRequest } from '../../shared/wire/index.js';
import { startNatsServer, type NatsAuth, type NatsServer } from '../helpers/nats-server.js';
import { siteKeyPath, tinyModel, tinyState } from '../helpers/state.js';

/*
 * The control plane over a real nats-server with JetStream: real coordinator, real agents (in
 * this process), models and updates over real gRPC. Heartbeats are shortened so a lost session
 * is noticed within a test.
 */

const ELEMENTS = 500;
const HEARTBEAT_MS = 1000;
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
});
