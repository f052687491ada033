import { AdminClient } from '../../cli/admin-client.js';
import type { RoundEvent, RoundRecord, StartRoundsRequest } from '../../shared/wire/index.js';

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

/**
 * Starts rounds through the Admin API and follows them until the run finishes. Returns their
 * records and the events seen meanwhile (progress of each site, accepted updates), for timings.
 */
export async function runRounds(admin: AdminClient, request: Partial<StartRoundsRequest>): Promise<RoundRecord[] & { events?: RoundEvent[] }> {
  const started = await admin.startRounds({ ...ROUND_DEFAULTS, ...request });
  const events: RoundEvent[] = [];
  await admin.watch(started.firstRound, (event) => events.push(event));
  const records: RoundRecord[] & { events?: RoundEvent[] } = await admin.roundsBetween(started.firstRound, started.lastRound);
  records.events = events;
  return records;
}

/**
 * When, in seconds after a round started, its sites had all downloaded the model (their first
 * 'training' progress), and when the coordinator had accepted the last update.
 */
export function roundPhases(record: RoundRecord, events: readonly RoundEvent[]): { downloads_done_s: number | null; last_update_accepted_s: number | null; closed_s: number } {
  const mine = events.filter((e) => e.round === record.round);
  const firstTraining = new Map<string, number>();
  for (const e of mine) if (e.kind === 'progress' && e.progress?.phase === 'training' && !firstTraining.has(e.site)) firstTraining.set(e.site, e.unixMs);
  const accepted = mine.filter((e) => e.kind === 'update-accepted').map((e) => e.unixMs);
  const since = (t: number) => (t - record.startedUnixMs) / 1000;
  return {
    downloads_done_s: firstTraining.size ? since(Math.max(...firstTraining.values())) : null,
    last_update_accepted_s: accepted.length ? since(Math.max(...accepted)) : null,
    closed_s: since(record.closedUnixMs),
  };
}

export { AdminClient };

/**
 * For each agent progress phase, when (seconds after the round started) every site of the round
 * that reported it had first reported it (the slowest site's first report), and how many sites
 * reported it. The agent reports 'downloading' during the download, 'training' once it has the
 * model, 'masking' (secure aggregation) while it waits for the key shares, 'uploading', 'unmasking'
 * after its masked input was sent, 'done'.
 */
export function phaseReached(record: RoundRecord, events: readonly RoundEvent[]): Record<string, { all_sites_s: number; sites: number }> {
  const first = new Map<string, Map<string, number>>();
  for (const e of events) {
    if (e.round !== record.round || e.kind !== 'progress' || !e.progress) continue;
    const bySite = first.get(e.progress.phase) ?? new Map<string, number>();
    if (!bySite.has(e.site)) bySite.set(e.site, e.unixMs);
    first.set(e.progress.phase, bySite);
  }
  const out: Record<string, { all_sites_s: number; sites: number }> = {};
  for (const [phase, bySite] of first) out[phase] = { all_sites_s: (Math.max(...bySite.values()) - record.startedUnixMs) / 1000, sites: bySite.size };
  return out;
}
