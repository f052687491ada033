import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../coordinator/index.js';
import { formatPublicKey, generateIdentity, writeIdentityFile } from '../../shared/crypto/index.js';
import { modelFromTopologyJson, selectBackend, weightSlots, writeFlatWeights } from '../../shared/model/index.js';
import { runMedley } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { adminArgs, agentKeyArgs, siteKeyPath } from '../helpers/state.js';

/*
 * Model surgery in a real federation, all through bin/medley.js: a coordinator and two agents over
 * gRPC; `model prune` shrinks the global model between runs and the next round trains the slim
 * network; `model truncate` makes a backbone + head that `round start --method truncated` fine-tunes
 * with the backbone frozen bit for bit.
 */

const procs: Proc[] = [];
afterEach(async () => {
  await stop(...procs.splice(0));
});

const SITES = ['north', 'south'];

async function version(store: ModelStore, v: number): Promise<{ weights: Float32Array; model: tf.LayersModel }> {
  const manifest = await store.manifest(v);
  const bytes = await readFile(store.weightsPath(v));
  const weights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const model = await modelFromTopologyJson(manifest.topology);
  writeFlatWeights(model, manifest.tensors, weights);
  return { weights, model };
}

async function initState(prefix: string, modelArgs: string[]): Promise<string> {
  const state = join(await mkdtemp(join(tmpdir(), prefix)), 'state');
  const siteFlags: string[] = [];
  for (const name of SITES) {
    const identity = await generateIdentity(name);
    await writeIdentityFile(siteKeyPath(state, name), identity);
    siteFlags.push('--site', `${name}=${formatPublicKey(identity.signPublicKey)}`);
  }
  const made = await runMedley(['coordinator', 'init', '--dir', state, '--federation', 'surgery', ...siteFlags, ...modelArgs]);
  expect(made.code, made.stderr).toBe(0);
  return state;
}

function startAgents(state: string, address: string): void {
  SITES.forEach((site, i) => {
    procs.push(medley(['agent', 'run', '--coordinator', address, '--name', site, ...agentKeyArgs(state, site),
      '--data', 'synthetic', '--size', '16', '--count', '48', '--shard', `${i + 1}/${SITES.length}`, '--seed', '3']));
  });
}

async function oneRound(state: string, address: string, extra: string[] = []): Promise<void> {
  const run = await runMedley(['round', 'start', '--coordinator', address, ...adminArgs(state), ...extra,
    '--rounds', '1', '--min-sites', '2', '--epochs', '1', '--batch-size', '8', '--lr', '0.01', '--wait', '60', '--deadline', '120', '--json'], {}, 300_000);
  expect(run.code, run.stderr + procs.map((p) => p.output()).join('\n')).toBe(0);
}

