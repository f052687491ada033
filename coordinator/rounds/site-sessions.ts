import { EventEmitter } from 'node:events';
import type { ControlChannel } from '../../shared/bus/index.js';
import type { CoordinatorMessage, Progress } from '../../shared/wire/index.js';

export type SiteState = 'idle' | 'training' | 'evaluating';

/** One agent's live control session, on whichever transport carries it (gRPC stream or NATS). */
export interface SiteSession extends ControlChannel<CoordinatorMessage> {
  readonly site: string;
  readonly sessionId: string;
  readonly backend: string;
  readonly trainExamples: number;
  readonly connectedAt: number;
  lastSeen: number;
  state: SiteState;
}

interface SessionEvents {
  connected: [SiteSession];
  disconnected: [SiteSession];
  progress: [SiteSession, Progress];
}

/**
 * The sites connected right now, one session each. A site that reconnects replaces its old
 * session (the old stream is closed), so a flapping link never counts a site twice.
 */
export class SiteSessions extends EventEmitter<SessionEvents> {
  private readonly bySite = new Map<string, SiteSession>();
  private readonly lastSeenBySite = new Map<string, number>();

  register(session: SiteSession): void {
    const previous = this.bySite.get(session.site);
    this.bySite.set(session.site, session);
    if (previous && previous.sessionId !== session.sessionId) previous.close('replaced by a newer session of the same site');
    this.emit('connected', session);
  }

  unregister(session: SiteSession): void {
    this.lastSeenBySite.set(session.site, session.lastSeen);
    if (this.bySite.get(session.site)?.sessionId === session.sessionId) {
      this.bySite.delete(session.site);
      this.emit('disconnected', session);
    }
  }

  get(site: string): SiteSession | undefined {
    return this.bySite.get(site);
  }

  connected(): SiteSession[] {
    return [...this.bySite.values()].sort((a, b) => a.site.localeCompare(b.site));
  }

  lastSeen(site: string): number {
    return this.bySite.get(site)?.lastSeen ?? this.lastSeenBySite.get(site) ?? 0;
  }
}
