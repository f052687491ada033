import { mkdtemp, readFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore, RoundJournal } from '../../coordinator/index.js';
import { formatPublicKey, generateIdentity, writeIdentityFile } from '../../shared/crypto/index.js';
import { predictSoftLabels } from '../../shared/distill/index.js';
import { loadLayersModelFromDir, selectBackend } from '../../shared/model/index.js';
import { runMedley } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { adminArgs, agentKeyArgs, siteKeyPath } from '../helpers/state.js';

const procs: Proc[] = [];
afterEach(async () => {
  await stop(...procs.splice(0));
});

/** Two sites with different architectures: neither is the global model's. */
const SITES = [
  { name: 'north', arch: 'resnet-mini' },
  { name: 'south', arch: 'cnn-small' },
];
const TRANSFER = 24;
const CLASSES = 2;

interface Federation {
  state: string;
  address: string;
}

interface Setup {
  init: string[];
  transferSet: string;
  data: string;
  /** Each site's --local-model, or undefined for the default (a copy of the global model). */
  localModels: (string | undefined)[];
}

const CLASSIFIERS: Setup = { init: ['--model', 'cnn-small', '--input', '28x28x1'], transferSet: 'synthetic', data: 'synthetic', localModels: SITES.map((s) => s.arch) };

async function federation(setup: Setup = CLASSIFIERS): Promise<Federation> {
  const state = join(await mkdtemp(join(tmpdir(), 'medley-distill-')), 'state');
  const siteFlags: string[] = [];
  for (const { name } of SITES) {
    const identity = await generateIdentity(name);
    await writeIdentityFile(siteKeyPath(state, name), identity);
    siteFlags.push('--site', `${name}=${formatPublicKey(identity.signPublicKey)}`);
  }
  // The global student: a small CNN of the consortium's choice, on 28x28 images (the transfer set's size).
  const made = await runMedley(['coordinator', 'init', '--dir', state, '--federation', 'distill', ...siteFlags, ...setup.init]);
  expect(made.code, made.stderr).toBe(0);
  const { proc, address } = await serveCoordinator(state, ['--transfer-set', setup.transferSet, '--transfer-count', String(TRANSFER)]);
  procs.push(proc);
  SITES.forEach(({ name }, i) => {
    const local = setup.localModels[i];
    procs.push(medley(['agent', 'run', '--coordinator', address, '--name', name, ...agentKeyArgs(state, name), ...(local ? ['--local-model', local] : []),
      '--data', setup.data, '--count', '40', '--shard', `${i + 1}/${SITES.length}`, '--seed', '5']));
  });
  return { state, address };
}

async function roundStart(f: Federation, extra: string[]): Promise<void> {
  const run = await runMedley(['round', 'start', '--coordinator', f.address, ...adminArgs(f.state), '--method', 'distill', '--method-param', 'studentEpochs=2',
    '--min-sites', '2', '--epochs', '1', '--batch-size', '8', '--lr', '0.003', '--wait', '60', '--deadline', '180', '--json', ...extra], {}, 400_000);
  expect(run.code, run.stderr + procs.map((p) => p.output()).join('\n')).toBe(0);
}

