import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../coordinator/index.js';
import { FIXED_STEP } from '../../cli/simulate/site-trainer.js';
import type { SimulationSummary } from '../../cli/simulate/summary.js';
import { runMedley } from '../helpers/cli-run.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medley-simulate-'));
});

async function readSummary(out: string): Promise<SimulationSummary> {
  return JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as SimulationSummary;
}

async function weights(state: string, version: number): Promise<Float32Array> {
  const store = await ModelStore.open(state);
  const bytes = await readFile(store.weightsPath(version));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

describe('medley simulate', () => {
  it('grpc: 6 virtual sites in 2 worker threads train 2 real rounds; the run folder records rounds, sites, attackers and memory', async () => {
    const out = join(root, 'grpc');
    const run = await runMedley(
      ['simulate', '--sites', '6', '--rounds', '2', '--count', '48', '--epochs', '1', '--partition', 'dirichlet:0.5',
        '--workers', '2', '--attack', 'random=1', '--out', out, '--seed', '5', '--json'],
      {},
      90_000,
    );
    expect(run.code, run.stderr).toBe(0);
    const summary = await readSummary(out);
    // --json prints the same summary on stdout; progress went to stderr.
    expect(JSON.parse(run.stdout)).toEqual(summary);
    expect(run.stderr).toMatch(/round 1 \(1\/2\): 6\/6 sites done, [\d.]+ (KiB|MiB) moved, [\d.]+ s/);
    expect(run.stderr).toMatch(/ATTACK: site-6=random/);

    expect(summary).toMatchObject({ kind: 'simulation', transport: 'grpc', workers: 2, trainer: 'tfjs', partition: 'dirichlet:0.5', modelVersion: 3 });
    expect(summary.strategy).toEqual({ name: 'fedavg', params: {} });
    expect(summary.rounds.map((r) => [r.round, r.state, r.modelVersion, r.sites, r.examples])).toEqual([
      [1, 'closed', 2, 6, 6 * 48],
      [2, 'closed', 3, 6, 6 * 48],
    ]);
    for (const r of summary.rounds) {
      expect(r.metrics.auroc).toBeGreaterThan(0);
      expect(r.metrics.auroc).toBeLessThanOrEqual(1);
      expect(r.siteMetrics.map((s) => s.site).sort()).toEqual(['site-1', 'site-2', 'site-3', 'site-4', 'site-5', 'site-6']);
    }
    expect(summary.sites.map((s) => s.examples)).toEqual([48, 48, 48, 48, 48, 48]);
    // Each worker trained one site at a time, whatever the number of sites it hosted.
    expect(summary.peakSitesTraining).toEqual([1, 1]);
    expect(summary.attackers).toEqual([{ site: 'site-6', kind: 'random' }]);
    expect(summary.attackFactor).toBe(10);
    expect(summary.coordinatorPeakRssMiB).toBeGreaterThan(20);
    expect(summary.simulatorPeakRssMiB).toBeGreaterThan(20);

    // Only the attacking site says so in the worker logs; every site has its own enrolled key.
    const logs = await readdir(join(out, 'logs'));
    expect(logs.sort()).toEqual(['coordinator.log', 'worker-1.log', 'worker-2.log']);
    const workerLogs = (await Promise.all(logs.filter((l) => l.startsWith('worker')).map((l) => readFile(join(out, 'logs', l), 'utf8')))).join('');
    expect(workerLogs.match(/\[site-\d+\] ATTACKER/g)).toEqual(['[site-6] ATTACKER']);
    expect((await readdir(join(out, 'keys'))).filter((f) => f.endsWith('.key'))).toHaveLength(6);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    expect(existsSync(join(out, 'model', 'model.json'))).toBe(true);
  });

  it('inproc: the crafted updates of the attacking sites reach the global model exactly as defined', async () => {
    const out = join(root, 'inproc');
    const run = await runMedley(
      ['simulate', '--transport', 'inproc', '--trainer', 'fixed-step', '--sites', '6', '--rounds', '2', '--count', '30',
        '--attack', 'scale=1,sign-flip=1', '--attack-factor', '4', '--out', out, '--strategy', 'fedavg'],
      {},
      60_000,
    );
    expect(run.code, run.stderr).toBe(0);
    const summary = await readSummary(out);
    expect(summary).toMatchObject({ transport: 'inproc', workers: 1, trainer: 'fixed-step', coordinatorPeakRssMiB: null, modelVersion: 3 });
    expect(summary.peakSitesTraining).toEqual([1]);
    expect(summary.attackers).toEqual([
      { site: 'site-5', kind: 'scale' },
      { site: 'site-6', kind: 'sign-flip' },
    ]);
    expect(summary.rounds.map((r) => [r.state, r.modelVersion, r.sites, r.examples])).toEqual([
      ['closed', 2, 6, 180],
      ['closed', 3, 6, 180],
    ]);
    for (const r of summary.rounds) expect(Number.isFinite(r.metrics.auroc)).toBe(true);
    // Four honest sites add FIXED_STEP, site-5 sends 4x it and site-6 -4x it, all with 30 examples:
    // FedAvg moves every weight by (4 + 4 - 4) / 6 steps each round.
    const state = join(out, 'state');
    const [v1, v3] = await Promise.all([weights(state, 1), weights(state, 3)]);
    const expected = (2 * FIXED_STEP * (4 + 4 - 4)) / 6;
    let worst = 0;
    for (let i = 0; i < v1.length; i++) worst = Math.max(worst, Math.abs(v3[i]! - v1[i]! - expected));
    expect(worst).toBeLessThan(1e-6);
  });

  it('refuses bad flags before starting anything, naming the flag and the way out', async () => {
    const cases: [string[], RegExp][] = [
      [['--partition', 'dirichlet:0'], /--partition: partition 'dirichlet:0': the Dirichlet concentration must be a number above 0/],
      [['--partition', 'by-label', '--sites', '1'], /1 site\(s\) cannot hold 2 classes.*at least 2 sites/],
      [['--attack', 'scale=7'], /--attack asks for 7 attacking sites but the federation has only 6/],
      [['--attack', 'flip=1'], /unknown kind "flip"; use scale, sign-flip, random/],
      [['--transport', 'inproc', '--workers', '2'], /--workers 2: --transport inproc trains every site in this one thread/],
      [['--transport', 'pigeon'], /"pigeon" is not one of grpc, inproc/],
      [['--strategy', 'fedmagic'], /--strategy fedmagic: unknown strategy "fedmagic"; choose one of .*fedavg/],
      [['--strategy-param', 'mu=0.1'], /strategy fedavg has no parameter "mu"/],
      [['--data', join(root, 'missing.npz')], /missing\.npz: no such file; give "synthetic" or the path of a MedMNIST \.npz file/],
      [['--min-sites', '9'], /--min-sites 9 is more than the 6 sites/],
    ];
    const results = await Promise.all(cases.map(([args]) => runMedley(['simulate', '--sites', '6', '--rounds', '1', '--out', join(root, 'bad'), ...args])));
    results.forEach((result, i) => {
      expect(result.code, cases[i]![0].join(' ')).not.toBe(0);
      expect(result.stderr).toMatch(cases[i]![1]);
    });
    // Nothing was started for them: no state folder was made.
    expect(existsSync(join(root, 'bad', 'state'))).toBe(false);
  });
});
