import type { RoundEvent } from '../../shared/wire/index.js';
import { formatBytes, formatMetric } from '../progress/format.js';

/**
 * Progress of a simulation on stderr, one line at a time whatever the terminal: with hundreds of
 * sites a line (or bar) per site would bury what matters. A line says the round, sites done out
 * of the round's sites, bytes moved and seconds since the round began; at most one every
 * `intervalMs` while a round runs, and always one when it closes.
 */
export class SimulationProgress {
  private round = 0;
  private roundIndex = 0;
  private selected = 0;
  private done = 0;
  private failed = 0;
  private roundStart = 0;
  private lastLine = 0;
  private readonly bytes = new Map<string, { down: number; up: number }>();

  constructor(
    private readonly totalRounds: number,
    private readonly write: (line: string) => void,
    private readonly intervalMs = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  private moved(): number {
    let total = 0;
    for (const b of this.bytes.values()) total += b.down + b.up;
    return total;
  }

  private status(): string {
    const seconds = ((this.now() - this.roundStart) / 1000).toFixed(1);
    return `round ${this.round} (${this.roundIndex}/${this.totalRounds}): ${this.done}/${this.selected} sites done${this.failed ? `, ${this.failed} failed` : ''}, ${formatBytes(this.moved())} moved, ${seconds} s`;
  }

  handle(event: RoundEvent): void {
    switch (event.kind) {
      case 'round-started':
        this.round = event.round;
        this.roundIndex++;
        this.selected = event.record?.selected.length ?? 0;
        this.done = 0;
        this.failed = 0;
        this.bytes.clear();
        this.roundStart = this.now();
        this.lastLine = this.roundStart;
        this.write(`round ${event.round} (${this.roundIndex}/${this.totalRounds}) started: ${this.selected} sites`);
        return;
      case 'progress': {
        const p = event.progress;
        if (!p || p.round !== this.round) return;
        const b = this.bytes.get(event.site) ?? { down: 0, up: 0 };
        if (p.phase === 'downloading') b.down = Math.max(b.down, p.bytes);
        if (p.phase === 'uploading') b.up = Math.max(b.up, p.bytes);
        this.bytes.set(event.site, b);
        if (p.phase === 'done') this.done++;
        if (p.phase === 'failed') {
          this.failed++;
          this.write(`  ${event.site} failed: ${p.message}`);
        }
        const finished = this.done + this.failed === this.selected;
        if ((p.phase === 'done' || p.phase === 'failed') && (finished || this.now() - this.lastLine >= this.intervalMs)) {
          this.lastLine = this.now();
          this.write(this.status());
          // The coordinator holds a round open for every selected site until its deadline.
          if (finished && this.failed) this.write(`  ${this.failed} site(s) failed: round ${this.round} stays open until its deadline; their reasons are above and in the logs`);
        }
        return;
      }
      case 'update-rejected':
      case 'evaluation-rejected':
      case 'task-refused':
        this.write(`  ${event.message}`);
        return;
      case 'round-closed':
      case 'round-failed': {
        const r = event.record;
        const metrics = r && Object.keys(r.metrics).length ? ` | held-out AUROC ${formatMetric(r.metrics.auroc)}, accuracy ${formatMetric(r.metrics.accuracy)}, loss ${formatMetric(r.metrics.loss)}` : '';
        const seconds = r ? ((r.closedUnixMs - r.startedUnixMs) / 1000).toFixed(1) : '?';
        this.write(`round ${event.round} ${event.kind === 'round-closed' ? 'closed' : 'FAILED'} in ${seconds} s: ${event.message}${metrics}`);
        return;
      }
      default:
        return;
    }
  }
}
