import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import { anyExited, runMedley, until } from '../helpers/cli-run.js';
import { dicomFile } from '../helpers/dicom-files.js';
import { PYDICOM_TEST_FILES } from '../helpers/pydicom.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';

const procs: Proc[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await stop(...procs.splice(0));
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const SIDE = 16;
const STUDIES = 6;
const PER_STUDY = 3;

/** Class 1 images are bright at the top, class 0 at the bottom; signed CT-like values with a rescale. */
function cells(label: number, k: number): number[] {
  return Array.from({ length: SIDE * SIDE }, (_, i) => ((i < (SIDE * SIDE) / 2) === (label === 1) ? 700 : -300) + ((i * 13 + k) % 50));
}

describe('an agent that trains from a DICOM folder', () => {
  it('reads dicom:DIR with labels from a CSV, skips what it cannot decode, and takes part in a round', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medley-dicom-agent-'));
    dirs.push(root);
    const data = join(root, 'pacs-export');
    await mkdir(join(data, 'series'), { recursive: true });
    const rows = ['SOPInstanceUID,label,sex'];
    for (let s = 0; s < STUDIES; s++) {
      for (let k = 0; k < PER_STUDY; k++) {
        const sop = `2.25.77${s}${k}`;
        const label = (s + k) % 2;
        await writeFile(join(data, 'series', `IM${s}${k}`), dicomFile({ sop, study: `2.25.66${s}`, rows: SIDE, columns: SIDE, bitsAllocated: 16, signed: true, cells: cells(label, k), slope: 1, intercept: -1024, modality: 'CT' }));
        rows.push(`${sop},${label},${k % 2 ? 'F' : 'M'}`);
      }
    }
    // What a real export folder also holds: a file the reader cannot decode and one that is not DICOM.
    await writeFile(join(data, 'JPEG-lossy.dcm'), await readFile(join(PYDICOM_TEST_FILES, 'JPEG-lossy.dcm')));
    await writeFile(join(data, 'DICOMDIR.txt'), 'index of the export\n');
    const labels = join(root, 'labels.csv');
    await writeFile(labels, rows.join('\n') + '\n');

    const key = join(root, 'keys', 'clinic.key');
    expect((await runMedley(['keys', 'generate', '--out', key])).code).toBe(0);
    const state = join(root, 'state');
    const init = await runMedley(['coordinator', 'init', '--dir', state, '--site', `clinic=${key}.pub`, '--model', 'cnn-small', '--input', `${SIDE}x${SIDE}x1`, '--classes', '2']);
    expect(init.code, init.stderr).toBe(0);
    const { proc: coordinator, address } = await serveCoordinator(state);
    procs.push(coordinator);
    const agent = medley([
      'agent', 'run', '--coordinator', address, '--name', 'clinic', '--identity', key, '--coordinator-key', `${coordinatorKeyPath(state)}.pub`,
      '--state', join(root, 'agent'), '--data', `dicom:${data}`, '--labels', labels, '--size', String(SIDE), '--window', '40,400', '--seed', '2',
    ]);
    procs.push(agent);

    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    try {
      await until('the agent to connect', async () => ((await admin.status()).sites[0]?.connected ? true : undefined), 90_000, anyExited(agent, coordinator));
      const run = await admin.startRounds({ rounds: 1, minSites: 1, maxSites: 0, epochs: 1, batchSize: 8, learningRate: 0.01, deadlineSeconds: 90, waitSeconds: 30, seed: 1 });
      await admin.watch(run.firstRound, () => undefined);
      const status = await admin.status();
      expect(status.modelVersion).toBe(2);
      // 18 labelled images; one study of 3 (round(18 * 0.2) = 4 -> two studies, 6) validates.
      expect(status.rounds.map((r) => [r.state, r.reports.length, r.examples])).toEqual([['closed', 1, 12]]);
    } finally {
      admin.close();
    }
    const log = agent.output();
    expect(log).toMatch(/data: skipped JPEG-lossy\.dcm: JPEG Extended compressed pixel data/);
    expect(log).toMatch(/data: skipped DICOMDIR\.txt: not a DICOM file/);
    expect(log).toMatch(/data: DICOM folder .*: 18 image\(s\) read, 2 skipped \(1 not a DICOM file, 1 JPEG Extended compressed pixel data\); 0 without a row/);
    expect(log).toMatch(/data: DICOM folder .*, site 1\/1 \(iid, seed 2\): 12 train \/ 6 val: 12 training, 6 validation images/);
  }, 240_000);
});
