import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunRecordFile, type ActiveRun } from './run-record.js';

const run: ActiveRun = {
  formatVersion: 1,
  request: { rounds: 3, minSites: 2, maxSites: 0, epochs: 1, batchSize: 8, learningRate: 0.01, deadlineSeconds: 60, waitSeconds: 30, seed: 4, strategy: 'fedadam', strategyParams: { eta: 0.02 } },
  startedAt: '2026-01-01T00:00:00.000Z',
  firstRound: 5,
  roundsLeft: 3,
  countedThrough: 0,
  resumes: 0,
};

describe('RunRecordFile', () => {
  it('keeps the run in progress across processes and forgets it when cleared', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-run-'));
    const file = new RunRecordFile(dir);
    expect(await file.read()).toBeNull();
    file.begin(run);
    expect(await new RunRecordFile(dir).read()).toEqual(run);
    await file.update({ ...run, roundsLeft: 1, countedThrough: 6 });
    expect(await new RunRecordFile(dir).read()).toMatchObject({ roundsLeft: 1, countedThrough: 6, request: { strategy: 'fedadam', strategyParams: { eta: 0.02 } } });
    await file.clear();
    expect(await file.read()).toBeNull();
  });

  it('sweeps the temporary file of an interrupted write and keeps the last complete record', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-run-'));
    const file = new RunRecordFile(dir);
    file.begin(run);
    await writeFile(join(dir, '.run.json.tmp-999-abcd'), '{"formatVersion": 1, "req');
    expect(await file.read()).toEqual(run);
    expect((await readdir(dir)).sort()).toEqual(['run.json']);
  });

  it('names a damaged record and what to do about it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-run-'));
    await writeFile(join(dir, 'run.json'), '{"formatVersion": 2}');
    await expect(new RunRecordFile(dir).read()).rejects.toThrow(/run\.json \(the run in progress\) is unreadable .*delete it to drop the interrupted run/);
  });
});
