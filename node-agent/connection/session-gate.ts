/**
 * Which control session with the coordinator is up, if any. Downloads and uploads carry the id of
 * the session they run under, and the coordinator refuses one whose session is gone. When a link
 * drops, the session and the transfer drop together; a transfer that retries at once would go out
 * under the dead session's id and be refused, failing the task. So a retry first waits here for
 * the agent to be welcomed again, and a refusal of a session that has since ended counts as one
 * more interruption, not as a verdict on the site.
 */
export class SessionGate {
  private id: string | null = null;
  private readonly waiters = new Set<() => void>();

  /** The id of the session that is up now, or null between sessions. */
  get current(): string | null {
    return this.id;
  }

  /** The coordinator welcomed the agent on a session with this id. */
  open(id: string): void {
    this.id = id;
    for (const wake of [...this.waiters]) wake();
  }

  /** The session ended (the link dropped, or the coordinator closed it). */
  close(): void {
    this.id = null;
  }

  /** True when a transfer made under session `used` was refused because that session had ended. */
  outlived(used: string): boolean {
    return this.id !== used;
  }

  /**
   * The id of the live session, waiting for the next welcome when there is none. Rejects when
   * `signal` aborts or no session comes up before `untilUnixMs` (the round's deadline).
   */
  wait(signal: AbortSignal, untilUnixMs: number): Promise<string> {
    if (this.id !== null) return Promise.resolve(this.id);
    return new Promise<string>((resolve, reject) => {
      const finish = (err?: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(wake);
        if (err !== undefined) reject(err);
        else resolve(this.id!);
      };
      const wake = () => finish();
      const onAbort = () => finish(signal.reason ?? new Error('aborted'));
      const timer = setTimeout(
        () => finish(new Error('the link to the coordinator did not come back before the round\'s deadline; the task is given up')),
        Math.max(0, untilUnixMs - Date.now()),
      );
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(wake);
    });
  }
}
