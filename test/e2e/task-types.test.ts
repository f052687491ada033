import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { ModelStore, RoundJournal } from '../../coordinator/index.js';
import { adminKeyPath } from '../../coordinator/store/index.js';
import { formatPublicKey, generateIdentity, readAdminKeyFile, writeIdentityFile } from '../../shared/crypto/index.js';
import { runMedley } from '../helpers/cli-run.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';
import { agentKeyArgs, siteKeyPath } from '../helpers/state.js';

const procs: Proc[] = [];
afterEach(async () => {
  await stop(...procs.splice(0));
});

const SITES = ['north', 'south'];

/**
 * `medley coordinator init` with a zoo image-to-image model, `coordinator serve`, and two
 * `medley agent run` processes training on generated data over real gRPC: one round, whose
 * journal record must carry each site's task metrics.
 */
async function oneRound(init: string[], data: string): Promise<{ metrics: Record<string, number>[]; spec: Record<string, unknown> }> {
  const state = join(await mkdtemp(join(tmpdir(), 'medley-task-')), 'state');
  const siteFlags: string[] = [];
  for (const name of SITES) {
    const identity = await generateIdentity(name);
    await writeIdentityFile(siteKeyPath(state, name), identity);
    siteFlags.push('--site', `${name}=${formatPublicKey(identity.signPublicKey)}`);
  }
  const made = await runMedley(['coordinator', 'init', '--dir', state, '--federation', 'tasks', ...siteFlags, ...init]);
  expect(made.code, made.stderr).toBe(0);
  const { proc, address } = await serveCoordinator(state);
  procs.push(proc);
  SITES.forEach((site, i) => {
    procs.push(medley(['agent', 'run', '--coordinator', address, '--name', site, ...agentKeyArgs(state, site),
      '--data', data, '--size', '16', '--count', '16', '--shard', `${i + 1}/${SITES.length}`, '--seed', '3']));
  });
  const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
  try {
    for (;;) {
      const status = await admin.status();
      if (status.sites.filter((s) => s.connected).length === SITES.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const started = await admin.startRounds({ rounds: 1, minSites: 2, maxSites: 0, epochs: 1, batchSize: 8, learningRate: 0.003, deadlineSeconds: 120, waitSeconds: 60, seed: 1 });
    const kinds: string[] = [];
    await admin.watch(started.firstRound, (e) => kinds.push(e.kind));
    expect(kinds, procs.map((p) => p.output()).join('\n')).toContain('round-closed');
  } finally {
    admin.close();
  }
  const journal = await RoundJournal.open(state);
  const [record] = journal.recent();
  expect(record!.state).toBe('closed');
  expect(record!.modelVersion).toBe(2);
  expect(record!.reports.map((r) => r.site).sort()).toEqual(SITES);
  const spec = (await (await ModelStore.open(state)).manifest(2)).spec;
  return { metrics: record!.reports.map((r) => r.metrics), spec };
}

describe('task types in a real federation (coordinator + 2 agents over gRPC, from the CLI)', () => {
  it('segmentation: a U-Net round on synthetic-blobs; every site reports validation Dice and IoU', async () => {
    const { metrics, spec } = await oneRound(['--model', 'unet', '--input', '16x16x1', '--depth', '2', '--filters', '4'], 'synthetic-blobs');
    expect(spec).toMatchObject({ arch: 'unet', task: 'segmentation', depth: 2, filters: 4, up: 'upsample', inputShape: [16, 16, 1] });
    for (const m of metrics) {
      expect(Object.keys(m).sort()).toEqual(['dice', 'iou']);
      expect(m.dice).toBeGreaterThanOrEqual(0);
      expect(m.dice).toBeLessThanOrEqual(1);
      expect(m.iou).toBeLessThanOrEqual(m.dice!);
    }
  });

  it('denoising: a DnCNN round on synthetic-noise (L1); every site reports validation PSNR and SSIM', async () => {
    const { metrics, spec } = await oneRound(['--model', 'dncnn', '--input', '16x16x1', '--depth', '4', '--filters', '8', '--loss', 'l1'], 'synthetic-noise');
    expect(spec).toMatchObject({ arch: 'dncnn', task: 'denoising', depth: 4, filters: 8, loss: 'l1' });
    for (const m of metrics) {
      expect(Object.keys(m).sort()).toEqual(['psnr', 'psnrInput', 'ssim']);
      expect(m.psnr).toBeGreaterThan(10);
      expect(m.ssim).toBeGreaterThan(0);
      expect(m.ssim).toBeLessThanOrEqual(1);
    }
  });
});
