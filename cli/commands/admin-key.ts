import type { Command } from 'commander';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import { ConfigError } from '../../shared/wire/index.js';
import { adminKeyPath } from '../../coordinator/store/index.js';

export interface AdminKeyOptions {
  adminKey?: string;
  dir?: string;
}

/** Adds the ways an admin command finds its key: --admin-key FILE, MEDLEY_ADMIN_KEY, or --dir STATE. */
export function adminKeyOptions(command: Command): Command {
  return command
    .option('--admin-key <file>', "the coordinator's admin key (STATE/admin.key); or set MEDLEY_ADMIN_KEY to its path")
    .option('--dir <state>', "the coordinator's state folder, to read admin.key from when the coordinator runs on this machine");
}

export function adminKeyFrom(opts: AdminKeyOptions): Uint8Array {
  const path = opts.adminKey ?? process.env.MEDLEY_ADMIN_KEY ?? (opts.dir ? adminKeyPath(opts.dir) : undefined);
  if (!path) {
    throw new ConfigError('admin calls need the admin key: pass --admin-key STATE/admin.key (or --dir STATE on the coordinator machine, or set MEDLEY_ADMIN_KEY)');
  }
  return readAdminKeyFile(path);
}
