import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initCoordinatorState } from '../../coordinator/index.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { generateIdentity, writeIdentityFile } from '../../shared/crypto/index.js';

/** A small hand-made model: two tensors with known values, no TensorFlow.js needed. */
export function tinyModel(elements = 1000) {
  const kernel = new Float32Array(elements - 10).map((_, i) => (i % 17) * 0.125 - 1);
  const bias = new Float32Array(10).map((_, i) => i * 0.5);
  return {
    spec: { arch: 'test-tiny' },
    topology: { class_name: 'Test' },
    tensors: [
      { name: 'dense/kernel', shape: [elements - 10], dtype: 'float32', data: kernel },
      { name: 'dense/bias', shape: [10], dtype: 'float32', data: bias },
    ],
  };
}

/** Where tinyState put a site's private key: beside the state folder, as a hospital would hold it. */
export function siteKeyPath(stateDir: string, site: string): string {
  return join(dirname(stateDir), 'keys', `${site}.key`);
}

/** The flags `medley agent run` needs to prove who it is and whom to trust. */
export function agentKeyArgs(stateDir: string, site: string): string[] {
  return ['--identity', siteKeyPath(stateDir, site), '--coordinator-key', `${coordinatorKeyPath(stateDir)}.pub`, '--state', join(dirname(stateDir), 'agents', site)];
}

/** The flag admin commands (`status`, `round start`) need. */
export function adminArgs(stateDir: string): string[] {
  return ['--admin-key', adminKeyPath(stateDir)];
}

/** A coordinator state folder with the tiny model and these sites enrolled, each with its own key. */
export async function tinyState(sites: string[], elements = 1000): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'medley-test-')), 'state');
  const enrolled = [];
  for (const name of sites) {
    const identity = await generateIdentity(name);
    await writeIdentityFile(siteKeyPath(dir, name), identity);
    enrolled.push({ name, publicKey: identity.signPublicKey });
  }
  await initCoordinatorState({ stateDir: dir, federation: 'test', sites: enrolled, model: tinyModel(elements) });
  return dir;
}
