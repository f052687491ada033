import { appendFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RoundRecord } from '../../shared/wire/index.js';
import { RECENT_ROUNDS, RoundJournal } from './round-journal.js';

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
    expect(again.recent().map((r) => [r.round, r.state])).toEqual([[1, 'closed'], [2, 'open']]);
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
    expect(again.recent()).toHaveLength(1);
    await again.append('open', record(2, 'open'));
    const lines = (await readFile(join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).record.round)).toEqual([1, 2]);
  });
});

describe('RoundJournal memory window', () => {
  it('keeps only the last RECENT_ROUNDS full records in memory and reads older ones from the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-journal-'));
    const journal = await RoundJournal.open(dir);
    const total = RECENT_ROUNDS + 30;
    for (let n = 1; n <= total; n++) {
      await journal.append('open', record(n, 'open'));
      await journal.append(n % 10 === 0 ? 'failed' : 'closed', { ...record(n, n % 10 === 0 ? 'failed' : 'closed'), message: `round ${n}` });
    }
    const recent = journal.recent();
    expect(recent).toHaveLength(RECENT_ROUNDS);
    expect(recent[0]!.round).toBe(31);
    expect(recent.at(-1)!.round).toBe(total);
    expect(journal.lastRound).toBe(total);
    // Counts cover every round, not only the window.
    expect(journal.countByState()).toEqual(new Map([['closed', total - 13], ['failed', 13]]));
    // Rounds out of the window come back from disk with their last state.
    const old = await journal.readRounds(5, 30);
    expect(old.map((r) => r.round)).toEqual(Array.from({ length: 30 }, (_, i) => 5 + i));
    expect(old.map((r) => r.state)).toEqual(old.map((r) => (r.round % 10 === 0 ? 'failed' : 'closed')));
    expect(old[0]!.message).toBe('round 5');
    // A range inside the window is served from memory, the same records.
    expect(await journal.readRounds(total - 2, 10)).toEqual(recent.slice(-3));
    expect(journal.roundsAfter(total - 15, ['failed'])).toEqual([total - 10, total]);
    const reopened = await RoundJournal.open(dir);
    expect(reopened.recent()).toEqual(recent);
    expect(reopened.countByState()).toEqual(journal.countByState());
  });

  it('never forgets a round that is still open, however old', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-journal-'));
    const journal = await RoundJournal.open(dir);
    await journal.append('open', record(1, 'open'));
    for (let n = 2; n <= RECENT_ROUNDS + 5; n++) await journal.append('closed', record(n, 'closed'));
    expect(journal.unfinished().map((r) => r.round)).toEqual([1]);
    const reopened = await RoundJournal.open(dir);
    expect(reopened.unfinished().map((r) => r.round)).toEqual([1]);
  });

  it('drops a last line that lost its newline, even when what is there parses', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medley-journal-'));
    const journal = await RoundJournal.open(dir);
    await journal.append('closed', record(1, 'closed'));
    await appendFile(join(dir, 'journal.jsonl'), JSON.stringify({ at: 'x', event: 'open', record: record(2, 'open') }));
    const again = await RoundJournal.open(dir);
    expect(again.warnings[0]).toMatch(/line 2 is torn or corrupt/);
    expect(again.lastRound).toBe(1);
    await again.append('open', record(2, 'open'));
    const lines = (await readFile(join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).record.round)).toEqual([1, 2]);
  });
});
