import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BenchResult } from './result.js';
import type { BenchOptions } from './lib/options.js';
import { AdminClient, runRounds, waitForSites } from './lib/admin.js';
import { benchScript } from './lib/assets.js';
import { Cleanup } from './lib/cleanup.js';
import { RssSampler, peakRssMiB, startCoordinator, startNode, type Child } from './lib/procs.js';
import { benchState, siteNames } from './lib/state.js';
import { MIB, round } from './lib/stats.js';

/*
 * Peak RSS of the real coordinator process (`medley coordinator serve`) through one round in which
 * every site uploads an update of the whole model at the same moment. The sites are simulated by a
 * few sender processes (bench/sender.ts), each driving many sessions over its own connections,
 * each site with its own key, passing the handshake and sealing its update as an agent does.
 */

const SITES_PER_SENDER = 10;

export async function benchCoordinatorMemory({ quick, log }: BenchOptions): Promise<BenchResult> {
  const sites = quick ? 10 : 50;
  const parameters = quick ? 5_000_000 : 25_000_000;
  const modelMiB = (parameters * 4) / MIB;
  const cleanup = new Cleanup();
  try {
    log(`coordinator_memory: state with ${sites} sites and a ${modelMiB.toFixed(1)} MiB model`);
    const names = siteNames(sites);
    const state = await benchState({ parameters, sites: names, cleanup });
    const { dir, manifest } = state;
    const specsFile = join(dirname(dir), 'tensors.json');
    await writeFile(specsFile, JSON.stringify(manifest.tensors));
    const { proc: coordinator, address } = await startCoordinator(dir, cleanup);
    log(`coordinator_memory: coordinator pid ${coordinator.pid} on ${address}; idle peak RSS ${peakRssMiB(coordinator.pid)?.toFixed(0)} MiB`);

    const senders: Child[] = [];
    const events: Record<string, unknown>[] = [];
    let ready = 0;
    for (let i = 0; i < sites; i += SITES_PER_SENDER) {
      const config = { address, sites: names.slice(i, i + SITES_PER_SENDER), stateDir: dir, coordinatorKey: state.coordinatorKeyFile, specsFile, examples: 100 + i, step: 0.001 };
      senders.push(
        startNode(benchScript('sender.js'), [JSON.stringify(config)], cleanup, {
          onLine: (line) => {
            try {
              const event = JSON.parse(line) as Record<string, unknown>;
              events.push(event);
              if (event.event === 'ready') ready++;
              if (event.event === 'failed' || event.event === 'error') log(`coordinator_memory: sender: ${String(event.message)}`);
            } catch {
              // not an event
            }
          },
        }),
      );
    }
    const admin = new AdminClient(address, state.adminKey);
    cleanup.add(() => admin.close());
    await waitForSites(admin, sites, 120_000);
    log(`coordinator_memory: ${sites} sites connected from ${senders.length} sender processes (${ready} ready); starting the round`);
    const startRss = peakRssMiB(coordinator.pid);
    const sampler = new RssSampler(coordinator.pid);
    const records = await runRounds(admin, { rounds: 1, minSites: sites });
    const timeline = sampler.stop();
    const peak = peakRssMiB(coordinator.pid);
    const record = records[0];
    if (!record) throw new Error('the round left no record');
    const failures = events.filter((e) => e.event === 'failed' || e.event === 'error');
    log(`coordinator_memory: round ${record.state} with ${record.reports.length} updates; peak RSS ${peak?.toFixed(0)} MiB`);
    if (record.state !== 'closed') throw new Error(`round ${record.round} ${record.state}: ${record.message}`);
    if (peak === null) throw new Error('cannot read /proc/<pid>/status (VmHWM); this benchmark needs Linux');

    const limit = 3 * modelMiB + 200;
    return {
      metric: `peak RSS (MiB) of the coordinator process, ${sites} sites x ${modelMiB.toFixed(1)} MiB model, one round`,
      unit: 'MiB',
      value: round(peak, 0),
      peer: { name: 'model size (MiB)', value: round(modelMiB, 1) },
      ratio: round(peak / modelMiB, 2),
      target: 'at most 3x the model size plus 200 MB, whatever the site count',
      met: peak <= limit,
      limit_mib: round(limit, 0),
      sites,
      model_mib: round(modelMiB, 1),
      round_seconds: round((record.closedUnixMs - record.startedUnixMs) / 1000, 1),
      peak_rss_before_round_mib: round(startRss, 0),
      updates_accepted: record.reports.length,
      upload_failures: failures.length,
      sender_processes: senders.length,
      rss_timeline_s_mib: timeline,
    };
  } finally {
    log('coordinator_memory: stopping processes, removing the state folder');
    await cleanup.run();
  }
}
