import { join } from 'node:path';
import {
  generateIdentity,
  newAdminKey,
  readAdminKeyFile,
  readIdentityFile,
  writeAdminKeyFile,
  writeIdentityFile,
  type Identity,
} from '../../shared/crypto/index.js';

/** Where a coordinator's secrets live in its state folder (both 0600). */
export function coordinatorKeyPath(stateDir: string): string {
  return join(stateDir, 'coordinator.key');
}

export function adminKeyPath(stateDir: string): string {
  return join(stateDir, 'admin.key');
}

export interface CoordinatorKeys {
  identity: Identity;
  adminKey: Uint8Array;
}

/** Made once by `coordinator init`: the identity sites pin, and the admin API's secret. */
export async function createCoordinatorKeys(stateDir: string, federation: string): Promise<CoordinatorKeys> {
  const identity = await generateIdentity(`coordinator:${federation}`);
  await writeIdentityFile(coordinatorKeyPath(stateDir), identity);
  const adminKey = newAdminKey();
  await writeAdminKeyFile(adminKeyPath(stateDir), adminKey);
  return { identity, adminKey };
}

export async function readCoordinatorKeys(stateDir: string): Promise<CoordinatorKeys> {
  return { identity: await readIdentityFile(coordinatorKeyPath(stateDir)), adminKey: readAdminKeyFile(adminKeyPath(stateDir)) };
}
