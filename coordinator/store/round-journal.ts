import { open, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { RoundRecord } from '../../shared/wire/index.js';

export type JournalEvent = 'open' | 'closed' | 'failed' | 'aborted';

export interface JournalEntry {
  at: string;
  event: JournalEvent;
  record: RoundRecord;
}

/**
 * The round journal: one JSON line per state change of a round, fsynced before the change is
 * acted on. The last entry of each round is its state. A torn last line (a crash mid-append) is
 * cut off at open; it was never acknowledged to anyone.
 */
export class RoundJournal {
  private readonly rounds = new Map<number, RoundRecord>();

  private constructor(private readonly path: string, public readonly warnings: string[]) {}

  static async open(stateDir: string): Promise<RoundJournal> {
    const path = join(stateDir, 'journal.jsonl');
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const journal = new RoundJournal(path, []);
    let goodBytes = 0;
    let lineNo = 0;
    for (const line of text.split('\n')) {
      lineNo++;
      const lineBytes = Buffer.byteLength(line) + 1;
      if (line.trim() === '') {
        goodBytes += lineBytes;
        continue;
      }
      try {
        const entry = JSON.parse(line) as JournalEntry;
        if (typeof entry.record?.round !== 'number') throw new Error('no round number');
        journal.rounds.set(entry.record.round, entry.record);
        goodBytes += lineBytes;
      } catch {
        journal.warnings.push(`journal ${path} line ${lineNo} is torn or corrupt; it and anything after it were dropped`);
        await truncate(path, goodBytes);
        break;
      }
    }
    return journal;
  }

  async append(event: JournalEvent, record: RoundRecord): Promise<void> {
    const entry: JournalEntry = { at: new Date().toISOString(), event, record };
    const handle = await open(this.path, 'a', 0o644);
    try {
      await handle.write(JSON.stringify(entry) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.rounds.set(record.round, structuredClone(record));
  }

  all(): RoundRecord[] {
    return [...this.rounds.values()].sort((a, b) => a.round - b.round);
  }

  get lastRound(): number {
    let last = 0;
    for (const round of this.rounds.keys()) last = Math.max(last, round);
    return last;
  }

  /** Rounds left open by a previous process: they can no longer finish (their sum lived in memory). */
  unfinished(): RoundRecord[] {
    return this.all().filter((r) => r.state === 'open');
  }
}
