/**
 * Training slots shared by the simulated sites of one thread. A site takes a slot before it
 * downloads the model and gives it back after its upload, so however many sites a thread hosts,
 * only `size` of them hold a model, data and optimiser state at once.
 */
export class SlotPool {
  private held = 0;
  private most = 0;
  private readonly waiting: { grant: () => void; signal: AbortSignal; onAbort: () => void }[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a slot pool needs at least one slot, got ${size}`);
  }

  /** The most slots ever held at the same time (checks the bound the pool promises). */
  get peak(): number {
    return this.most;
  }

  get inUse(): number {
    return this.held;
  }

  /** Resolves with the slot's release function; rejects with the signal's reason if it aborts first. */
  acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.held < this.size) return Promise.resolve(this.take());
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal.removeEventListener('abort', entry.onAbort);
          resolve(this.take());
        },
        signal,
        onAbort: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal.reason instanceof Error ? signal.reason : new Error('the task was cancelled while it waited for a training slot'));
        },
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private take(): () => void {
    this.held++;
    this.most = Math.max(this.most, this.held);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      // First come, first served: sites train in the order their tasks arrived.
      this.waiting.shift()?.grant();
    };
  }
}
