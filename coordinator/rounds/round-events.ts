import type { RoundEvent } from '../../shared/wire/index.js';

type Listener = (event: RoundEvent) => void;

/**
 * Round events for watchers (the CLI's progress display, the demo). Keeps a bounded history so a
 * watcher that attaches a little late still sees the run from its first round.
 */
export class RoundEvents {
  private readonly history: RoundEvent[] = [];
  private readonly listeners = new Set<Listener>();

  constructor(private readonly limit = 5000) {}

  publish(event: Omit<RoundEvent, 'unixMs'>): void {
    const full: RoundEvent = { ...event, unixMs: Date.now() };
    this.history.push(full);
    if (this.history.length > this.limit) this.history.splice(0, this.history.length - this.limit);
    for (const listener of this.listeners) listener(full);
  }

  /** Replays history from `fromRound` on, then delivers live events. Returns the unsubscribe. */
  subscribe(fromRound: number, listener: Listener): () => void {
    for (const event of this.history) if (event.round >= fromRound) listener(event);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
