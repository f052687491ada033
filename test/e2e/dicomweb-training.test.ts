import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import { adminKeyPath, coordinatorKeyPath } from '../../coordinator/store/index.js';
import { Random } from '../../shared/data/index.js';
import { readAdminKeyFile } from '../../shared/crypto/index.js';
import { anyExited, runMedley, until } from '../helpers/cli-run.js';
import { testUid, writeInstance } from '../helpers/dicomweb-fixtures.js';
import { startOrthanc, type Orthanc } from '../helpers/orthanc.js';
import { medley, serveCoordinator, stop, type Proc } from '../helpers/processes.js';

/**
 * A hospital whose images live only in its PACS: a real Orthanc (DICOMweb plugin, basic auth)
 * holds the studies, a labels CSV names the instances by SOPInstanceUID, and `medley agent run
 * --data dicomweb:URL --labels CSV` trains a federated round from it as a separate process. Then
 * the PACS goes down and the restarted agent trains the next round from its cache alone.
 */
const RUN = 51;
const USER = 'medley-agent';
const PASSWORD = 'pacs-pw-31d7';
const SIZE = 32;
const STUDIES = 20; // two instances each, both with the study's label
const VAL_STUDIES = new Set([3, 8, 13, 18]); // marked `val` in the CSV, so the counts are exact

const procs: Proc[] = [];
let orthanc: Orthanc | undefined;
afterEach(async () => {
  await stop(...procs.splice(0));
});
afterAll(async () => {
  await orthanc?.stop();
  delete process.env.MEDLEY_DICOMWEB_USER;
  delete process.env.MEDLEY_DICOMWEB_PASSWORD;
});

/** A 12-bit image: noise, plus a bright disc in the middle for class 1. */
function pixels(label: number, rng: Random): Uint16Array {
  const out = new Uint16Array(SIZE * SIZE);
  for (let r = 0; r < SIZE; r++) {
    for (let c = 0; c < SIZE; c++) {
      const inDisc = (r - SIZE / 2) ** 2 + (c - SIZE / 2) ** 2 < 8 ** 2;
      out[r * SIZE + c] = Math.round(400 + rng.next() * 300 + (label === 1 && inDisc ? 2500 : 0));
    }
  }
  return out;
}

describe('an agent trains from a DICOMweb PACS (real Orthanc)', () => {
  it('fetches exactly the CSV-listed instances, trains a round, and trains the next one from its cache with the PACS down', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medley-e2e-dicomweb-'));
    orthanc = await startOrthanc({ users: { [USER]: PASSWORD } });

    // The PACS: 20 studies of 2 instances, plus one study the CSV does not list.
    const rng = new Random(RUN);
    const rows = ['SOPInstanceUID,label,split,sex'];
    let n = 0;
    for (let s = 1; s <= STUDIES + 1; s++) {
      const label = s % 2;
      for (let i = 0; i < 2; i++) {
        const sop = testUid(RUN, 3, ++n);
        await orthanc.upload(writeInstance({ study: testUid(RUN, 1, s), series: testUid(RUN, 2, s), sop, instanceNumber: i + 1, rows: SIZE, columns: SIZE, pixels: pixels(label, rng) }));
        if (s <= STUDIES) rows.push(`${sop},${label},${VAL_STUDIES.has(s) ? 'val' : ''},${s % 3 === 0 ? 'F' : 'M'}`);
      }
    }
    const labels = join(root, 'labels.csv');
    await writeFile(labels, `${rows.join('\n')}\n`);
    const listed = STUDIES * 2;
    const valCount = VAL_STUDIES.size * 2;

    // The federation, made and run the way an operator does it.
    const state = join(root, 'state');
    const key = join(root, 'keys', 'pacs-site.key');
    const generated = await runMedley(['keys', 'generate', '--out', key]);
    expect(generated.code, generated.stderr).toBe(0);
    const init = await runMedley(['coordinator', 'init', '--dir', state, '--federation', 'pacs', '--site', `pacs-site=${key}.pub`, '--model', 'cnn-small', '--input', '28x28x1', '--classes', '2']);
    expect(init.code, init.stderr).toBe(0);
    const { proc: coordinator, address } = await serveCoordinator(state);
    procs.push(coordinator);

    // Credentials reach the agent the way a site would give them: in its environment.
    process.env.MEDLEY_DICOMWEB_USER = USER;
    process.env.MEDLEY_DICOMWEB_PASSWORD = PASSWORD;
    const agentDir = join(root, 'agent');
    const startAgent = () => {
      const agent = medley([
        'agent', 'run', '--coordinator', address, '--name', 'pacs-site', '--identity', key,
        '--coordinator-key', `${coordinatorKeyPath(state)}.pub`, '--state', agentDir,
        '--data', `dicomweb:${orthanc!.dicomweb}`, '--labels', labels, '--trainer', 'tfjs',
      ]);
      procs.push(agent);
      return agent;
    };
    const admin = new AdminClient(address, readAdminKeyFile(adminKeyPath(state)));
    const connected = (agent: Proc) =>
      until('the agent to load its data and connect', async () => ((await admin.status()).sites[0]?.connected ? true : undefined), 90_000, anyExited(agent, coordinator)).catch((err: Error) => {
        throw new Error(`${err.message}\n${agent.output()}\n---\n${coordinator.output()}`);
      });
    const round = async (agent: Proc) => {
      const started = await admin.startRounds({ rounds: 1, minSites: 1, maxSites: 0, epochs: 2, batchSize: 8, learningRate: 0.003, deadlineSeconds: 120, waitSeconds: 30, seed: 1 });
      await admin.watch(started.firstRound, () => undefined);
      const record = (await admin.status()).rounds.find((r) => r.round === started.firstRound)!;
      expect([record.state, record.reports.length], agent.output()).toEqual(['closed', 1]);
      return record;
    };

    try {
      // Round 1: everything comes from the PACS.
      const first = startAgent();
      await connected(first);
      expect(first.output()).toMatch(new RegExp(`dicomweb ${orthanc.dicomweb}: ${listed} instance\\(s\\) ready \\(0 from the cache, ${listed} fetched\\), 0 skipped`));
      expect(first.output()).toMatch(new RegExp(`${listed - valCount} training, ${valCount} validation images`));
      const r1 = await round(first);
      expect(r1.reports[0]!.examples).toBe(listed - valCount);
      expect((await admin.status()).modelVersion).toBe(2);
      expect(first.output()).not.toContain(PASSWORD);

      // Only the listed instances were fetched: one cached file per CSV row, none for the unlisted study.
      const cacheDir = join(agentDir, 'data-cache', 'dicomweb', 'instances');
      const cached = (await readdir(cacheDir, { recursive: true })).filter((f) => f.endsWith('.dcm'));
      expect(cached).toHaveLength(listed);
      expect(cached.some((f) => f.includes(testUid(RUN, 3, n)))).toBe(false);

      // Round 2: the PACS is down; the restarted agent trains from its cache without asking it anything.
      await stop(first);
      await orthanc.stop();
      const second = startAgent();
      await connected(second);
      expect(second.output()).toMatch(new RegExp(`${listed} instance\\(s\\) ready \\(${listed} from the cache, 0 fetched\\), 0 skipped`));
      const r2 = await round(second);
      expect(r2.reports[0]!.examples).toBe(listed - valCount);
      expect((await admin.status()).modelVersion).toBe(3);
    } finally {
      admin.close();
    }
  });
});
