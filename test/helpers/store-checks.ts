/**
 * What every fault test checks at its end: the coordinator's stored model versions are all there
 * and intact (each version's weights hash to its manifest's sha256), nothing half-written or
 * temporary is left in the state folder, and no run is left recorded as in progress.
 */
import { readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { ModelStore, RoundJournal } from '../../coordinator/store/index.js';

export interface StoreReport {
  latest: number;
  /** Every file or folder in the state folder (recursively) whose name marks it temporary. */
  leftovers: string[];
  /** Round states in the journal, in round order. */
  rounds: string[];
}

const TEMPORARY = /(^\.)|(\.tmp)|(\.part$)/;
const SCRATCH = new Set(['spool', 'strategy-spill']);

/** Verifies every version's checksum (throws naming a bad one) and lists leftovers. */
export async function checkStore(stateDir: string): Promise<StoreReport> {
  const leftovers: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      // Upload spool and strategy spill files belong to a round in progress: none may outlive it.
      if (TEMPORARY.test(entry.name) || SCRATCH.has(basename(dir))) leftovers.push(path);
      if (entry.isDirectory()) await walk(path);
    }
  }
  // Walked before ModelStore.open, which sweeps leftovers of interrupted writes away.
  await walk(stateDir);
  const store = await ModelStore.open(stateDir);
  for (let v = 1; v <= store.latest; v++) await store.verify(v);
  const rounds = (await RoundJournal.open(stateDir)).recent().map((r) => r.state);
  return { latest: store.latest, leftovers, rounds };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}
