/*
 * A worker thread of `medley simulate --transport grpc`: hosts its share of the virtual sites,
 * each a NodeAgent with its own identity and its own session over loopback gRPC, and trains one
 * of them at a time.
 */
import { createWriteStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { readIdentityFile } from '../../shared/crypto/index.js';
import { openSiteShards } from '../../shared/data/index.js';
import { hostSites, type HostedSite } from './site-host.js';
import type { SiteWorkerCommand, SiteWorkerInput, SiteWorkerMessage } from './site-worker-protocol.js';
import { SlotPool } from './slots.js';

// W workers should keep W cores busy, not W x the trainer's own gradient threads.
process.env.MEDLEY_TRAIN_THREADS = '1';

const input = workerData as SiteWorkerInput;
const port = parentPort!;
const post = (message: SiteWorkerMessage) => port.postMessage(message);
const logFile = createWriteStream(input.logPath, { flags: 'a' });
const log = (line: string) => logFile.write(`${new Date().toISOString()} ${line}\n`);
const controller = new AbortController();
port.on('message', (command: SiteWorkerCommand) => {
  if (command.type === 'stop') controller.abort(new Error('simulation finished'));
});

async function main(): Promise<void> {
  log(`worker ${input.id}: ${input.sites.length} sites (${input.sites[0]?.name} ...), trainer ${input.trainer}`);
  const shards = openSiteShards(input.data, input.totalSites);
  let backend = null;
  if (input.trainer === 'tfjs') {
    const { selectBackend } = await import('../../shared/model/index.js');
    backend = await selectBackend({ log });
  }
  const sites: HostedSite[] = [];
  for (const s of input.sites) sites.push({ name: s.name, index: s.index, attack: s.attack, identity: await readIdentityFile(s.keyPath) });
  const slots = new SlotPool(1);
  post({ type: 'ready', backend: backend?.name ?? 'none (fixed step)' });
  await hostSites({
    sites,
    connect: () => ({ coordinator: input.address }),
    coordinatorKey: input.coordinatorKey,
    shards,
    trainer: input.trainer,
    backend,
    attackFactor: input.attackFactor,
    seed: input.seed,
    slots,
    log,
    signal: controller.signal,
  });
  log(`worker ${input.id}: stopped; at most ${slots.peak} site(s) trained at once`);
  post({ type: 'stopped', peakTraining: slots.peak });
}

main().catch((err: unknown) => {
  log(`worker ${input.id} failed: ${(err as Error).stack ?? String(err)}`);
  post({ type: 'fatal', message: (err as Error).message });
}).finally(() => {
  logFile.end();
  port.close();
});
