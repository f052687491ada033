import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { adminKeyPath } from '../../coordinator/store/index.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import type { RoundEvent } from '../../shared/wire/index.js';
import { anyExited, until } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { agentKeyArgs, tinyState } from '../helpers/state.js';
import { startStallProxy } from '../helpers/stall-proxy.js';
import { faultTeardown } from '../helpers/fault-teardown.js';
import { checkStore, freePort } from '../helpers/store-checks.js';

const { procs, proxies, admins } = faultTeardown();

function agent(coordinator: string, state: string, site: string): Proc {
  const proc = medley(['agent', 'run', '--coordinator', coordinator, '--name', site, ...agentKeyArgs(state, site), '--trainer', 'fixed-step', '--step', '0.25', '--examples', '10']);
  procs.push(proc);
  return proc;
}

/** The journal as the killed process left it on disk: the last line of each round. */
function journalOnDisk(state: string): Map<number, { state: string; message: string }> {
  const rounds = new Map<number, { state: string; message: string }>();
  for (const line of readFileSync(join(state, 'journal.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line) as { record: { round: number; state: string; message: string } };
    rounds.set(entry.record.round, entry.record);
  }
  return rounds;
}

describe('the coordinator killed in the middle of a round', () => {
  it('restarts on the same state and port, closes the open round as aborted, re-runs it and finishes every round of the run; no model version is lost or half-written', async () => {
    const state = await tinyState(['a', 'b', 'c'], 20_000);
    const address = `127.0.0.1:${await freePort()}`;
    const serveFlags = ['--drop-grace', '120'];
    const first = await serveCoordinator(state, serveFlags, address);
    procs.push(first.proc);
    // Site c reaches the coordinator through a link the test can stall: with c silent, round 1
    // stays open after a and b have sent their updates, which is when the coordinator is killed.
    const link = await startStallProxy(address);
    proxies.push(link);
    const agents = [agent(address, state, 'a'), agent(address, state, 'b'), agent(link.address, state, 'c')];
    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    admins.push(admin);
    await until('three sites connected', async () => ((await admin.status()).sites.every((s) => s.connected) ? true : undefined), 90_000, anyExited(first.proc, ...agents));

    link.stall();
    const events: RoundEvent[] = [];
    const watching = admin.watch(1, (e) => events.push(e)).catch(() => undefined);
    const run = await admin.startRounds({
      rounds: 2, minSites: 3, maxSites: 0, epochs: 1, batchSize: 1, learningRate: 0.1, deadlineSeconds: 120, waitSeconds: 60, seed: 7,
      strategy: 'fedavgm', strategyParams: { eta: 0.5, momentum: 0.5 },
    });
    expect(run).toEqual({ firstRound: 1, lastRound: 2 });
    const accepted = () => events.filter((e) => e.kind === 'update-accepted' && e.round === 1).length;
    await until('the updates of a and b accepted in round 1', () => (accepted() >= 2 ? true : undefined), 60_000, anyExited(first.proc));
    const status = await admin.status();
    expect(status.rounds.map((r) => [r.round, r.state])).toEqual([[1, 'open']]);
    expect(status.rounds[0]!.reports.map((r) => r.site).sort()).toEqual(['a', 'b']);

    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    await watching;
    // What the killed process left: round 1 open in the journal, the run recorded with both rounds to go.
    expect(journalOnDisk(state).get(1)?.state).toBe('open');
    const recorded = JSON.parse(readFileSync(join(state, 'run.json'), 'utf8')) as { roundsLeft: number; request: { strategy: string } };
    expect(recorded).toMatchObject({ roundsLeft: 2, request: { strategy: 'fedavgm' } });

    // The link to c comes back (its old connections reset), and the coordinator is started again.
    link.cutAll();
    link.resume();
    const second = await serveCoordinator(state, serveFlags, address);
    procs.push(second.proc);
    const admin2 = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    admins.push(admin2);
    const after: RoundEvent[] = [];
    await admin2.watch(2, (e) => after.push(e));
    expect(after.at(-1)?.kind).toBe('run-finished');

    const final = await admin2.status();
    expect(final.running).toBe(false);
    expect(final.rounds.map((r) => [r.round, r.state])).toEqual([[1, 'aborted'], [2, 'closed'], [3, 'closed']]);
    expect(final.rounds[0]!.message).toMatch(/stopped while round 1 was open.*model stays at version 1.*runs it again as round 2/);
    for (const round of final.rounds.slice(1)) {
      expect(round.reports.map((r) => r.site).sort()).toEqual(['a', 'b', 'c']);
      expect(round.strategy).toBe('fedavgm');
    }
    expect(final.modelVersion).toBe(3);
    expect(second.proc.output()).toMatch(/resuming the interrupted run: 2 of its 2 round\(s\) left, from round 2; strategy fedavgm \(eta=0.5, momentum=0.5\).*its server-side state starts afresh: no round of this run had closed/);

    await stop(second.proc, ...agents);
    const store = await checkStore(state);
    expect(store).toEqual({ latest: 3, leftovers: [], rounds: ['aborted', 'closed', 'closed'] });
    expect(existsSync(join(state, 'run.json'))).toBe(false);
  }, 240_000);
});
