import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Progress, RoundEvent, RoundRecord } from '../../shared/wire/index.js';
import { RoundProgress } from './round-progress.js';

function terminal(isTTY: boolean): { out: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  Object.assign(stream, { isTTY, columns: 120 });
  return { out: stream as unknown as NodeJS.WriteStream, text: () => text };
}

const record = { round: 1, selected: ['north', 'south'], startedUnixMs: 1000, closedUnixMs: 3500, metrics: {} } as unknown as RoundRecord;

function progress(site: string, fields: Partial<Progress>): RoundEvent {
  const p: Progress = { taskId: 't', round: 1, phase: 'training', epoch: 0, epochs: 2, bytes: 0, totalBytes: 0, loss: 0, message: '', ...fields };
  return { kind: 'progress', round: 1, site, message: p.message, progress: p, unixMs: 0 };
}

const run: RoundEvent[] = [
  { kind: 'round-started', round: 1, site: '', message: 'round 1: 2 sites', record, unixMs: 0 },
  progress('north', { phase: 'downloading', bytes: 2048, totalBytes: 4096 }),
  progress('north', { phase: 'training', epoch: 1 }),
  progress('south', { phase: 'uploading', bytes: 3072, totalBytes: 4096 }),
];

describe('RoundProgress', () => {
  it('prints a plain line per change when stderr is not a terminal', () => {
    const { out, text } = terminal(false);
    const display = new RoundProgress(1, 1, out);
    for (const e of run) display.handle(e);
    display.handle({ kind: 'round-closed', round: 1, site: '', message: 'round 1 closed: 2 updates', record, unixMs: 0 });
    display.stop();
    expect(text().split('\n')).toEqual([
      'round 1 (1/1) started: round 1: 2 sites',
      '  north: downloading 2.0 KiB/4.0 KiB',
      '  north: training epoch 1/2',
      '  south: uploading 3.0 KiB/4.0 KiB',
      'round 1 closed in 2.5s: round 1 closed: 2 updates',
      '',
    ]);
  });

  it('on a terminal, draws a bar per site: epochs while training, bytes while moving', () => {
    const { out, text } = terminal(true);
    const display = new RoundProgress(1, 1, out);
    for (const e of run) display.handle(e);
    display.stop();
    // The last frame cli-progress drew, without its cursor movements.
    const frame = text().replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
    expect(frame).toMatch(/north\s+\|[█░]+\| epoch 1\/2/);
    expect(frame).toMatch(/south\s+\|[█░]+\| uploading 3\.0 KiB\/4\.0 KiB/);
    expect(frame).toMatch(/rounds\s+\|[█░]+\| 0\/1 round 1: 0\/2 sites done/);
  });
});
