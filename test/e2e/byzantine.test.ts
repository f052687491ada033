/**
 * Issue 7's robustness claim: 10 sites, 3 of which send crafted updates (one scaled, one
 * sign-flipped, one random, each 10x an honest update), and the robust strategies keep the global
 * model's held-out AUROC within 0.02 of the clean run while FedAvg does not.
 *
 * Every arm is the same federation (seed, synthetic data, cnn-small, 12 rounds of one local epoch
 * over 64 images per site in batches of 8) through `medley simulate --transport inproc`; only the
 * strategy and the presence of the attackers change. The clean run is FedAvg over the same 10
 * sites, all honest. Runs are deterministic for a given seed, so a result here is reproducible.
 *
 * "Within 0.02" is checked one way: under attack a robust strategy must not fall more than 0.02
 * below the clean run. Rising above it is no failure of robustness, and it happens: measured,
 * median, trimmed mean and Bulyan under attack end 0.024-0.057 above the clean FedAvg run (seeds 3
 * and 4). Part of that is data, not aggregation: with the attackers ignored the model learns from
 * the 7 honest sites, and FedAvg over those 7 alone (--sites 7) ends 0.013-0.022 above the 10-site
 * run (the held-out set is drawn from the scanners of sites 1-4 only, so which sites train
 * matters). The rest is not explained.
 *
 * Krum is held to a different check, because at this training budget it cannot be held to 0.02 by
 * AUROC at all: it adopts one site's whole update each round, so its global model's AUROC swings by
 * more than 0.1 between consecutive rounds even with no attacker (clean Krum here: 0.69 at round 9,
 * 0.83 at round 10), and where its last pick lands decides the comparison: with this seed, Krum under
 * attack ends 0.055 below the clean FedAvg run and 0.067 below clean Krum; with seed 4, 0.061 and
 * 0.132 above them. What Krum guarantees is that it never adopts a crafted update, and that is
 * checked directly from the weights, against a clean Krum run.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../coordinator/index.js';
import type { SimulationSummary } from '../../cli/simulate/summary.js';
import { runMedley } from '../helpers/cli-run.js';

const SITES = 10;
const ROUNDS = 12;
const FACTOR = 10;
const MARGIN = 0.02;
const FEDERATION = ['simulate', '--transport', 'inproc', '--sites', String(SITES), '--rounds', String(ROUNDS), '--count', '64',
  '--batch-size', '8', '--epochs', '1', '--partition', 'iid', '--seed', '3', '--json'];
const ATTACK = ['--attack', 'scale=1,sign-flip=1,random=1', '--attack-factor', String(FACTOR)];

interface Arm {
  strategy: string[];
  attacked: boolean;
}

const ARMS = {
  clean: { strategy: ['--strategy', 'fedavg'], attacked: false },
  fedavg: { strategy: ['--strategy', 'fedavg'], attacked: true },
  median: { strategy: ['--strategy', 'fedmedian'], attacked: true },
  // floor(0.3 x 10) = 3 updates cut from each side of every coordinate: as many as there are attackers.
  trimmed: { strategy: ['--strategy', 'trimmed-mean', '--strategy-param', 'trim=0.3'], attacked: true },
  krum: { strategy: ['--strategy', 'krum', '--strategy-param', 'f=3'], attacked: true },
  krumClean: { strategy: ['--strategy', 'krum', '--strategy-param', 'f=3'], attacked: false },
  // Bulyan's guarantee needs n >= 4f + 3, so 10 sites allow f = 1 only: the other two attackers are
  // beyond what it promises to tolerate, and this arm shows what it does with them regardless.
  bulyan: { strategy: ['--strategy', 'bulyan', '--strategy-param', 'f=1'], attacked: true },
} satisfies Record<string, Arm>;
type ArmName = keyof typeof ARMS;

interface Outcome {
  summary: SimulationSummary;
  out: string;
}

const outcomes = new Map<ArmName, Outcome>();

async function runArm(root: string, name: ArmName): Promise<Outcome> {
  const arm: Arm = ARMS[name];
  const out = join(root, name);
  const run = await runMedley([...FEDERATION, ...arm.strategy, ...(arm.attacked ? ATTACK : []), '--out', out], {}, 600_000);
  expect(run.code, `${name}: ${run.stderr}`).toBe(0);
  const summary = JSON.parse(run.stdout) as SimulationSummary;
  // Every round closed with all 10 updates: nothing was refused, so the attackers took part throughout.
  expect(summary.rounds.map((r) => [r.state, r.sites])).toEqual(Array.from({ length: ROUNDS }, () => ['closed', SITES]));
  expect(summary.attackers.map((a) => a.kind)).toEqual(arm.attacked ? ['scale', 'sign-flip', 'random'] : []);
  return { summary, out };
}

function finalAuroc(name: ArmName): number {
  const auroc = outcomes.get(name)!.summary.rounds.at(-1)!.metrics.auroc;
  expect(Number.isFinite(auroc), `${name}: final AUROC ${auroc}`).toBe(true);
  return auroc!;
}

/** Euclidean norm of each round's change to the global model (version v+1 minus version v). */
async function stepNorms(name: ArmName): Promise<number[]> {
  const store = await ModelStore.open(join(outcomes.get(name)!.out, 'state'));
  const load = async (v: number) => {
    const bytes = await readFile(store.weightsPath(v));
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  };
  const norms: number[] = [];
  let previous = await load(1);
  for (let v = 2; v <= ROUNDS + 1; v++) {
    const next = await load(v);
    let squares = 0;
    for (let i = 0; i < next.length; i++) squares += (next[i]! - previous[i]!) ** 2;
    norms.push(Math.sqrt(squares));
    previous = next;
  }
  return norms;
}

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'medley-byzantine-'));
  // Each run trains on one thread, so two at a time use both cores of the CI machine.
  const queue = Object.keys(ARMS) as ArmName[];
  const worker = async () => {
    for (let name = queue.shift(); name; name = queue.shift()) outcomes.set(name, await runArm(root, name));
  };
  await Promise.all([worker(), worker()]);
}, 1_200_000);

