import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Coordinator } from '../../coordinator/index.js';
import { createHeldOutEvaluator } from '../../coordinator/eval/held-out-evaluator.js';
import { readIdentityFile } from '../../shared/crypto/index.js';
import { loadHeldOut, openSiteShards } from '../../shared/data/index.js';
import { AdminClient } from '../admin-client.js';
import { hostSites, type HostedSite } from './site-host.js';
import { SlotPool } from './slots.js';
import type { FederationPlan, RunningFederation } from './transport.js';

function fileLog(path: string): { write: (line: string) => void; close: () => void } {
  const stream = createWriteStream(path, { flags: 'a' });
  return { write: (line) => stream.write(`${new Date().toISOString()} ${line}\n`), close: () => stream.end() };
}

/**
 * Coordinator and sites in this process and thread, joined by the coordinator's in-process
 * clients instead of sockets: the same services, handshakes, sealing and protobuf messages, without
 * HTTP/2. Sites train one at a time. Memory is one number here (the simulator's).
 */
export async function startInProcessFederation(plan: FederationPlan): Promise<RunningFederation> {
  const coordinatorLog = fileLog(join(plan.logDir, 'coordinator.log'));
  const sitesLog = fileLog(join(plan.logDir, 'sites.log'));
  const heldOut = loadHeldOut({ source: plan.evalData, seed: plan.evalSeed });
  const evaluator = await createHeldOutEvaluator(heldOut, coordinatorLog.write);
  const coordinator = await Coordinator.open({ stateDir: plan.stateDir, log: coordinatorLog.write, evaluator });
  const admin = new AdminClient(coordinator.inProcessClients().admin, plan.adminKey);
  const controller = new AbortController();
  const slots = new SlotPool(1);
  let failed: Error | null = null;
  let hosting: Promise<void> = Promise.resolve();
  try {
    const shards = openSiteShards(plan.data, plan.sites.length);
    let backend = null;
    if (plan.trainer === 'tfjs') {
      const { selectBackend } = await import('../../shared/model/index.js');
      backend = await selectBackend({ log: sitesLog.write });
    }
    const sites: HostedSite[] = [];
    for (const s of plan.sites) sites.push({ name: s.name, index: s.index, attack: s.attack, identity: await readIdentityFile(s.keyPath) });
    hosting = hostSites({
      sites,
      // Each agent gets its own client, as each would dial its own connection.
      connect: () => ({ coordinator: `in-process:${coordinator.federation}`, channel: coordinator.inProcessClients().federation }),
      coordinatorKey: plan.coordinatorKey,
      shards,
      trainer: plan.trainer,
      backend,
      attackFactor: plan.attackFactor,
      seed: plan.seed,
      slots,
      log: sitesLog.write,
      signal: controller.signal,
    }).catch((err: unknown) => {
      failed = err as Error;
    });
    plan.log(`coordinator and ${plan.sites.length} sites in this process, connected in-process, one site training at a time (backend ${backend?.name ?? 'none (fixed step)'}); logs in ${plan.logDir}`);
    return {
      transport: 'inproc',
      workers: 1,
      backend: backend?.name ?? 'none (fixed step)',
      admin,
      failure: () => failed,
      coordinatorPeakRssMiB: () => null,
      stop: async () => {
        controller.abort(new Error('simulation finished'));
        await hosting;
        admin.close();
        await coordinator.close();
        coordinatorLog.close();
        sitesLog.close();
        return { peakTraining: [slots.peak] };
      },
    };
  } catch (err) {
    controller.abort(err);
    await hosting;
    admin.close();
    await coordinator.close();
    throw err;
  }
}
