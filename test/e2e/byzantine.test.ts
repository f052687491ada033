/**
 * Issue 7's robustness claim: 10 sites, 3 of which send crafted updates (one scaled, one
 * sign-flipped, one random, each 10x an honest update), and the robust strategies keep the global
 * model's held-out AUROC within 0.02 of the clean run while FedAvg does not.
 *
 * Every arm is the same federation (seed, synthetic data, cnn-small, 12 rounds of one local epoch
 * over 64 images per site in batches of 8) through `medley simulate --transport inproc`; only the
 * strategy and the presence of the attackers change. Runs are deterministic for a given seed.
 *
 * AUROC is measured here, on the final model, over 4,000 held-out images drawn like the
 * coordinator's (balanced, scanners of sites 1-4) from a stream of their own: the coordinator's
 * 500 images give an AUROC near 0.8 a standard error of about 0.02 (Hanley-McNeil), as large as the
 * margin under test; 4,000 bring it to about 0.007.
 *
 * What "the clean run" is. Byzantine robustness (Blanchard et al. 2017, and the literature after)
 * asks that the aggregate follow what the honest sites compute, whatever the others send. Two runs
 * can stand for "no attack": the same 10 sites all honest, or the 7 honest sites alone.
 * - Median, trimmed mean and Bulyan are held to the stricter of the two: FedAvg over all 10 sites
 *   honest, under attack no more than 0.02 below it (one-sided: ending above it is no failure of
 *   robustness, and they do, because with the attackers ignored the model learns from the 7
 *   honest sites, whose fit to the held-out scanners differs from the 10 sites').
 * - Krum's output is by design one site's whole update, so its clean run is Krum over the honest
 *   sites: the 7 of them alone, scored over the same 5 nearest neighbours (n - f - 2 = 10 - 3 - 2
 *   under attack; 7 - 0 - 2 alone). Under attack it must end with exactly that run's model, every
 *   round (so within 0.02 of it, at 0). That also shows it never adopted a crafted update.
 *   Against FedAvg over 10 honest sites Krum is NOT held to 0.02, and the reason is Krum, not the
 *   attack: taking one site's update instead of a mean makes its AUROC swing by 0.05-0.15 between
 *   rounds with no attacker at all (clean Krum, seed 3, coordinator's images: 0.69 at round 9, 0.83
 *   at round 10), so where its last pick lands decides that comparison. Final AUROC on the 4,000
 *   images, seeds 3 / 4 / 5 (seed 3 is this test's; 4 and 5 run by hand with the same flags):
 *     clean FedAvg 0.826 / 0.808 / 0.795      FedAvg under attack 0.500 / 0.500 / 0.500
 *     median       0.881 / 0.845 / 0.885      trimmed mean        0.884 / 0.852 / 0.879
 *     Bulyan       0.851 / 0.842 / 0.866      Krum, 7 honest only 0.768 / 0.863 / 0.757
 *     Krum under attack 0.768 / 0.863 / 0.757 (identical to the line before, every version)
 *     clean Krum, 10 honest sites 0.839 / 0.735 / 0.745
 *   Krum under attack is 0.058 below, 0.055 above and 0.038 below clean FedAvg, and 0.071 below,
 *   0.128 above and 0.012 above clean Krum: the spread of clean Krum itself. Tried against this
 *   budget (seed 3, coordinator's images): 12 rounds of 256 images per site in batches of 32 (2.6x
 *   the CPU) narrows the swings (clean Krum 0.89-0.93 over rounds 9-12, clean FedAvg ends 0.885)
 *   without removing them; 8 rounds of 128 in batches of 16 (the same CPU) does not (clean Krum
 *   0.70 -> 0.83 -> 0.81 over rounds 6-8, clean FedAvg ends 0.810).
 *   Learning-rate schedules over the rounds (`--lr-schedule`, built for this) do not remove it
 *   either: with cosine:0.02 from lr 0.01 Krum over the 7 honest sites is within 0.02 of both
 *   clean runs on seed 3 only (seeds 4 / 5: -0.051 / -0.045 from clean Krum). Why: most of the
 *   late swing is in the batch-norm moving statistics, which no learning rate damps. Swapping them
 *   between consecutive versions of a run at lr 0.0006-0.0002 moves AUROC 0.733 <-> 0.826 and
 *   0.834 <-> 0.762 with the weights held fixed: Krum adopts one site's statistics whole every
 *   round (momentum 0.9 over 8 batches moves them 57% of the way to that site's scanner).
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../coordinator/index.js';
import type { SimulationSummary } from '../../cli/simulate/summary.js';
import { hashSeed, loadHeldOut, type ImageSet } from '../../shared/data/index.js';
import { evaluateTask, modelFromTopologyJson, selectBackend, writeFlatWeights } from '../../shared/model/index.js';
import { runMedley } from '../helpers/cli-run.js';

const SITES = 10;
const HONEST = 7;
const ROUNDS = 12;
const SEED = 3;
const FACTOR = 10;
const MARGIN = 0.02;
const HELD_OUT = 4000;
const FEDERATION = ['simulate', '--transport', 'inproc', '--rounds', String(ROUNDS), '--count', '64',
  '--batch-size', '8', '--epochs', '1', '--partition', 'iid', '--seed', String(SEED), '--json'];
// The last site of each kind attacks (sites 8, 9 and 10), so sites 1-7 are the honest ones.
const ATTACK = ['--attack', 'scale=1,sign-flip=1,random=1', '--attack-factor', String(FACTOR)];

interface Arm {
  sites: number;
  strategy: string[];
  attacked: boolean;
}

const ARMS = {
  clean: { sites: SITES, strategy: ['--strategy', 'fedavg'], attacked: false },
  fedavg: { sites: SITES, strategy: ['--strategy', 'fedavg'], attacked: true },
  median: { sites: SITES, strategy: ['--strategy', 'fedmedian'], attacked: true },
  // floor(0.3 x 10) = 3 updates cut from each side of every coordinate: as many as there are attackers.
  trimmed: { sites: SITES, strategy: ['--strategy', 'trimmed-mean', '--strategy-param', 'trim=0.3'], attacked: true },
  krum: { sites: SITES, strategy: ['--strategy', 'krum', '--strategy-param', 'f=3'], attacked: true },
  // Sites 1-7 of a 7-site federation hold the same data and get the same tasks as sites 1-7 of the
  // 10-site one (both follow the site index, the seed and the round). f = 0 keeps Krum's score a sum
  // over 5 nearest neighbours, as with f = 3 among 10.
  krumHonest: { sites: HONEST, strategy: ['--strategy', 'krum', '--strategy-param', 'f=0'], attacked: false },
  // Bulyan's guarantee needs n >= 4f + 3, so 10 sites allow f = 1 only: the other two attackers are
  // beyond what it promises to tolerate, and this arm shows what it does with them regardless.
  bulyan: { sites: SITES, strategy: ['--strategy', 'bulyan', '--strategy-param', 'f=1'], attacked: true },
} satisfies Record<string, Arm>;
type ArmName = keyof typeof ARMS;

interface Outcome {
  summary: SimulationSummary;
  out: string;
}

const outcomes = new Map<ArmName, Outcome>();
const aurocs = new Map<ArmName, number>();

async function runArm(root: string, name: ArmName): Promise<Outcome> {
  const arm: Arm = ARMS[name];
  const out = join(root, name);
  const run = await runMedley([...FEDERATION, '--sites', String(arm.sites), ...arm.strategy, ...(arm.attacked ? ATTACK : []), '--out', out], {}, 600_000);
  expect(run.code, `${name}: ${run.stderr}`).toBe(0);
  const summary = JSON.parse(run.stdout) as SimulationSummary;
  // Every round closed with every site's update: nothing was refused, so the attackers took part throughout.
  expect(summary.rounds.map((r) => [r.state, r.sites])).toEqual(Array.from({ length: ROUNDS }, () => ['closed', arm.sites]));
  expect(summary.attackers.map((a) => a.kind)).toEqual(arm.attacked ? ['scale', 'sign-flip', 'random'] : []);
  return { summary, out };
}

/** The AUROC of an arm's final model on the large held-out set. */
async function heldOutAuroc(name: ArmName, heldOut: ImageSet): Promise<number> {
  const store = await ModelStore.open(join(outcomes.get(name)!.out, 'state'));
  const manifest = await store.manifest(store.latest);
  expect(manifest.version).toBe(ROUNDS + 1);
  const bytes = await readFile(store.weightsPath(manifest.version));
  const net = await modelFromTopologyJson(manifest.topology);
  try {
    writeFlatWeights(net, manifest.tensors, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    const { auroc } = await evaluateTask(net, heldOut, 'classification');
    expect(Number.isFinite(auroc), `${name}: AUROC ${auroc}`).toBe(true);
    return auroc!;
  } finally {
    net.dispose();
  }
}

/** sha256 of every global model version of an arm's run, from the initial one on. */
async function versionDigests(name: ArmName): Promise<string[]> {
  const store = await ModelStore.open(join(outcomes.get(name)!.out, 'state'));
  const digests: string[] = [];
  for (let v = 1; v <= store.latest; v++) digests.push((await store.manifest(v)).sha256);
  return digests;
}

function auroc(name: ArmName): number {
  return aurocs.get(name)!;
}

beforeAll(async () => {
  const root = await mkdtemp(join(tmpdir(), 'medley-byzantine-'));
  // Each run trains on one thread, so two at a time use both cores of the CI machine.
  const queue = Object.keys(ARMS) as ArmName[];
  const worker = async () => {
    for (let name = queue.shift(); name; name = queue.shift()) outcomes.set(name, await runArm(root, name));
  };
  await Promise.all([worker(), worker()]);
  await selectBackend();
  // Its own seed stream: none of these images is one the coordinator scored or a site trained on.
  const heldOut = loadHeldOut({ source: 'synthetic', seed: hashSeed(SEED, 0xe7a1), count: HELD_OUT });
  for (const name of Object.keys(ARMS) as ArmName[]) aurocs.set(name, await heldOutAuroc(name, heldOut));
  // The figures behind the assertions, for whoever reads the CI log.
  console.log(`held-out AUROC (${HELD_OUT} images): ${[...aurocs].map(([name, value]) => `${name} ${value.toFixed(3)}`).join(', ')}`);
}, 1_200_000);

describe('Byzantine sites: 3 of 10 send scaled, sign-flipped and random updates', () => {
  it('the clean run learns, so that a 0.02 difference in AUROC means something', () => {
    // Measured 0.8 (chance is 0.5; round 1 ends at 0.65 on the coordinator's held-out images).
    expect(auroc('clean')).toBeGreaterThan(0.7);
  });

  it('FedAvg under attack ends more than 0.02 below the clean run', () => {
    // Measured: the model diverges and ends giving every held-out image the same score (AUROC 0.5).
    expect(auroc('fedavg')).toBeLessThan(auroc('clean') - MARGIN);
  });

  it.each(['median', 'trimmed', 'bulyan'] as const)('%s under attack ends no more than 0.02 below the clean run', (name) => {
    expect(auroc(name)).toBeGreaterThanOrEqual(auroc('clean') - MARGIN);
  });

  it('Krum under attack makes, round by round, the very model Krum makes from the 7 honest sites alone', async () => {
    const [attacked, honest] = await Promise.all([versionDigests('krum'), versionDigests('krumHonest')]);
    expect(attacked).toHaveLength(ROUNDS + 1);
    // Each round's new version is one honest site's update added to the same base: the crafted
    // updates were never adopted, and did not even change which honest update was.
    // Identical weights: the same AUROC, so within 0.02 of that clean run at a difference of 0.
    expect(attacked).toEqual(honest);
  });

  it('Krum under attack ends more than 0.02 above FedAvg under the same attack', () => {
    expect(auroc('krum')).toBeGreaterThan(auroc('fedavg') + MARGIN);
  });
});