describe('model surgery in a real federation (coordinator + 2 agents over gRPC, via bin/medley.js)', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('a round, `model prune` writes a slimmer version, and the next round (same agents, coordinator restarted) trains the slim network', async () => {
    const state = await initState('medley-prune-', ['--model', 'cnn-small', '--input', '16x16x1']);
    const first = await serveCoordinator(state);
    procs.push(first.proc);
    startAgents(state, first.address);
    await oneRound(state, first.address);
    await stop(first.proc);

    const pruned = await runMedley(['model', 'prune', '--dir', state, '--data', 'synthetic', '--size', '16', '--count', '96', '--tolerance', '0.5',
      '--l1', '1', '--lr', '0.5', '--epochs', '1', '--max-cycles', '1', '--batch-size', '32'], {}, 300_000);
    expect(pruned.code, pruned.stderr).toBe(0);
    const report = JSON.parse(pruned.stdout) as { version: number; base: number; final: { convParameters: number }; baseline: { convParameters: number } };
    expect(report.base).toBe(2);
    expect(report.version).toBe(3);
    expect(report.final.convParameters).toBeLessThan(report.baseline.convParameters);
    const store = await ModelStore.open(state);
    const slim = await store.manifest(3);
    expect(slim.parent).toBe(2);
    expect(slim.totalBytes).toBeLessThan((await store.manifest(2)).totalBytes);
    expect((slim.spec.pruned as { from: number }).from).toBe(2);
    expect(await readFile(join(state, 'surgery.jsonl'), 'utf8')).toMatch(/"operation":"prune","version":3/);

    // The same agents reconnect to the restarted coordinator and train what version 3 describes.
    const again = await serveCoordinator(state, [], first.address);
    procs.push(again.proc);
    await oneRound(state, again.address);
    const after = await ModelStore.open(state);
    expect(after.latest).toBe(4);
    const next = await after.manifest(4);
    expect(next.parent).toBe(3);
    expect(next.tensors.map((t) => t.shape)).toEqual(slim.tensors.map((t) => t.shape));
    const a = await version(after, 3);
    const b = await version(after, 4);
    expect(Array.from(b.weights)).not.toEqual(Array.from(a.weights));
    expect(b.weights.every(Number.isFinite)).toBe(true);
    a.model.dispose();
    b.model.dispose();
  }, 600_000);

  it('`model truncate` makes a backbone + head; `round start --method truncated` trains the head and leaves the backbone bit-identical', async () => {
    const work = await mkdtemp(join(tmpdir(), 'medley-truncate-'));
    const out = join(work, 'cut');
    const cut = await runMedley(['model', 'truncate', '--model', 'cnn-small:16x16x1:2', '--data', 'synthetic', '--size', '16', '--count', '64', '--cut', '2', '--epochs', '3', '--out', out], {}, 300_000);
    expect(cut.code, cut.stderr).toBe(0);
    const made = JSON.parse(cut.stdout) as { cut: { layer: string }; parameters: number; flops: number };
    expect(made.cut.layer).toBe('pool1');
    expect(made.flops).toBeGreaterThan(0);
    const state = await initState('medley-truncated-', ['--model', out]);
    const { proc, address } = await serveCoordinator(state);
    procs.push(proc);
    startAgents(state, address);
    await oneRound(state, address, ['--method', 'truncated']);
    const store = await ModelStore.open(state);
    expect(store.latest).toBe(2);
    const base = await version(store, 1);
    const next = await version(store, 2);
    const a = new Uint32Array(base.weights.buffer);
    const b = new Uint32Array(next.weights.buffer);
    let headChanged = 0;
    for (const s of weightSlots(base.model)) {
      const same = a.subarray(s.offset, s.offset + s.size).every((v, i) => v === b[s.offset + i]);
      if (s.name.startsWith('truncated_head/')) headChanged += same ? 0 : 1;
      else expect(same, `${s.name} is frozen`).toBe(true);
    }
    expect(headChanged).toBe(2);
    base.model.dispose();
    next.model.dispose();
  }, 600_000);

  it('refuses bad input with the reason and leaves the state as it was', async () => {
    const work = await mkdtemp(join(tmpdir(), 'medley-surgery-bad-'));
    const far = await runMedley(['model', 'truncate', '--model', 'cnn-small:16x16x1:2', '--data', 'synthetic', '--size', '16', '--count', '16', '--cut', '9', '--out', join(work, 'x')]);
    expect(far.code).not.toBe(0);
    expect(far.stderr).toMatch(/cut 9 is out of range: this model has 5 cut points \(1\.\.5: 1=conv1_relu/);
    const none = await runMedley(['model', 'truncate', '--model', 'cnn-small', '--data', 'synthetic', '--out', join(work, 'y')]);
    expect(none.stderr).toMatch(/give exactly one of --cut K, --cut-layer NAME or --search/);
    const state = await initState('medley-prune-unet-', ['--model', 'unet', '--input', '16x16x1']);
    const negative = await runMedley(['model', 'prune', '--dir', state, '--data', 'synthetic', '--tolerance', '-0.01']);
    expect(negative.code).not.toBe(0);
    expect(negative.stderr).toMatch(/tolerance -0.01 is not allowed: give the validation AUROC the pruned model may lose, a number >= 0/);
    const unet = await runMedley(['model', 'prune', '--dir', state, '--data', 'synthetic', '--size', '16', '--count', '32']);
    expect(unet.code).not.toBe(0);
    expect(unet.stderr).toMatch(/channel pruning cannot follow conv \w+'s channels through layer \w+ \(Concatenate\)/);
    const store = await ModelStore.open(state);
    expect(store.latest).toBe(1);
  }, 120_000);
});
