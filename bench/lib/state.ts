import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initCoordinatorState, type InitialModel, type ModelManifest } from '../../coordinator/index.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { generateIdentity, readIdentityFile, writeIdentityFile, type Identity } from '../../shared/crypto/index.js';
import type { Cleanup } from './cleanup.js';
import { fillNoise } from './stats.js';

/** A bench state folder and the keys around it, as a federation's hospitals and admin hold them. */
export interface BenchState {
  /** The coordinator's state folder (`medley coordinator serve --dir`). */
  dir: string;
  manifest: ModelManifest;
  /** The coordinator's Ed25519 public key (what every agent pins). */
  coordinatorKey: Uint8Array;
  /** STATE/coordinator.key.pub, for `--coordinator-key`. */
  coordinatorKeyFile: string;
  /** The admin API's secret (STATE/admin.key), for AdminClient. */
  adminKey: Uint8Array;
  adminKeyFile: string;
  /** Each enrolled site's identity, in memory (hand-driven sessions sign with it). */
  identities: Map<string, Identity>;
  /** Where a site's private key file lies (beside the state folder, not in it). */
  siteKeyFile(site: string): string;
  /** An agent's own folder (audit log, privacy ledger): one per site, never shared. */
  agentStateDir(site: string): string;
  /** The key flags `medley agent run` needs for `site`: --identity, --coordinator-key, --state. */
  agentArgs(site: string): string[];
}

/** Where benchState put a site's private key: ROOT/keys/SITE.key, beside ROOT/state. */
export function siteKeyPath(stateDir: string, site: string): string {
  return join(dirname(stateDir), 'keys', `${site}.key`);
}

/** The key flags of `medley agent run` for a site of a bench state folder. */
export function agentKeyArgs(stateDir: string, site: string): string[] {
  return ['--identity', siteKeyPath(stateDir, site), '--coordinator-key', `${coordinatorKeyPath(stateDir)}.pub`, '--state', join(dirname(stateDir), 'agents', site)];
}

/** A site's identity from its key file (sender processes read theirs this way). */
export function readSiteIdentity(stateDir: string, site: string): Promise<Identity> {
  return readIdentityFile(siteKeyPath(stateDir, site));
}

/**
 * A coordinator state folder with a hand-made float32 model of `parameters` values (no TF.js:
 * the coordinator treats weights as opaque tensors) split like a CNN's: one big kernel holding
 * nearly everything, a few smaller tensors. Every site gets its own Ed25519 identity (key files in
 * ROOT/keys), enrolled with its public key. Removed by `cleanup`. `model` replaces the hand-made
 * model with a real one (a zoo network the agents' TF.js trainer can build; `parameters` is then
 * ignored), for benchmarks where agents train for real.
 */
export async function benchState(opts: { parameters: number; sites: string[]; cleanup: Cleanup; federation?: string; model?: InitialModel }): Promise<BenchState> {
  const root = opts.cleanup.folder(await mkdtemp(join(tmpdir(), 'medley-bench-')));
  const dir = join(root, 'state');
  const model = opts.model ?? flatModel(opts.parameters);
  const identities = new Map<string, Identity>();
  const enrolled: { name: string; publicKey: Uint8Array }[] = [];
  for (const name of opts.sites) {
    const identity = await generateIdentity(name);
    await writeIdentityFile(siteKeyPath(dir, name), identity);
    identities.set(name, identity);
    enrolled.push({ name, publicKey: identity.signPublicKey });
  }
  const { manifest, keys } = await initCoordinatorState({
    stateDir: dir,
    federation: opts.federation ?? 'bench',
    sites: enrolled,
    model,
  });
  return {
    dir,
    manifest,
    coordinatorKey: keys.identity.signPublicKey,
    coordinatorKeyFile: `${coordinatorKeyPath(dir)}.pub`,
    adminKey: keys.adminKey,
    adminKeyFile: adminKeyPath(dir),
    identities,
    siteKeyFile: (site) => siteKeyPath(dir, site),
    agentStateDir: (site) => join(root, 'agents', site),
    agentArgs: (site) => agentKeyArgs(dir, site),
  };
}

/** One big kernel holding nearly all `parameters`, a few smaller tensors, like a CNN's split. */
function flatModel(parameters: number): InitialModel {
  const small = [1024, 256, 10];
  const big = parameters - small.reduce((a, b) => a + b, 0);
  if (big < 1) throw new Error(`a bench model needs more than ${parameters} parameters`);
  const shapes: [string, number[]][] = [
    ['dense_1/kernel', [big]],
    ['dense_1/bias', [small[0]!]],
    ['dense_2/kernel', [small[1]!]],
    ['dense_2/bias', [small[2]!]],
  ];
  const tensors = shapes.map(([name, shape], i) => ({ name, shape, dtype: 'float32', data: fillNoise(new Float32Array(shape[0]!), 17 + i, 0.05) }));
  return { spec: { arch: 'bench-flat', parameters }, topology: { class_name: 'BenchFlat' }, tensors };
}

export function siteNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
}
