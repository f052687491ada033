import { describe, expect, it } from 'vitest';
import type { RoundEvent } from '../../shared/wire/index.js';
import { RoundEvents } from './round-events.js';

function progress(round: number, site: string): Omit<RoundEvent, 'unixMs'> {
  return { kind: 'progress', round, site, message: `${site} epoch`, record: null };
}

function kinds(events: RoundEvents, fromRound = 0): string[] {
  const seen: string[] = [];
  events.subscribe(fromRound, (e) => seen.push(`${e.round}:${e.kind}${e.site ? `:${e.site}` : ''}`))();
  return seen;
}

describe('RoundEvents history', () => {
  it('replays an open round whole, progress included, to a late watcher', () => {
    const events = new RoundEvents();
    events.publish({ kind: 'round-started', round: 1, site: '', message: '', record: null });
    events.publish(progress(1, 'a'));
    events.publish(progress(1, 'b'));
    expect(kinds(events)).toEqual(['1:round-started', '1:progress:a', '1:progress:b']);
  });

  it("drops a round's progress once the round closes or fails, and keeps what the round did", () => {
    const events = new RoundEvents();
    events.publish({ kind: 'round-started', round: 1, site: '', message: '', record: null });
    events.publish(progress(1, 'a'));
    events.publish({ kind: 'update-accepted', round: 1, site: '', message: '', record: null });
    events.publish({ kind: 'round-closed', round: 1, site: '', message: '', record: null });
    events.publish({ kind: 'round-started', round: 2, site: '', message: '', record: null });
    events.publish(progress(2, 'a'));
    expect(kinds(events)).toEqual(['1:round-started', '1:update-accepted', '1:round-closed', '2:round-started', '2:progress:a']);
    events.publish({ kind: 'round-failed', round: 2, site: '', message: '', record: null });
    expect(kinds(events, 2)).toEqual(['2:round-started', '2:round-failed']);
  });

  it('live watchers still get every progress event as it happens', () => {
    const events = new RoundEvents();
    const live: string[] = [];
    events.subscribe(0, (e) => live.push(e.kind));
    events.publish(progress(1, 'a'));
    events.publish({ kind: 'round-closed', round: 1, site: '', message: '', record: null });
    expect(live).toEqual(['progress', 'round-closed']);
  });

  it('replays only the last rounds it keeps (older ones are in the journal)', () => {
    const events = new RoundEvents(5000, 2);
    for (let r = 1; r <= 4; r++) {
      events.publish({ kind: 'round-started', round: r, site: '', message: '', record: null });
      events.publish({ kind: 'round-closed', round: r, site: '', message: '', record: null });
    }
    expect(kinds(events)).toEqual(['3:round-started', '3:round-closed', '4:round-started', '4:round-closed']);
  });

  it('holds at most its limit of events', () => {
    const events = new RoundEvents(3);
    for (let r = 1; r <= 5; r++) events.publish({ kind: 'round-started', round: r, site: '', message: '', record: null });
    expect(kinds(events)).toEqual(['3:round-started', '4:round-started', '5:round-started']);
  });
});
