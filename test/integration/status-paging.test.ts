import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { Coordinator } from '../../coordinator/index.js';
import { RECENT_ROUNDS } from '../../coordinator/store/round-journal.js';
import { adminKeyPath, RoundJournal } from '../../coordinator/store/index.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import type { RoundRecord } from '../../shared/wire/index.js';
import { tinyState } from '../helpers/state.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function record(round: number): RoundRecord {
  return { round, state: 'closed', baseVersion: 1, modelVersion: 1, selected: ['a'], reports: [], examples: round, startedUnixMs: round, closedUnixMs: round + 1, bytesDown: 0, bytesUp: 0, metrics: {}, message: `round ${round}` };
}

/**
 * A coordinator with a long history answers status with its recent rounds, and older ones on
 * request from the journal file, over real gRPC: the admin's view does not depend on how many
 * rounds the coordinator keeps in memory.
 */
describe('status paging over a long round history', () => {
  it('lists the recent rounds by default and pages older ones from the journal', async () => {
    const state = await tinyState(['a'], 100);
    const total = RECENT_ROUNDS + 150;
    const journal = await RoundJournal.open(state);
    for (let n = 1; n <= total; n++) await journal.append('closed', record(n));
    const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
    cleanup.push(() => coordinator.close());
    const address = await coordinator.listen('127.0.0.1:0');
    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    cleanup.push(() => admin.close());

    const recent = await admin.status();
    expect(recent.lastRound).toBe(total);
    expect(recent.rounds.map((r) => r.round)).toEqual(Array.from({ length: RECENT_ROUNDS }, (_, i) => total - RECENT_ROUNDS + 1 + i));

    const page = await admin.status({ fromRound: 3, limit: 4 });
    expect(page.rounds.map((r) => [r.round, r.message, r.examples])).toEqual([3, 4, 5, 6].map((n) => [n, `round ${n}`, n]));

    const everything = await admin.roundsBetween(1, total);
    expect(everything.map((r) => r.round)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('refuses a status call without the admin key', async () => {
    const state = await tinyState(['a'], 100);
    const coordinator = await Coordinator.open({ stateDir: state, log: () => undefined });
    cleanup.push(() => coordinator.close());
    const address = await coordinator.listen('127.0.0.1:0');
    const admin = new AdminClient(address, new Uint8Array(32));
    cleanup.push(() => admin.close());
    await expect(admin.status({ fromRound: 1 })).rejects.toThrow(/admin/i);
  });
});
