import { join } from 'node:path';
import { AdminClient } from '../admin-client.js';
import { spawnMedley, stopAll, type Child } from '../demo/child-processes.js';
import { processPeakRssMiB } from './memory.js';
import type { SiteWorkerInput } from './site-worker-protocol.js';
import { SiteWorkers } from './site-workers.js';
import type { FederationPlan, RunningFederation } from './transport.js';

/** `medley coordinator serve` as a child process (so its memory is its own), on a free loopback port. */
async function startCoordinator(plan: FederationPlan): Promise<{ child: Child; address: string }> {
  let child!: Child;
  const address = await new Promise<string>((resolve, reject) => {
    child = spawnMedley(
      'coordinator',
      ['coordinator', 'serve', '--dir', plan.stateDir, '--listen', '127.0.0.1:0', '--eval-data', plan.evalData, '--eval-seed', String(plan.evalSeed)],
      join(plan.logDir, 'coordinator.log'),
      (line) => {
        try {
          const event = JSON.parse(line) as { event?: string; address?: string };
          if (event.event === 'listening' && event.address) resolve(event.address);
        } catch {
          // not the line we wait for
        }
      },
    );
    void child.exited.then((code) => reject(new Error(`the coordinator exited with code ${code} before listening; see ${child.logPath}`)));
  });
  return { child, address };
}

/** Splits the sites over the workers round-robin, so each gets a mix of early and late sites. */
function workerInputs(plan: FederationPlan, address: string): SiteWorkerInput[] {
  const count = Math.max(1, Math.min(plan.workers, plan.sites.length));
  return Array.from({ length: count }, (_, id) => ({
    id: id + 1,
    address,
    coordinatorKey: plan.coordinatorKey,
    sites: plan.sites.filter((_, i) => i % count === id),
    totalSites: plan.sites.length,
    data: plan.data,
    trainer: plan.trainer,
    attackFactor: plan.attackFactor,
    seed: plan.seed,
    logPath: join(plan.logDir, `worker-${id + 1}.log`),
  }));
}

/**
 * The coordinator in its own process, the sites in worker threads of this one, everything over
 * real gRPC on 127.0.0.1: the same code path, sealing and handshakes as a real deployment.
 */
export async function startGrpcFederation(plan: FederationPlan): Promise<RunningFederation> {
  const { child, address } = await startCoordinator(plan);
  plan.log(`coordinator (pid ${child.process.pid}) listening on ${address}; log ${child.logPath}`);
  let admin: AdminClient | null = null;
  try {
    admin = new AdminClient(address, plan.adminKey);
    await admin.waitUntilReady(30_000);
    const inputs = workerInputs(plan, address);
    // Start-up reads the data once per worker and makes every agent: allow for big federations.
    const workers = await SiteWorkers.start(inputs, 120_000 + plan.sites.length * 200);
    plan.log(`${workers.size} site worker thread(s) hosting ${plan.sites.length} sites, one training at a time each (backend ${workers.backend}); logs in ${plan.logDir}`);
    const connected = admin;
    return {
      transport: 'grpc',
      workers: workers.size,
      backend: workers.backend,
      admin: connected,
      failure: () =>
        workers.failure() ??
        (child.process.exitCode !== null ? new Error(`the coordinator exited with code ${child.process.exitCode}; see ${child.logPath}`) : null),
      coordinatorPeakRssMiB: () => processPeakRssMiB(child.process.pid),
      stop: async () => {
        const peakTraining = await workers.stop();
        connected.close();
        await stopAll([child]);
        return { peakTraining };
      },
    };
  } catch (err) {
    admin?.close();
    await stopAll([child]);
    throw err;
  }
}
