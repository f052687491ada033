import { mkdir, readdir } from 'node:fs/promises';
import { ConfigError, layoutTensors } from '../shared/wire/index.js';
import { ModelStore, SiteRegistry, checkSiteName, createCoordinatorKeys, writeFederationConfig, type CoordinatorKeys, type ModelManifest } from './store/index.js';

export interface InitialModel {
  spec: Record<string, unknown>;
  topology: Record<string, unknown>;
  tensors: { name: string; shape: number[]; dtype: string; data: Float32Array }[];
}

export interface InitOptions {
  stateDir: string;
  federation: string;
  /** Sites enrolled at once, each with its Ed25519 public key. */
  sites: { name: string; publicKey: Uint8Array }[];
  model: InitialModel;
}

/**
 * Creates a coordinator state folder: federation config, the coordinator's identity and admin key,
 * site list, model version 1.
 */
export async function initCoordinatorState(options: InitOptions): Promise<{ manifest: ModelManifest; keys: CoordinatorKeys }> {
  await mkdir(options.stateDir, { recursive: true });
  const existing = await readdir(options.stateDir);
  if (existing.length > 0) {
    throw new ConfigError(`${options.stateDir} is not empty; a coordinator state folder is initialised once. Choose a new folder or remove this one`);
  }
  for (const site of options.sites) checkSiteName(site.name);
  const keys = await createCoordinatorKeys(options.stateDir, options.federation);
  await writeFederationConfig(options.stateDir, { federation: options.federation, createdAt: new Date().toISOString(), stateFormat: 1 });
  const registry = await SiteRegistry.open(options.stateDir);
  for (const site of options.sites) await registry.add(site.name, site.publicKey);
  const store = await ModelStore.open(options.stateDir);
  const { specs, totalBytes } = layoutTensors(options.model.tensors);
  const chunks = options.model.tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  const manifest = await store.writeNext({ parent: null, round: null, spec: options.model.spec, topology: options.model.topology, tensors: specs, totalBytes }, chunks);
  return { manifest, keys };
}