/** The coordinator's last aggregate, read from its state folder. */
async function storedAggregate(state: string): Promise<{ round: number; values: Float32Array }> {
  const latest = JSON.parse(await readFile(join(state, 'distill', 'latest-aggregate.json'), 'utf8')) as { sha256: string; round: number };
  const bytes = await readFile(join(state, 'distill', `${latest.sha256}.bin`));
  return { round: latest.round, values: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
}

/**
 * The mean the coordinator should have computed, computed independently: each site's local model
 * (kept in the agent's state folder after the round) labels the transfer set the coordinator
 * served, and the labels are averaged here in float64.
 */
async function independentMean(state: string, task: 'classification' | 'segmentation' = 'classification'): Promise<{ mean: Float64Array; parameters: number[] }> {
  const transferSha = (await readdirBins(join(state, 'distill'))).find((f) => f.kind === 'transfer-set')!;
  const bytes = await readFile(join(state, 'distill', `${transferSha.sha}.bin`));
  const images = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const transfer = { images, count: TRANSFER, height: 28, width: 28, channels: 1 };
  const mean = new Float64Array(TRANSFER * CLASSES * (task === 'segmentation' ? 28 * 28 : 1));
  const parameters: number[] = [];
  for (const { name } of SITES) {
    const dir = join(dirname(state), 'agents', name, 'local-model');
    expect(existsSync(join(dir, 'model.json')), `${name} keeps its local model in its state folder`).toBe(true);
    const net = await loadLayersModelFromDir(dir);
    parameters.push(net.countParams());
    const soft = await predictSoftLabels(net, transfer, task);
    net.dispose();
    for (let i = 0; i < mean.length; i++) mean[i]! += soft[i]! / SITES.length;
  }
  return { mean, parameters };
}

function aggregateSha(state: string): string {
  return (JSON.parse(readFileSync(join(state, 'distill', 'latest-aggregate.json'), 'utf8')) as { sha256: string }).sha256;
}

async function readdirBins(dir: string): Promise<{ sha: string; kind: string }[]> {
  const { readdir } = await import('node:fs/promises');
  const names = (await readdir(dir)).filter((n) => n.endsWith('.kind'));
  return Promise.all(names.map(async (n) => ({ sha: n.slice(0, -5), kind: await readFile(join(dir, n), 'utf8') })));
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('federated distillation in a real federation (coordinator + 2 agents of different architectures over gRPC, `round start --method distill`)', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('two rounds: soft labels averaged exactly, a student version per round, uploads the size of the soft labels whatever the site model', async () => {
    const f = await federation();
    await roundStart(f, ['--rounds', '2']);
    const store = await ModelStore.open(f.state);
    expect(store.latest).toBe(3);
    expect((await store.manifest(3)).spec).toMatchObject({ arch: 'cnn-small' });
    const journal = await RoundJournal.open(f.state);
    const records = journal.recent().filter((r) => r.state === 'closed');
    expect(records.map((r) => r.modelVersion).sort()).toEqual([2, 3]);
    const softBytes = TRANSFER * CLASSES * 4;
    for (const record of records) {
      expect(record.reports.map((r) => r.site).sort()).toEqual(['north', 'south']);
      // What each site sent is its soft labels: the same size for both, whatever their model.
      for (const report of record.reports) expect(report.bytes).toBe(softBytes);
      expect(record.metrics.softLabelBytes).toBe(softBytes);
      expect(record.metrics.modelBytes).toBe((await store.manifest(1)).totalBytes);
    }
    const localParameters = records[0]!.reports.map((r) => r.metrics.localParameters!);
    expect(new Set(localParameters).size, 'the two sites run different architectures').toBe(2);
    const { mean, parameters } = await independentMean(f.state);
    expect(parameters.sort()).toEqual([...localParameters].sort());
    const aggregate = await storedAggregate(f.state);
    expect(aggregate.round).toBe(Math.max(...records.map((r) => r.round)));
    expect(maxDifference(aggregate.values, mean)).toBeLessThan(1e-6);
    // Round 2's sites downloaded round 1's aggregate to distil from, and cached it by SHA-256.
    const blobs = await readdirBins(join(f.state, 'distill'));
    const firstAggregate = blobs.filter((b) => b.kind === 'soft-label-aggregate').map((b) => b.sha).find((sha) => sha !== (aggregateSha(f.state)));
    for (const { name } of SITES) {
      const cache = join(dirname(f.state), 'agents', name, 'distill-cache');
      expect(existsSync(join(cache, `${blobs.find((b) => b.kind === 'transfer-set')!.sha}.bin`)), `${name} cached the transfer set`).toBe(true);
      expect(existsSync(join(cache, `${firstAggregate}.bin`)), `${name} downloaded round 1's aggregate`).toBe(true);
    }
  }, 600_000);

  it('under secure aggregation the aggregate equals the plain mean of the sites\' soft labels, to quantization error', async () => {
    const f = await federation();
    await roundStart(f, ['--rounds', '1', '--secure-aggregation']);
    const journal = await RoundJournal.open(f.state);
    const [record] = journal.recent().filter((r) => r.state === 'closed');
    expect(record!.secureAggregation).toBe(true);
    expect(record!.modelVersion).toBe(2);
    const { mean } = await independentMean(f.state);
    const aggregate = await storedAggregate(f.state);
    const difference = maxDifference(aggregate.values, mean);
    expect(difference).toBeLessThan(1e-4);
  }, 600_000);

  it('segmentation: a U-Net student from per-pixel soft labels (1 - p, p) of two U-Nets, averaged exactly', async () => {
    const f = await federation({ init: ['--model', 'unet', '--input', '28x28x1', '--depth', '2', '--filters', '4'], transferSet: 'synthetic-blobs', data: 'synthetic-blobs', localModels: ['unet', undefined] });
    await roundStart(f, ['--rounds', '1']);
    expect((await ModelStore.open(f.state)).latest).toBe(2);
    const [record] = (await RoundJournal.open(f.state)).recent().filter((r) => r.state === 'closed');
    const softBytes = TRANSFER * 28 * 28 * 2 * 4;
    for (const report of record!.reports) expect(report.bytes).toBe(softBytes);
    const { mean } = await independentMean(f.state, 'segmentation');
    const aggregate = await storedAggregate(f.state);
    expect(aggregate.values.length).toBe(mean.length);
    expect(maxDifference(aggregate.values, mean)).toBeLessThan(1e-6);
  }, 600_000);
});
