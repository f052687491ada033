import type { RoundEvent } from '../../shared/wire/index.js';

type Listener = (event: RoundEvent) => void;

/** Events that end a round: after one, that round's progress reports are of no use to a watcher. */
const ROUND_ENDS = new Set(['round-closed', 'round-failed']);

/**
 * Round events for watchers (the CLI's progress display, the demo, the dashboard). Keeps a bounded
 * history so a watcher that attaches a little late still sees the run from its first round.
 * Per-site progress (epochs, bytes) is most of the traffic; it is kept only while its round is
 * open, so a long run's history holds what each round did rather than every progress tick of
 * rounds long closed (those filled the history and held the coordinator's memory up by megabytes).
 * Only the last `roundsKept` rounds are replayed; older ones are in the journal (`medley status`).
 */
export class RoundEvents {
  private readonly history: RoundEvent[] = [];
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly limit = 5000,
    private readonly roundsKept = 50,
  ) {}

  publish(event: Omit<RoundEvent, 'unixMs'>): void {
    const full: RoundEvent = { ...event, unixMs: Date.now() };
    if (ROUND_ENDS.has(full.kind)) this.forget(full.round);
    this.history.push(full);
    if (this.history.length > this.limit) this.history.splice(0, this.history.length - this.limit);
    for (const listener of this.listeners) listener(full);
  }

  /** Round `ended` ended: drop its progress (and everything of rounds too old to replay). */
  private forget(ended: number): void {
    const oldest = ended - this.roundsKept + 1;
    let kept = 0;
    for (const event of this.history) {
      if (event.round >= oldest && (event.kind !== 'progress' || event.round > ended)) this.history[kept++] = event;
    }
    this.history.length = kept;
  }

  /** Replays history from `fromRound` on, then delivers live events. Returns the unsubscribe. */
  subscribe(fromRound: number, listener: Listener): () => void {
    for (const event of this.history) if (event.round >= fromRound) listener(event);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