describe('Byzantine sites: 3 of 10 send scaled, sign-flipped and random updates', () => {
  it('the clean run learns, so that a 0.02 difference in AUROC means something', () => {
    // Measured 0.81 (chance is 0.5; round 1 ends at 0.65).
    expect(finalAuroc('clean')).toBeGreaterThan(0.7);
  });

  it('FedAvg under attack ends more than 0.02 below the clean run', () => {
    // Measured: the model diverges (its step per round grows from 8 to 287 in norm) and ends giving
    // every held-out image the same score (AUROC 0.5).
    expect(finalAuroc('fedavg')).toBeLessThan(finalAuroc('clean') - MARGIN);
  });

  it.each(['median', 'trimmed', 'bulyan'] as const)('%s under attack ends no more than 0.02 below the clean run', (name) => {
    expect(finalAuroc(name)).toBeGreaterThanOrEqual(finalAuroc('clean') - MARGIN);
  });

  it('Krum never adopts a crafted update, and ends more than 0.02 above FedAvg under the same attack', async () => {
    // Krum's global step is one site's whole update. An honest one is about the size of the step
    // clean Krum takes in the same round (measured ratios 0.77-1.23); a crafted one is 10x its
    // sender's honest update (scale and sign-flip exactly, random in RMS). sqrt(10), midway between
    // the two on a log scale, tells them apart.
    const [attacked, clean] = await Promise.all([stepNorms('krum'), stepNorms('krumClean')]);
    const ratios = attacked.map((a, round) => a / clean[round]!);
    for (const ratio of ratios) {
      expect(ratio, `step norm ratios ${ratios.map((r) => r.toFixed(2)).join(' ')}`).toBeLessThan(Math.sqrt(FACTOR));
      expect(ratio).toBeGreaterThan(1 / Math.sqrt(FACTOR));
    }
    expect(finalAuroc('krum')).toBeGreaterThan(finalAuroc('fedavg') + MARGIN);
  });
});
