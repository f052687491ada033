import { constants } from 'node:fs';
import { access, mkdtemp, rm, stat, statfs } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fingerprint, formatPublicKey, parsePublicKey, readIdentityFile, type Identity } from '../../shared/crypto/index.js';
import { loadSitePolicy } from '../policy/index.js';
import { failed, guarded, passed, type DoctorCheck } from './check.js';

/**
 * Free space the agent's folder needs: model versions as they download, the PACS image cache and
 * the audit log. 1 GiB covers the zoo's models and a few thousand cached studies at 28-256 px.
 */
export const MIN_FREE_BYTES = 1024 ** 3;

function ownerName(uid: number): string {
  try {
    return uid === userInfo().uid ? userInfo().username : `uid ${uid}`;
  } catch {
    return `uid ${uid}`;
  }
}

/**
 * The site's private key: present, mode 600 (no group or other bits) and owned by the user the
 * agent runs as, and a Medley identity whose halves match. Returns the identity for the handshake.
 */
export async function checkIdentity(path: string): Promise<{ check: DoctorCheck; identity?: Identity }> {
  const name = 'identity key';
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { check: failed(name, `${path}: ${code === 'ENOENT' ? 'no such file' : code ?? (err as Error).message}`, `create it with \`medley keys generate --name SITE --out ${path}\` (or point identity at the site's key)`) };
  }
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) return { check: failed(name, `${path} is mode ${mode.toString(8)}: other users can read the site's private key`, `chmod 600 ${path}`) };
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    return { check: failed(name, `${path} is owned by ${ownerName(info.uid)}, but the agent runs as ${ownerName(uid)}`, `chown ${ownerName(uid)} ${path} (the user the agent runs as)`) };
  }
  try {
    const identity = await readIdentityFile(path);
    return { check: passed(name, `${path} (mode 600, owner ${ownerName(info.uid)}, public key ${formatPublicKey(identity.signPublicKey)})`), identity };
  } catch (err) {
    return { check: failed(name, (err as Error).message, `replace it with the file \`medley keys generate\` wrote for this site`) };
  }
}

export function checkCoordinatorKey(text: string, where: string): { check: DoctorCheck; key?: Uint8Array } {
  try {
    const key = parsePublicKey(text, where);
    return { check: passed('coordinator key', `${fingerprint(key)}… (${text.startsWith('ed25519:') ? 'given inline' : text})`), key };
  } catch (err) {
    return { check: failed('coordinator key', (err as Error).message, "set coordinatorKey to the \"ed25519:...\" line `medley coordinator init` printed, or to the coordinator's coordinator.key.pub") };
  }
}

/** The nearest folder that exists: the state folder itself, or the parent it will be created in. */
async function existingAncestor(path: string): Promise<string> {
  let at = path;
  for (;;) {
    let info;
    try {
      info = await stat(at);
    } catch (err) {
      // ENOTDIR: a file stands somewhere above; walking up finds it and says so.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      const up = dirname(at);
      if (up === at) return at;
      at = up;
      continue;
    }
    if (!info.isDirectory()) throw new Error(`${at} exists and is not a folder`);
    return at;
  }
}

/** The agent's folder can be written (or created): the privacy ledger and audit log must never fail to save. */
export function checkStateWritable(state: string): Promise<DoctorCheck> {
  const name = 'state folder writable';
  return guarded(
    name,
    async () => {
      const at = await existingAncestor(state);
      if (at !== state) {
        await access(at, constants.W_OK | constants.X_OK);
        return passed(name, `${state} does not exist yet; the agent will create it in ${at}, which this user may write`);
      }
      // A real write, not only the permission bits: read-only mounts and full quotas show up here.
      const probe = await mkdtemp(join(state, '.doctor-'));
      await rm(probe, { recursive: true, force: true });
      return passed(name, state);
    },
    `make ${state} writable by the user the agent runs as (for example \`install -d -m 700 -o $(id -un) ${state}\`), or set state to another folder`,
  );
}

export function checkFreeDisk(state: string, minimum = MIN_FREE_BYTES): Promise<DoctorCheck> {
  const name = 'free disk';
  const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
  return guarded(
    name,
    async () => {
      const at = await existingAncestor(state);
      const fs = await statfs(at);
      const free = fs.bavail * fs.bsize;
      if (free < minimum) return failed(name, `${gib(free)} free at ${at}; the agent needs at least ${gib(minimum)}`, `free space on that filesystem or set state to a folder on a larger one`);
      return passed(name, `${gib(free)} free at ${at} (minimum ${gib(minimum)})`);
    },
    `set state to a folder on a mounted filesystem`,
  );
}

export function checkPolicy(path: string | undefined): Promise<DoctorCheck> {
  const name = 'site policy';
  if (path === undefined) return Promise.resolve(passed(name, 'none given: the agent accepts any task the coordinator sends'));
  return guarded(
    name,
    async () => {
      await loadSitePolicy(path);
      return passed(name, `${path} is valid`);
    },
    `correct ${path} (see the site policy section of the README)`,
  );
}
