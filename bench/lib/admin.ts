import { AdminClient } from '../../cli/admin-client.js';
import type { RoundRecord, StartRoundsRequest } from '../../shared/wire/index.js';

export const ROUND_DEFAULTS: StartRoundsRequest = {
  rounds: 1,
  minSites: 1,
  maxSites: 0,
  epochs: 1,
  batchSize: 32,
  learningRate: 0.001,
  deadlineSeconds: 900,
  waitSeconds: 120,
  seed: 1,
};

/** Waits until `count` sites hold a live session on the coordinator. */
export async function waitForSites(admin: AdminClient, count: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const status = await admin.status();
    const connected = status.sites.filter((s) => s.connected).length;
    if (connected >= count) return;
    if (Date.now() > until) throw new Error(`only ${connected} of ${count} sites connected within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts rounds through the Admin API, follows them until the run finishes, returns their records. */
export async function runRounds(admin: AdminClient, request: Partial<StartRoundsRequest>): Promise<RoundRecord[]> {
  const started = await admin.startRounds({ ...ROUND_DEFAULTS, ...request });
  await admin.watch(started.firstRound, () => undefined);
  const status = await admin.status();
  return status.rounds.filter((r) => r.round >= started.firstRound && r.round <= started.lastRound);
}

export { AdminClient };
