import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../coordinator/index.js';
import { formatPublicKey, generateIdentity, writeIdentityFile } from '../../shared/crypto/index.js';
import { modelFromTopologyJson, planTgd, selectBackend, weightSlots, writeFlatWeights } from '../../shared/model/index.js';
import { runMedley } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { adminArgs, agentKeyArgs, siteKeyPath } from '../helpers/state.js';

const procs: Proc[] = [];
afterEach(async () => {
  await stop(...procs.splice(0));
});

const SITES = ['north', 'south'];
const PHI = 0.5;

async function version(store: ModelStore, v: number): Promise<{ weights: Float32Array; model: tf.LayersModel }> {
  const manifest = await store.manifest(v);
  const bytes = await readFile(store.weightsPath(v));
  const weights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const model = await modelFromTopologyJson(manifest.topology);
  writeFlatWeights(model, manifest.tensors, weights);
  return { weights, model };
}

/** `coordinator init` (cnn-small), `serve`, one `agent run` per site, then `round start --method tgd` with `extra` flags. */
async function tgdRun(sites: string[], rounds: number, extra: string[]): Promise<string> {
  const state = join(await mkdtemp(join(tmpdir(), 'medley-tgd-')), 'state');
  const siteFlags: string[] = [];
  for (const name of sites) {
    const identity = await generateIdentity(name);
    await writeIdentityFile(siteKeyPath(state, name), identity);
    siteFlags.push('--site', `${name}=${formatPublicKey(identity.signPublicKey)}`);
  }
  const made = await runMedley(['coordinator', 'init', '--dir', state, '--federation', 'tgd', ...siteFlags, '--model', 'cnn-small', '--input', '16x16x1']);
  expect(made.code, made.stderr).toBe(0);
  const { proc, address } = await serveCoordinator(state);
  procs.push(proc);
  sites.forEach((site, i) => {
    procs.push(medley(['agent', 'run', '--coordinator', address, '--name', site, ...agentKeyArgs(state, site),
      '--data', 'synthetic', '--size', '16', '--count', '48', '--shard', `${i + 1}/${sites.length}`, '--seed', '3']));
  });
  const run = await runMedley(['round', 'start', '--coordinator', address, ...adminArgs(state), '--method', 'tgd', '--method-param', `phi=${PHI}`,
    '--rounds', String(rounds), '--min-sites', String(sites.length), '--epochs', '1', '--batch-size', '8', '--lr', '0.01', '--wait', '60', '--deadline', '120', '--json', ...extra], {}, 300_000);
  expect(run.code, run.stderr + procs.map((p) => p.output()).join('\n')).toBe(0);
  return state;
}

/** Counts, between versions parent and child, changed elements the parent's TGD mask froze and opened. */
async function changes(store: ModelStore, parent: number, child: number): Promise<{ frozenChanged: number; openChanged: number; open: number; frozenLayersSame: boolean }> {
  const base = await version(store, parent);
  const next = await version(store, child);
  // The mask the coordinator computed for this round, recomputed from the same base model.
  const plan = planTgd(base.model, { phi: PHI });
  const a = new Uint32Array(base.weights.buffer);
  const b = new Uint32Array(next.weights.buffer);
  let frozenChanged = 0;
  let openChanged = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    if (plan.mask.elements[i]) openChanged++;
    else frozenChanged++;
  }
  // The classifier and the last conv stage are never redundant.
  let frozenLayersSame = true;
  for (const s of weightSlots(base.model)) {
    if (!s.name.startsWith('classifier') && !s.name.startsWith('conv3')) continue;
    for (let i = s.offset; i < s.offset + s.size; i++) if (a[i] !== b[i]) frozenLayersSame = false;
  }
  base.model.dispose();
  next.model.dispose();
  return { frozenChanged, openChanged, open: plan.trainableElements, frozenLayersSame };
}

describe('TGD in a real federation (coordinator + 2 agents over gRPC, `round start --method tgd`)', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('each round retrains only the filters KSE calls redundant in its base model; frozen weights of the new version are bit-identical (TGD^2)', async () => {
    const state = await tgdRun(SITES, 2, []);
    const store = await ModelStore.open(state);
    expect(store.latest).toBe(3);
    for (const [parent, child] of [[1, 2], [2, 3]] as const) {
      const c = await changes(store, parent, child);
      expect(c.open).toBeGreaterThan(0);
      expect(c.frozenChanged, `round ${parent}: frozen elements that changed`).toBe(0);
      expect(c.openChanged).toBeGreaterThan(c.open / 2);
      expect(c.frozenLayersSame).toBe(true);
    }
  }, 400_000);

  it('under secure aggregation and site DP the frozen weights stay bit-identical too (no noise on frozen elements; an exact zero quantizes to 0 and the masks cancel)', async () => {
    // DP noise goes on the elements the mask opens only; before, it moved every frozen weight of the version.
    const state = await tgdRun(['north', 'south', 'east'], 1, ['--secure-aggregation', '--dp-clip', '1', '--dp-noise', '0.5']);
    const store = await ModelStore.open(state);
    expect(store.latest).toBe(2);
    const c = await changes(store, 1, 2);
    expect(c.frozenChanged).toBe(0);
    expect(c.openChanged).toBeGreaterThan(c.open / 2);
  }, 400_000);
});
