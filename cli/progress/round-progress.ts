import cliProgress from 'cli-progress';
import type { RoundEvent } from '../../shared/wire/index.js';
import { formatBytes, formatMetric } from './format.js';

interface SiteLine {
  phase: string;
  epoch: number;
  epochs: number;
  bytes: number;
  totalBytes: number;
}

/**
 * Shows a run as it goes: round, sites done, bytes moved, local epochs. On a terminal it draws
 * live bars (cli-progress); otherwise (CI, `--json`, a log file) it prints one line per change.
 */
export class RoundProgress {
  private readonly sites = new Map<string, SiteLine>();
  private multibar: cliProgress.MultiBar | null = null;
  private roundBar: cliProgress.SingleBar | null = null;
  private readonly siteBars = new Map<string, cliProgress.SingleBar>();
  private roundsDone = 0;
  private bytesMoved = 0;
  private sitesDone = 0;
  private selected = 0;
  private round = 0;

  constructor(
    private readonly totalRounds: number,
    private readonly firstRound: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    if (out.isTTY) {
      this.multibar = new cliProgress.MultiBar(
        { stream: out, clearOnComplete: false, hideCursor: true, format: ' {label} |{bar}| {value}/{total} {info}', barsize: 24 },
        cliProgress.Presets.shades_classic,
      );
      this.roundBar = this.multibar.create(totalRounds, 0, { label: 'rounds'.padEnd(12), info: '' });
    }
  }

  private line(text: string): void {
    if (this.multibar) this.multibar.log(text + '\n');
    else this.out.write(text + '\n');
  }

  private refreshRoundBar(): void {
    this.roundBar?.update(this.roundsDone, {
      info: `round ${this.round}: ${this.sitesDone}/${this.selected} sites done, ${formatBytes(this.bytesMoved)} moved`,
    });
  }

  handle(event: RoundEvent): void {
    switch (event.kind) {
      case 'round-started': {
        this.round = event.round;
        this.sitesDone = 0;
        this.selected = event.record?.selected.length ?? 0;
        for (const site of event.record?.selected ?? []) this.sites.set(site, { phase: 'waiting', epoch: 0, epochs: 0, bytes: 0, totalBytes: 0 });
        this.line(`round ${event.round} (${event.round - this.firstRound + 1}/${this.totalRounds}) started: ${event.message}`);
        break;
      }
      case 'progress': {
        const p = event.progress;
        if (!p) break;
        const site = this.sites.get(event.site) ?? { phase: '', epoch: 0, epochs: 0, bytes: 0, totalBytes: 0 };
        const changed = site.phase !== p.phase || site.epoch !== p.epoch;
        if (p.phase === 'downloading' || p.phase === 'uploading') {
          this.bytesMoved += Math.max(0, p.bytes - (site.phase === p.phase ? site.bytes : 0));
          site.bytes = p.bytes;
          site.totalBytes = p.totalBytes;
        }
        site.phase = p.phase;
        site.epoch = p.epoch;
        site.epochs = p.epochs;
        this.sites.set(event.site, site);
        if (p.phase === 'done') this.sitesDone++;
        this.drawSite(event.site, site, p.message);
        if (changed && !this.multibar) {
          const detail = p.phase === 'training' ? ` epoch ${p.epoch}/${p.epochs}` : p.totalBytes ? ` ${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)}` : '';
          this.line(`  ${event.site}: ${p.phase}${detail}${p.message ? ` — ${p.message}` : ''}`);
        }
        break;
      }
      case 'update-rejected':
        this.line(`  update refused: ${event.message}`);
        break;
      case 'evaluation-rejected':
        this.line(`  evaluation refused: ${event.message}`);
        break;
      case 'round-closed':
      case 'round-failed': {
        this.roundsDone++;
        const r = event.record;
        const metrics = r && Object.keys(r.metrics).length
          ? ` | held-out AUROC ${formatMetric(r.metrics.auroc)} AUPRC ${formatMetric(r.metrics.auprc)} acc ${formatMetric(r.metrics.accuracy)} loss ${formatMetric(r.metrics.loss)}`
          : '';
        const seconds = r ? ` in ${((r.closedUnixMs - r.startedUnixMs) / 1000).toFixed(1)}s` : '';
        this.line(`round ${event.round} ${event.kind === 'round-closed' ? 'closed' : 'FAILED'}${seconds}: ${event.message}${metrics}`);
        break;
      }
      default:
        break;
    }
    this.refreshRoundBar();
  }

  /** A site's bar counts epochs while it trains and bytes while it downloads or uploads. */
  private drawSite(name: string, site: SiteLine, message: string): void {
    if (!this.multibar) return;
    let bar = this.siteBars.get(name);
    if (!bar) {
      // No {value}/{total} on a site's bar: its total switches between epochs and bytes; info says which.
      bar = this.multibar.create(Math.max(1, site.epochs), 0, { label: name.slice(0, 12).padEnd(12), info: '' }, { format: ' {label} |{bar}| {info}' });
      this.siteBars.set(name, bar);
    }
    const moving = (site.phase === 'downloading' || site.phase === 'uploading') && site.totalBytes > 0;
    bar.setTotal(moving ? site.totalBytes : Math.max(1, site.epochs));
    const info = site.phase === 'training'
      ? `epoch ${site.epoch}/${site.epochs}`
      : moving
        ? `${site.phase} ${formatBytes(site.bytes)}/${formatBytes(site.totalBytes)}`
        : `${site.phase}${message ? ` ${message}` : ''}`;
    const value = moving ? site.bytes : site.phase === 'training' ? site.epoch : site.phase === 'done' ? site.epochs : 0;
    bar.update(value, { info });
  }

  stop(): void {
    this.multibar?.stop();
  }
}
