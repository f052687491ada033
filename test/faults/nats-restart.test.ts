import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { ModelStore } from '../../coordinator/index.js';
import { adminKeyPath } from '../../coordinator/store/index.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import type { RoundEvent } from '../../shared/wire/index.js';
import { anyExited, until } from '../helpers/cli-run.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { medley, serveCoordinator } from '../helpers/processes.js';
import { agentKeyArgs, tinyModel, tinyState } from '../helpers/state.js';
import { faultTeardown } from '../helpers/fault-teardown.js';
import { checkStore } from '../helpers/store-checks.js';

/*
 * The NATS server restarts (same port, same JetStream store) while a run is going: the coordinator
 * and the agents, separate `medley` processes with --nats, reconnect by themselves, no task is
 * lost (tasks of the round open during the outage still reach their sites), the run finishes its
 * rounds and every stored model version passes its checksum.
 */

const { procs, servers, admins } = faultTeardown();

const ELEMENTS = 5000;
const SITES = [
  { site: 'north', step: 1, examples: 100 },
  { site: 'south', step: 3, examples: 300 },
];

describe('the NATS server restarted in the middle of a run', () => {
  it('coordinator and agents reconnect, no task is lost, the run finishes and every model version verifies', async () => {
    const password = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString('hex');
    const nats = await startNatsServer({ auth: { user: 'medley', password } });
    servers.push(nats);
    const passwordFile = join(await mkdtemp(join(tmpdir(), 'medley-nats-pass-')), 'password');
    await writeFile(passwordFile, password + '\n', { mode: 0o600 });
    const natsArgs = ['--nats', nats.url, '--nats-user', 'medley', '--nats-password-file', passwordFile];

    const state = await tinyState(SITES.map((s) => s.site), ELEMENTS);
    const { proc: coordinator, address } = await serveCoordinator(state, natsArgs);
    procs.push(coordinator);
    const agents = SITES.map(({ site, step, examples }) => {
      const proc = medley(['agent', 'run', '--coordinator', address, '--name', site, ...agentKeyArgs(state, site), '--trainer', 'fixed-step', '--step', String(step), '--examples', String(examples), ...natsArgs]);
      procs.push(proc);
      return proc;
    });
    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    admins.push(admin);
    const alive = anyExited(coordinator, ...agents);
    await until('both sites connected', async () => ((await admin.status()).sites.filter((s) => s.connected).length === 2 ? true : undefined), 60_000, alive);

    const events: RoundEvent[] = [];
    let restarted: Promise<void> | null = null;
    const run = await admin.startRounds({ rounds: 4, minSites: 2, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 120, waitSeconds: 60, seed: 1 });
    await admin.watch(run.firstRound, (event) => {
      events.push(event);
      // Round 2 has just opened and is handing out its tasks: take NATS away now.
      if (event.kind === 'round-started' && event.round === run.firstRound + 1 && !restarted) restarted = nats.restart();
    });
    expect(restarted).not.toBeNull();
    await restarted;

    expect(events.filter((e) => e.kind === 'round-closed').map((e) => e.round)).toEqual([1, 2, 3, 4]);
    const status = await admin.status();
    expect(status.rounds.map((r) => [r.round, r.state, r.reports.length])).toEqual([
      [1, 'closed', 2],
      [2, 'closed', 2],
      [3, 'closed', 2],
      [4, 'closed', 2],
    ]);
    // Both sides saw the server go and come back.
    for (const proc of [coordinator, ...agents]) {
      expect(proc.output()).toMatch(/NATS connection lost/);
      expect(proc.output()).toMatch(/NATS connection restored/);
    }

    const report = await checkStore(state);
    expect(report.latest).toBe(5);
    expect(report.leftovers).toEqual([]);
    // Exactly the example-weighted mean, every round (float32, as the coordinator computes it).
    const total = SITES.reduce((sum, s) => sum + s.examples, 0);
    const weightedSum = SITES.reduce((sum, s) => Math.fround(sum + Math.fround(s.examples * s.step)), 0);
    const store = await ModelStore.open(state);
    let expected = Float32Array.from(tinyModel(ELEMENTS).tensors.flatMap((t) => [...t.data]));
    for (let version = 2; version <= 5; version++) {
      expected = expected.map((w) => Math.fround(w + weightedSum / total));
      const bytes = await readFile(store.weightsPath(version));
      const stored = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      expect(stored.every((w, i) => w === expected[i]), `model version ${version}`).toBe(true);
    }
    // The NATS password went to the server and nowhere else.
    for (const proc of [coordinator, ...agents]) expect(proc.output()).not.toContain(password);
  });
});
