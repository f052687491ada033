import { describe, expect, it } from 'vitest';
import type { Progress, RoundEvent, RoundRecord } from '../../shared/wire/index.js';
import { SimulationProgress } from './progress.js';

function progress(site: string, phase: string, bytes = 0, message = ''): RoundEvent {
  const p = { taskId: 't', round: 4, phase, epoch: 0, epochs: 1, bytes, totalBytes: bytes, loss: 0, message } as Progress;
  return { kind: 'progress', round: 4, site, message: '', progress: p, unixMs: 0 };
}

describe('SimulationProgress', () => {
  it('prints the round, sites done of N, bytes and seconds, at most once per interval and always at the end', () => {
    let now = 1_000;
    const lines: string[] = [];
    const view = new SimulationProgress(2, (l) => lines.push(l), 2000, () => now);
    view.handle({ kind: 'round-started', round: 4, site: '', message: '', record: { selected: ['a', 'b', 'c'] } as unknown as RoundRecord, unixMs: 0 });
    view.handle(progress('a', 'downloading', 1024 * 1024));
    view.handle(progress('a', 'uploading', 1024 * 1024));
    now += 500;
    view.handle(progress('a', 'done'));
    now += 2000;
    view.handle(progress('b', 'failed', 0, 'disk full'));
    view.handle(progress('c', 'done'));
    expect(lines).toEqual([
      'round 4 (1/2) started: 3 sites',
      '  b failed: disk full',
      'round 4 (1/2): 1/3 sites done, 1 failed, 2.0 MiB moved, 2.5 s',
      'round 4 (1/2): 2/3 sites done, 1 failed, 2.0 MiB moved, 2.5 s',
      '  1 site(s) failed: round 4 stays open until its deadline; their reasons are above and in the logs',
    ]);
    const record = { metrics: { auroc: 0.81234, accuracy: 0.7, loss: 0.5 }, closedUnixMs: 9_000, startedUnixMs: 1_000 } as unknown as RoundRecord;
    view.handle({ kind: 'round-closed', round: 4, site: '', message: 'round 4 closed: 2 updates', record, unixMs: 0 });
    expect(lines.at(-1)).toBe('round 4 closed in 8.0 s: round 4 closed: 2 updates | held-out AUROC 0.8123, accuracy 0.7000, loss 0.5000');
  });
});
