import { afterEach } from 'vitest';
import type { AdminClient } from '../../cli/admin-client.js';
import type { NatsServer } from './nats-server.js';
import { stop, type Proc } from './processes.js';
import type { StallProxy } from './stall-proxy.js';

/** What a fault test starts; each list is emptied and shut down after every test. */
export interface FaultRig {
  procs: Proc[];
  proxies: StallProxy[];
  admins: AdminClient[];
  servers: NatsServer[];
}

/**
 * Registers the teardown of a fault test file: admin clients first (they hold watch streams), then
 * the medley processes, then the links and servers under them, so no process is left running into
 * the next test whatever the test did to it.
 */
export function faultTeardown(): FaultRig {
  const rig: FaultRig = { procs: [], proxies: [], admins: [], servers: [] };
  afterEach(async () => {
    for (const admin of rig.admins.splice(0)) admin.close();
    await stop(...rig.procs.splice(0));
    for (const proxy of rig.proxies.splice(0)) await proxy.close();
    for (const server of rig.servers.splice(0)) await server.stop();
  });
  return rig;
}
