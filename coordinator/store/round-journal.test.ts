import { appendFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RoundRecord } from '../../shared/wire/index.js';
import { RoundJournal } from './round-journal.js';

function record(round: number, state: string): RoundRecord {
  return { round, state, baseVersion: round, modelVersion: 0, selected: ['a'], reports: [], examples: 0, startedUnixMs: 1, closedUnixMs: 0, bytesDown: 0, bytesUp: 0, metrics: {}, message: '' };
}

describe('RoundJournal', () => {
  it('keeps the last state of each round across reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-journal-'));
    const journal = await RoundJournal.open(dir);
    await journal.append('open', record(1, 'open'));
    await journal.append('closed', { ...record(1, 'closed'), modelVersion: 2 });
    await journal.append('open', record(2, 'open'));
    const again = await RoundJournal.open(dir);
    expect(again.all().map((r) => [r.round, r.state])).toEqual([[1, 'closed'], [2, 'open']]);
    expect(again.unfinished().map((r) => r.round)).toEqual([2]);
    expect(again.lastRound).toBe(2);
  });

  it('cuts a torn last line left by a crash and says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-journal-'));
    const journal = await RoundJournal.open(dir);
    await journal.append('closed', record(1, 'closed'));
    await appendFile(join(dir, 'journal.jsonl'), '{"at":"x","event":"open","rec');
    const again = await RoundJournal.open(dir);
    expect(again.warnings[0]).toMatch(/line 2 is torn or corrupt/);
    expect(again.all()).toHaveLength(1);
    await again.append('open', record(2, 'open'));
    const lines = (await readFile(join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).record.round)).toEqual([1, 2]);
  });
});
