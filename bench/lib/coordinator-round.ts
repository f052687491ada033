import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RoundRecord } from '../../shared/wire/index.js';
import { AdminClient, runRounds, waitForSites } from './admin.js';
import { benchScript } from './assets.js';
import { Cleanup } from './cleanup.js';
import { RssSampler, peakRssMiB, startCoordinator, startNode, type Child } from './procs.js';
import { benchState, siteNames } from './state.js';

export interface CoordinatorRoundOptions {
  sites: number;
  parameters: number;
  /** Sites one sender process plays (each site keeps its own key, session and sealed upload). */
  sitesPerSender: number;
  strategy?: string;
  strategyParams?: Record<string, number>;
  /** `coordinator serve --strategy-memory`, MiB (robust strategies' in-memory budget). */
  strategyMemoryMiB?: number;
  log: (line: string) => void;
  label: string;
}

export interface CoordinatorRoundResult {
  peakMiB: number;
  peakBeforeRoundMiB: number | null;
  record: RoundRecord;
  timeline: [number, number][];
  uploadFailures: number;
  /** Upload attempts the coordinator turned away (too many waiting) that the senders made again. */
  uploadsTurnedAway: number;
  senderProcesses: number;
}

/**
 * Peak RSS of the real coordinator process (`medley coordinator serve`) through one round in which
 * every site uploads an update of the whole model at about the same moment. The sites are played
 * by a few sender processes (bench/sender.ts), each driving many sessions, each site with its own
 * key, passing the handshake and sealing its update as an agent does.
 */
export async function measureCoordinatorRound(options: CoordinatorRoundOptions): Promise<CoordinatorRoundResult> {
  const { sites, parameters, log, label } = options;
  const cleanup = new Cleanup();
  try {
    const names = siteNames(sites);
    const state = await benchState({ parameters, sites: names, cleanup });
    const { dir, manifest } = state;
    const specsFile = join(dirname(dir), 'tensors.json');
    await writeFile(specsFile, JSON.stringify(manifest.tensors));
    const extra = options.strategyMemoryMiB ? ['--strategy-memory', String(options.strategyMemoryMiB)] : [];
    const { proc: coordinator, address } = await startCoordinator(dir, cleanup, extra);
    log(`${label}: coordinator pid ${coordinator.pid} on ${address}; idle peak RSS ${peakRssMiB(coordinator.pid)?.toFixed(0)} MiB`);

    const senders: Child[] = [];
    const events: Record<string, unknown>[] = [];
    for (let i = 0; i < sites; i += options.sitesPerSender) {
      const config = { address, sites: names.slice(i, i + options.sitesPerSender), stateDir: dir, coordinatorKey: state.coordinatorKeyFile, specsFile, examples: 100 + i, step: 0.001 };
      senders.push(
        startNode(benchScript('sender.js'), [JSON.stringify(config)], cleanup, {
          onLine: (line) => {
            try {
              const event = JSON.parse(line) as Record<string, unknown>;
              events.push(event);
              if (event.event === 'failed' || event.event === 'error') log(`${label}: sender: ${String(event.message)}`);
            } catch {
              // not an event
            }
          },
        }),
      );
    }
    const admin = new AdminClient(address, state.adminKey);
    cleanup.add(() => admin.close());
    await waitForSites(admin, sites, 300_000);
    log(`${label}: ${sites} sites connected from ${senders.length} sender processes; starting the round`);
    const peakBeforeRoundMiB = peakRssMiB(coordinator.pid);
    const sampler = new RssSampler(coordinator.pid);
    const records = await runRounds(admin, { rounds: 1, minSites: sites, strategy: options.strategy ?? '', strategyParams: options.strategyParams ?? {} });
    const timeline = sampler.stop();
    const peak = peakRssMiB(coordinator.pid);
    const record = records[0];
    if (!record) throw new Error('the round left no record');
    log(`${label}: round ${record.state} with ${record.reports.length} updates; peak RSS ${peak?.toFixed(0)} MiB`);
    if (record.state !== 'closed') throw new Error(`round ${record.round} ${record.state}: ${record.message}`);
    if (peak === null) throw new Error('cannot read /proc/<pid>/status (VmHWM); this benchmark needs Linux');
    return {
      peakMiB: peak,
      peakBeforeRoundMiB,
      record,
      timeline,
      uploadFailures: events.filter((e) => e.event === 'failed' || e.event === 'error').length,
      uploadsTurnedAway: events.reduce((n, e) => n + (e.event === 'uploaded' ? Number(e.turnedAway ?? 0) : 0), 0),
      senderProcesses: senders.length,
    };
  } finally {
    log(`${label}: stopping processes, removing the state folder`);
    await cleanup.run();
  }
}
