import type { NatsSettings } from '../../shared/config/index.js';
import type { DataSpec } from '../../shared/data/index.js';
import type { DoctorCheck } from './check.js';
import { probeCoordinator } from './coordinator-probe.js';
import { checkBackend, checkData, DATA_CHECK, DATA_FIX } from './data-probe.js';
import { checkCoordinatorKey, checkFreeDisk, checkIdentity, checkPolicy, checkStateWritable, MIN_FREE_BYTES } from './local-files.js';
import { probeNats } from './nats-probe.js';

/** What the doctor checks: the agent's resolved settings, as `medley agent run` would start with them. */
export interface DoctorSettings {
  coordinator: string;
  name: string;
  identity: string;
  coordinatorKey: string;
  /** How to name coordinatorKey in a message (the flag, the variable or the file and key). */
  coordinatorKeyFrom: string;
  state: string;
  policy?: string;
  nats?: NatsSettings;
  /** The data as resolved, or why it could not be (a missing folder): reported as the data check, not as a crash. */
  data?: DataSpec;
  dataError?: string;
  /** Bound on each network check. */
  timeoutMs: number;
  minFreeBytes?: number;
}

/**
 * Everything a hospital's IT needs to be true before the agent goes live, checked in the order a
 * person would fix it: local files first, then the network, then data and compute. Checks that
 * depend on an earlier one (the handshake needs both keys) say so instead of failing twice.
 * `onCheck` sees each result as it comes, so a slow data read does not hide the earlier lines.
 */
export async function runDoctor(settings: DoctorSettings, onCheck: (check: DoctorCheck) => void = () => {}): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck) => {
    checks.push(check);
    onCheck(check);
  };
  const identity = await checkIdentity(settings.identity);
  add(identity.check);
  const key = checkCoordinatorKey(settings.coordinatorKey, settings.coordinatorKeyFrom);
  add(key.check);
  if (identity.identity && key.key) {
    add(await probeCoordinator({ coordinator: settings.coordinator, site: settings.name, identity: identity.identity, coordinatorKey: key.key, timeoutMs: settings.timeoutMs }));
  } else {
    add({ check: 'coordinator reachable, site enrolled', ok: false, detail: 'not tried: the handshake needs a readable identity key and a valid coordinator key', fix: 'fix the key checks above first' });
  }
  add(await probeNats(settings.nats, settings.timeoutMs));
  add(await checkStateWritable(settings.state));
  add(await checkFreeDisk(settings.state, settings.minFreeBytes ?? MIN_FREE_BYTES));
  add(await checkPolicy(settings.policy));
  add(
    settings.data
      ? await checkData(settings.data, settings.state)
      : { check: DATA_CHECK, ok: false, detail: settings.dataError ?? 'no data source', fix: DATA_FIX },
  );
  add(await checkBackend());
  return checks;
}
